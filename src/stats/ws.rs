//! WebSocket counts of a row: sockets opened and closed, messages and bytes each way, and
//! messages that arrived but did not match what a `receive` waited for.

use serde::{Deserialize, Serialize};

/// What one WebSocket step (or a socket's end) counted; the same fields sum in a delta.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsCounts {
    pub opened: u64,
    pub closed: u64,
    pub sent: u64,
    pub received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Messages a `receive` skipped (they did not match).
    pub unmatched: u64,
}

impl WsCounts {
    pub(crate) fn add(&mut self, o: &WsCounts) {
        self.opened += o.opened;
        self.closed += o.closed;
        self.sent += o.sent;
        self.received += o.received;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.unmatched += o.unmatched;
    }

    pub(crate) fn is_zero(&self) -> bool {
        *self == WsCounts::default()
    }

    /// The snapshot's view, with rates over `secs` of run.
    pub(crate) fn stats(&self, secs: f64) -> WsStats {
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        WsStats {
            opened: self.opened,
            closed: self.closed,
            open: self.opened.saturating_sub(self.closed),
            sent: self.sent,
            received: self.received,
            sent_per_s: per_s(self.sent),
            received_per_s: per_s(self.received),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            unmatched: self.unmatched,
        }
    }
}

/// A row's WebSocket figures, as reports show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WsStats {
    pub opened: u64,
    pub closed: u64,
    /// Opened and not closed yet (on the aggregate: the sockets open now).
    pub open: u64,
    pub sent: u64,
    pub received: u64,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub unmatched: u64,
}

//! Signals that ask swarm to stop, as one stream: the headless runner listens for Ctrl-C,
//! SIGTERM and SIGHUP; the TUI (where Ctrl-C is a key) for SIGTERM and SIGHUP.

/// Signal streams kept for a whole run, so a signal that arrives between two polls is
/// still seen (a fresh `ctrl_c()` per poll can miss one).
pub(crate) struct Signals {
    #[cfg(unix)]
    streams: Vec<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Ctrl-C (SIGINT), SIGTERM and SIGHUP.
    pub(crate) fn stop_requests() -> Signals {
        Signals::listen(true)
    }

    /// SIGHUP alone: the terminal closed (the SSH link dropped).
    pub(crate) fn hangup() -> Signals {
        Signals::of(&[tokio::signal::unix::SignalKind::hangup()])
    }

    /// SIGTERM alone.
    pub(crate) fn terminate() -> Signals {
        Signals::of(&[tokio::signal::unix::SignalKind::terminate()])
    }

    fn of(kinds: &[tokio::signal::unix::SignalKind]) -> Signals {
        Signals {
            streams: kinds
                .iter()
                .filter_map(|k| tokio::signal::unix::signal(*k).ok())
                .collect(),
        }
    }

    #[cfg(unix)]
    fn listen(interrupt: bool) -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        let mut kinds = vec![SignalKind::terminate(), SignalKind::hangup()];
        if interrupt {
            kinds.push(SignalKind::interrupt());
        }
        Signals {
            streams: kinds.into_iter().filter_map(|k| signal(k).ok()).collect(),
        }
    }

    #[cfg(not(unix))]
    fn listen(_interrupt: bool) -> Signals {
        Signals {}
    }

    /// Resolves at the next signal.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        {
            if self.streams.is_empty() {
                return std::future::pending().await;
            }
            let any = self.streams.iter_mut().map(|s| Box::pin(s.recv()));
            futures_util::future::select_all(any).await;
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

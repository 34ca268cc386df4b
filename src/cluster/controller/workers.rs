//! The coordinator's side of its workers: a hello answered with a segment (or refused),
//! each report merged, a worker lost (missing reports, a closed connection, its process
//! ended) and the load split again over the others.

use super::*;
use crate::cluster::{MISSING_AFTER, VERSION, tokens_match};
use crate::stats::Delta;

impl Coordinator {
    /// One of `--processes`' workers ended while the controller still ran. Before the
    /// start it would never join: the wait ends, with what it said. After, its closed
    /// connection has the usual consequences; this only adds its words.
    pub(super) fn process_exited(&mut self, x: crate::cluster::local::Exited) {
        let text = format!("worker process {} ended: {}", x.index, x.why);
        if self.clock.is_none() && self.state != RunState::Stopped {
            say!(self.cfg.quiet, "swarm: {text}; not starting the run");
            self.lost.get_or_insert(text);
            self.start_wanted = false;
            self.state = RunState::Stopped;
            self.publish();
        } else if self.state != RunState::Stopped {
            say!(self.cfg.quiet, "swarm: {text}");
        }
    }

    pub(super) fn index_of(&self, conn: u64) -> Option<usize> {
        self.workers
            .iter()
            .position(|w| w.as_ref().is_some_and(|w| w.conn == conn && !w.missing))
    }

    pub(super) fn hello(&mut self, conn: u64, h: proto::Hello) {
        let Some((out, peer)) = self.pending.remove(&conn) else {
            return;
        };
        // The worker's name, and its address as this side sees it.
        let host = match peer {
            Some(p) => format!("{} ({})", h.host, p.ip()),
            None => h.host.clone(),
        };
        let index = match self.place(&h) {
            Ok(i) => i,
            Err(why) => {
                say!(self.cfg.quiet, "swarm: refused a worker from {host}: {why}");
                let _ = out.try_send(Ok(ToWorker {
                    msg: Some(to_worker::Msg::Refused(why)),
                }));
                return;
            }
        };
        let n = self.workers.len();
        let now_wall = wall_us();
        let offset_us = h.wall_us as i64 - now_wall as i64;
        let welcome = proto::Welcome {
            index: index as u32,
            count: n as u32,
            scenario: self.cfg.scenario.clone(),
            file_name: self.cfg.file_name.clone(),
            files: self.cfg.files.clone(),
            hash: self.hash.clone(),
            wall_us: now_wall,
            host: self.plan.host.clone(),
            overrides: serde_json::to_string(&crate::cluster::Overrides::of(&self.plan))
                .unwrap_or_default(),
        };
        let _ = out.try_send(Ok(ToWorker {
            msg: Some(to_worker::Msg::Welcome(welcome)),
        }));
        let worker = Worker::new(conn, host.clone(), out, offset_us);
        let rejoin = self.workers[index].is_some();
        say!(
            self.cfg.quiet,
            "swarm: worker {index} {} from {host} ({}/{n} workers connected)",
            if rejoin { "rejoined" } else { "joined" },
            self.joined() + 1
        );
        // A worker that rejoins a run under way starts at once, with its segment.
        let under_way =
            self.clock.is_some() && matches!(self.state, RunState::Spawning | RunState::Running);
        if under_way {
            self.orders_for_start(&worker, wall_us());
        }
        self.workers[index] = Some(worker);
        if under_way && self.degraded {
            // The others carried its share: the load is split over all again.
            self.resegment();
        }
        self.maybe_start();
    }

    /// The segment a worker that says hello takes, or why it is refused: another
    /// version, a wrong token, a segment out of range or taken, no free segment.
    pub(super) fn place(&self, h: &proto::Hello) -> Result<usize, String> {
        if h.version != VERSION {
            return Err(format!(
                "the controller runs swarm {VERSION} and the worker swarm {}; run the same version on both",
                h.version
            ));
        }
        if let Some(token) = &self.cfg.token
            && !tokens_match(&h.token, token)
        {
            return Err("wrong token: give the worker the controller's --token-file".to_string());
        }
        let n = self.workers.len();
        let free = |w: &Option<Worker>| w.as_ref().is_none_or(|w| w.missing);
        if h.index < 0 {
            return (self.workers.iter().position(free))
                .ok_or_else(|| format!("all {n} workers are connected"));
        }
        let i = h.index as usize;
        if i >= n {
            return Err(format!(
                "it asked for segment {i}, but the run has {n} worker{} (0 to {})",
                if n == 1 { "" } else { "s" },
                n - 1
            ));
        }
        if !free(&self.workers[i]) {
            return Err(format!("segment {i} already has a worker"));
        }
        Ok(i)
    }

    pub(super) fn report(&mut self, conn: u64, r: proto::Report) {
        let Some(i) = self.index_of(conn) else {
            return;
        };
        let now = Instant::now();
        let delta = if r.delta.is_empty() {
            Delta::default()
        } else {
            match serde_json::from_slice::<Delta>(&r.delta) {
                Ok(d) => d,
                Err(e) => {
                    self.lose(i, &format!("it sent a report that does not read: {e}"));
                    return;
                }
            }
        };
        let w = self.workers[i].as_mut().expect("index_of found it");
        let requests: u64 = delta.rows.iter().map(|r| r.requests).sum();
        if self.clock.is_some() {
            w.requests += requests;
        }
        w.last_heard = now;
        w.state = parse_state(&r.state);
        w.users = r.users;
        // The worker sends 0 until its engine has started this run.
        w.peak_users = w.peak_users.max(r.peak_users);
        w.run_clock_ms = r.run_clock_ms;
        w.stopped_users = r.stopped_users;
        w.scheduled = r.scheduled;
        w.dropped = r.dropped;
        w.cpu_percent = r.cpu_percent;
        w.think_late_p99_ms = r.think_late_p99_ms;
        w.leaving |= r.leaving;
        if r.leaving && matches!(parse_state(&r.state), RunState::Stopped | RunState::Idle) {
            // Its last report is in: it may go.
            Self::send(&w.out, order::What::Bye(true));
        }
        w.offset_us = r.wall_us as i64 - wall_us() as i64;
        let mark = self.stats.window_id();
        if let (Some(dw), Some(part)) = (delta.window, w.window.as_mut())
            && Some(dw.id) == mark
        {
            part.0 += requests;
            part.1 = Duration::from_micros(dw.elapsed_us);
            self.stats
                .note_tick_lateness(Duration::from_micros(dw.max_tick_late_us));
        }
        if self.clock.is_some() {
            let users = self.live().map(|w| w.users).sum();
            self.stats.apply_owned(delta, now.into_std(), users);
            self.cover_window();
        }
    }

    /// The open window covers what every worker there at the mark has reported of it: the
    /// shortest of their spans, and their rates summed, each over its own span.
    pub(super) fn cover_window(&mut self) {
        let parts: Vec<(u64, Duration)> = self.live().filter_map(|w| w.window).collect();
        if parts.is_empty() {
            return;
        }
        let covered = parts.iter().map(|p| p.1).min().unwrap_or_default();
        let rps = parts
            .iter()
            .filter(|p| !p.1.is_zero())
            .map(|p| p.0 as f64 / p.1.as_secs_f64())
            .sum();
        self.stats.set_window_coverage(covered, rps);
    }

    /// A worker went missing (its connection closed, or it fell silent).
    pub(super) fn lose(&mut self, i: usize, why: &str) {
        let Some(w) = self.workers[i].as_mut() else {
            return;
        };
        if w.missing {
            return;
        }
        w.missing = true;
        let (host, lost_users) = (w.host.clone(), w.users);
        let running = self.clock.is_some()
            && matches!(
                self.state,
                RunState::Spawning | RunState::Running | RunState::Stopping
            )
            && (w.state != RunState::Stopped || w.leaving);
        if !running {
            say!(self.cfg.quiet, "swarm: worker {i} ({host}) left: {why}");
            return;
        }
        let now = Instant::now();
        let clock = self.clock.map_or(Duration::ZERO, |c| c.plan_time(now));
        // A worker that said goodbye after its last report took nothing along.
        let complete = w.leaving && matches!(w.state, RunState::Stopped | RunState::Idle);
        let unreported = if complete {
            Duration::ZERO
        } else {
            now.saturating_duration_since(w.last_heard)
        };
        self.lost_workers.push(crate::stats::LostWorker {
            index: i as u32,
            host: host.clone(),
            lost_at_s: clock.as_secs_f64(),
            unreported_s: unreported.as_secs_f64(),
            why: why.to_string(),
        });
        // From its loss on, it runs no users, and its peak no longer counts toward the
        // swarm's: the others may now carry its share.
        let before: u32 = self.live().map(|w| w.users).sum::<u32>() + lost_users;
        self.peak_users = self.peak_users.max(before);
        if let Some(w) = self.workers[i].as_mut() {
            w.users = 0;
            w.peak_users = 0;
        }
        let text = format!(
            "worker {i} ({host}) was lost {} into the run: {why}",
            crate::scenario::format_duration(Duration::from_secs(clock.as_secs()))
        );
        if self.cfg.tolerate_loss && self.joined() > 0 {
            say!(
                self.cfg.quiet,
                "swarm: {text}; the other {} carry its share (--tolerate-worker-loss)",
                self.joined()
            );
            self.lost.get_or_insert(text);
            self.degraded = true;
            self.resegment();
            return;
        }
        say!(self.cfg.quiet, "swarm: {text}; stopping the run");
        self.lost.get_or_insert(text);
        self.stop();
    }

    /// Splits the load over the workers there are now, in segment order, and sends each
    /// its new share of the swarm's figures.
    pub(super) fn resegment(&self) {
        let live: Vec<&Worker> = self.live().collect();
        let count = live.len() as u32;
        for (rank, w) in live.into_iter().enumerate() {
            Self::send(
                &w.out,
                order::What::Resegment(proto::Segment {
                    index: rank as u32,
                    count,
                }),
            );
            match self.load.arrival_rate {
                Some(r) => Self::send(&w.out, order::What::SetArrivalRate(r)),
                None => {
                    Self::send(&w.out, order::What::SetSpawnRate(self.load.spawn_rate));
                    Self::send(&w.out, order::What::SetUsers(self.load.users));
                }
            }
        }
    }

    pub(super) fn check_missing(&mut self) {
        let now = Instant::now();
        let silent: Vec<usize> = self
            .workers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                w.as_ref()
                    .filter(|w| {
                        !w.missing && now.saturating_duration_since(w.last_heard) > MISSING_AFTER
                    })
                    .map(|_| i)
            })
            .collect();
        for i in silent {
            self.lose(i, &format!("no report for {} s", MISSING_AFTER.as_secs()));
        }
    }
}

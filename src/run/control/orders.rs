//! What the control endpoint does with an order: the engine commands it stands for (an
//! edit loaded as the first text was, a pause that remembers what to resume), refused
//! while a capacity search sets the load, and the list of controls the reports show.

use super::wire::{self, LaunchInfo, Order};
use super::{OWNER, Shared};
use crate::engine::Command;
use crate::scenario::{DocParts, ScenarioDoc};
use crate::stats::ControlEvent;
use std::time::Duration;

/// What a `pause` took away, for `resume` to bring back.
#[derive(Debug, Clone, Copy)]
pub(super) enum Held {
    Users(u32),
    Rate(f64),
}

impl Shared {
    /// Records a control: a run of the same kind from the same client within a few
    /// seconds (a held `+` key) is one line, with its latest value.
    fn record(&self, who: &str, order: &Order) {
        // The terminal that started a TUI's run is its TUI, not a control from elsewhere.
        if !matches!(order, Order::MarkWindow) && !who.starts_with(OWNER) {
            self.note(who, order.describe());
        }
    }

    fn note(&self, who: &str, what: String) {
        let at_s = self.snapshots.borrow().run_clock.as_secs_f64();
        let mut list = self.controls.lock().expect("controls");
        if let Some(last) = list.last_mut()
            && last.who == who
            && at_s - last.at_s < 3.0
            && same_kind(&last.what, &what)
        {
            last.what = what;
            return;
        }
        list.push(ControlEvent {
            at_s,
            who: who.to_string(),
            what,
        });
    }

    /// Carries out one order from `who`; Err is (status, why).
    pub(crate) fn apply(&self, who: &str, order: Order) -> Result<String, (u16, String)> {
        let sets_load = matches!(
            order,
            Order::Users { .. }
                | Order::SpawnRate { .. }
                | Order::ArrivalRate { .. }
                | Order::PausePlan
                | Order::ResumePlan
                | Order::Start
        );
        if sets_load {
            self.refuse_if_steered()?;
        }
        if let Order::Users { users } = order {
            self.refuse_beyond_memory(users)?;
        }
        if let Order::Edit {
            text,
            workload,
            stages,
        } = &order
        {
            self.edit(text, *workload, *stages)?;
        } else if let Some(c) = order.command() {
            if matches!(c, Command::Stop) && (self.idle_tui() || self.steered_by.is_some()) {
                // A TUI's run that never started ends when stopped (nothing else would);
                // a capacity search ends as when interrupted.
                self.quit.send_replace(true);
            }
            self.send(c);
        }
        self.record(who, &order);
        Ok(order.describe())
    }

    fn send(&self, c: Command) {
        if let Some(tx) = self.commands.upgrade() {
            let _ = tx.send(c);
        }
    }

    fn idle_tui(&self) -> bool {
        self.desc.front == "tui" && self.snapshots.borrow().state == crate::stats::RunState::Idle
    }

    /// An edit from a TUI: the text loads as the first did (its host, the command line's
    /// selection and `--timeout`); a text that does not load changes nothing.
    fn edit(&self, text: &str, workload: bool, stages: bool) -> Result<(), (u16, String)> {
        let mut launch = self.launch.lock().expect("launch");
        let edited = DocParts {
            text: text.to_string(),
            ..launch.doc.clone()
        };
        // Loaded as the TUI's own document loads it (its file's name, its --host).
        let mut plan = ScenarioDoc::from_parts(launch.path.clone(), edited)
            .and_then(|doc| doc.plan())
            .map_err(|e| (422, format!("the edited scenario does not load: {e}")))?;
        launch
            .overrides
            .apply_selection(&mut plan)
            .map_err(|e| (422, format!("the edited scenario: {e}")))?;
        launch.doc.text = text.to_string();
        drop(launch);
        self.send(Command::SetScenarioText(text.to_string()));
        if stages {
            self.send(Command::SetStages(plan.load.stages.clone()));
        }
        if workload {
            self.send(Command::SetWorkload(Box::new(plan)));
        }
        Ok(())
    }

    /// `pause`: the traffic goes to none (users, or the arrival rate, to 0 at the spawn
    /// rate) and the load plan's clock holds; `resume` brings back what was there.
    pub(crate) fn pause(&self, who: &str) -> Result<String, (u16, String)> {
        self.refuse_if_steered()?;
        let snap = self.snapshots.borrow().clone();
        let mut held = self.held.lock().expect("held");
        if held.is_some() {
            return Ok("already paused (swarm resume)".into());
        }
        let (h, none) = match &snap.arrivals {
            Some(a) => (Held::Rate(a.rate), Command::SetArrivalRate(0.0)),
            None => (Held::Users(snap.target_users), Command::SetUsers(0)),
        };
        *held = Some(h);
        drop(held);
        self.send(Command::PausePlan);
        self.send(none);
        let what = format!("paused: {}", describe_held(h, true));
        self.note(who, what.clone());
        Ok(what)
    }

    pub(crate) fn resume(&self, who: &str) -> Result<String, (u16, String)> {
        self.refuse_if_steered()?;
        let Some(h) = self.held.lock().expect("held").take() else {
            return Ok("not paused".into());
        };
        self.send(match h {
            Held::Users(n) => Command::SetUsers(n),
            Held::Rate(r) => Command::SetArrivalRate(r),
        });
        self.send(Command::ResumePlan);
        let what = format!("resumed: {}", describe_held(h, false));
        self.note(who, what.clone());
        Ok(what)
    }

    pub(crate) fn scale(&self, who: &str, s: &wire::Scale) -> Result<String, (u16, String)> {
        self.refuse_if_steered()?;
        let open = self.snapshots.borrow().arrivals.is_some();
        let mut orders = Vec::new();
        if let Some(r) = s.spawn_rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err((400, format!("spawn_rate {r}: give a number above 0")));
            }
            orders.push(Order::SpawnRate { spawn_rate: r });
        }
        match (s.users, s.arrival_rate, open) {
            (_, Some(r), _) if !(r >= 0.0 && r.is_finite()) => {
                return Err((400, format!("arrival_rate {r}: give a number, 0 or above")));
            }
            (_, Some(_), false) => {
                return Err((
                    409,
                    "this run has users, not an arrival rate: scale it with users (-u)".into(),
                ));
            }
            (_, Some(r), true) => orders.push(Order::ArrivalRate { arrival_rate: r }),
            (Some(n), None, _) => orders.push(Order::Users { users: n }),
            (None, None, _) if orders.is_empty() => {
                return Err((400, "give users, spawn_rate or arrival_rate".into()));
            }
            (None, None, _) => {}
        }
        // A scale ends a pause: the new figures are what the user wants now.
        self.held.lock().expect("held").take();
        let mut done = Vec::new();
        for o in orders {
            done.push(self.apply(who, o)?);
        }
        Ok(done.join("; "))
    }

    /// A run in this process refuses users its memory cannot hold (a typo's extra zeros
    /// in `swarm scale -u` would have had the kernel kill it, its figures lost); a
    /// distributed run's users are its workers'.
    fn refuse_beyond_memory(&self, users: u32) -> Result<(), (u16, String)> {
        let snap = self.snapshots.borrow().clone();
        if snap.workers_wanted > 0 {
            return Ok(());
        }
        match crate::doctor::beyond_memory(users.into(), snap.users.into()) {
            Some(why) => Err((400, why)),
            None => Ok(()),
        }
    }

    fn refuse_if_steered(&self) -> Result<(), (u16, String)> {
        match self.steered_by {
            Some(what) => Err((
                409,
                format!("{what} sets the load of this run; stop it instead"),
            )),
            None => Ok(()),
        }
    }

    /// The HTTP stop: the load stops; a TUI's run that never started ends.
    pub(crate) fn stop(&self, who: &str) -> Result<String, (u16, String)> {
        self.apply(who, Order::Stop)
    }

    /// The run ends (a TUI's quit): the load stops and the owner writes the reports.
    pub(crate) fn quit(&self, who: &str) -> String {
        self.send(Command::Stop);
        self.record(who, &Order::Stop);
        self.quit.send_replace(true);
        "the run ends".into()
    }

    pub(crate) fn launch(&self) -> LaunchInfo {
        self.launch.lock().expect("launch").clone()
    }

    /// The launch, once the run has set it (at most 10 s: then as it is).
    pub(crate) async fn launch_when_set(&self) -> LaunchInfo {
        let mut set = self.launch_set.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(10), set.wait_for(|s| *s)).await;
        self.launch()
    }
}

fn describe_held(h: Held, paused: bool) -> String {
    let (from, to) = if paused {
        ("from", "to none")
    } else {
        ("back to", "")
    };
    match h {
        Held::Users(n) => format!("users {from} {n} {to}").trim().to_string(),
        Held::Rate(r) => format!("arrival rate {from} {r}/s {to}").trim().to_string(),
    }
}

/// Two descriptions of the same kind of control ("set the users to 5", "... to 6").
fn same_kind(a: &str, b: &str) -> bool {
    let head = |s: &str| s.split(" to ").next().unwrap_or(s).to_string();
    a.contains(" to ") && head(a) == head(b)
}

//! `[load]` and its stages: users, spawn rate or arrival rate, run time, think time.

use super::*;

impl Validator<'_> {
    pub(super) fn load(&self, raw: RawLoad) -> Result<Load> {
        let mut load = Load::default();
        if let Some(u) = &raw.users {
            load.users = self.integer(u, "load.users", 1)? as u32;
        }
        load.spawn_rate = match &raw.spawn_rate {
            Some(r) => self.spawn_rate(r, "load.spawn_rate")?,
            None => f64::from(load.users).max(1.0),
        };
        if let Some(t) = &raw.run_time {
            load.run_time = Some(self.positive_duration(t, "load.run_time")?);
        }
        if let Some(w) = &raw.wait {
            load.wait = self.wait(w, "load.wait")?;
        }
        if let Some(n) = &raw.iterations {
            load.max_iterations = Some(self.integer(n, "load.iterations", 1)? as u64);
        }
        load.stop_timeout = match &raw.stop_timeout {
            Some(t) => self.duration(t, "load.stop_timeout")?,
            None => DEFAULT_STOP_TIMEOUT,
        };
        if let Some(r) = &raw.arrival_rate {
            let rate = self.rate(r, "load.arrival_rate")?;
            if rate == 0.0 && raw.stages.as_ref().is_none_or(Vec::is_empty) {
                return Err(self.err(
                    r.span(),
                    "load.arrival_rate",
                    "0/s would start no iteration at all; give a rate above 0, e.g. \"10/s\", or [[load.stages]] that ramp up from it",
                ));
            }
            load.arrival_rate = Some(rate);
        }
        load.stages = self.stages(&raw)?;
        if load.stages.iter().any(|s| s.arrival_rate.is_some()) && load.arrival_rate.is_none() {
            // k6's ramping-arrival-rate starts from 0 unless told otherwise.
            load.arrival_rate = Some(0.0);
        }
        self.one_model(&raw, load.is_open())?;
        if let Some(m) = &raw.max_users {
            load.max_users = self.integer(m, "load.max_users", 1)? as u32;
        }
        load.queue_timeout = match &raw.queue_timeout {
            Some(t) => self.positive_duration(t, "load.queue_timeout")?,
            None => DEFAULT_QUEUE_TIMEOUT,
        };
        if load.run_time.is_none() && !load.stages.is_empty() {
            load.run_time = Some(load.stages.iter().map(|s| s.duration).sum());
        }
        Ok(load)
    }

    /// `[[load.stages]]`: all user stages, or all arrival-rate stages.
    fn stages(&self, raw: &RawLoad) -> Result<Vec<Stage>> {
        let mut stages: Vec<Stage> = Vec::new();
        for (i, stage) in raw.stages.iter().flatten().enumerate() {
            let key = format!("load.stages[{i}]");
            let st = self.stage(stage, &key)?;
            let first_open = stages.first().map(|s: &Stage| s.arrival_rate.is_some());
            if first_open.is_some_and(|open| open != st.arrival_rate.is_some()) {
                return Err(self.err(
                    stage.span(),
                    &key,
                    "mixes user stages and arrival-rate stages; use one kind throughout",
                ));
            }
            stages.push(st);
        }
        Ok(stages)
    }

    /// The keys of the other model are refused: users with an arrival rate, max_users
    /// and queue_timeout without one.
    fn one_model(&self, raw: &RawLoad, open: bool) -> Result<()> {
        if open {
            if let Some(u) = &raw.users {
                return Err(self.err(
                    u.span(),
                    "load.users",
                    "does not apply with arrival_rate (open model); cap concurrent users with max_users",
                ));
            }
            if let Some(s) = raw
                .stages
                .iter()
                .flatten()
                .find(|s| s.get_ref().users.is_some())
            {
                return Err(self.err(
                    s.span(),
                    "load.stages",
                    "mixes user stages with arrival_rate; give each stage an arrival_rate",
                ));
            }
        } else {
            for (k, v) in [
                ("max_users", &raw.max_users),
                ("queue_timeout", &raw.queue_timeout),
            ] {
                if let Some(v) = v {
                    return Err(self.err(
                        v.span(),
                        &format!("load.{k}"),
                        "applies to the open model only; set load.arrival_rate too",
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn stage(&self, raw: &Spanned<RawStage>, key: &str) -> Result<Stage> {
        let st = raw.get_ref();
        let missing = |k: &str| {
            self.err(
                raw.span(),
                &format!("{key}.{k}"),
                "is missing; a stage needs users (or arrival_rate) and duration",
            )
        };
        let duration = st.duration.as_ref().ok_or_else(|| missing("duration"))?;
        let duration = self.duration(duration, &format!("{key}.duration"))?;
        if let Some(rate) = &st.arrival_rate {
            if let Some(u) = &st.users {
                return Err(self.err(
                    u.span(),
                    &format!("{key}.users"),
                    "cannot go with arrival_rate in one stage; a stage sets one or the other",
                ));
            }
            if let Some(r) = &st.spawn_rate {
                return Err(self.err(
                    r.span(),
                    &format!("{key}.spawn_rate"),
                    "does not apply to an arrival-rate stage, which ramps linearly",
                ));
            }
            return Ok(Stage {
                users: 0,
                duration,
                spawn_rate: None,
                arrival_rate: Some(self.rate(rate, &format!("{key}.arrival_rate"))?),
            });
        }
        let users = st.users.as_ref().ok_or_else(|| missing("users"))?;
        Ok(Stage {
            users: self.integer(users, &format!("{key}.users"), 0)? as u32,
            duration,
            spawn_rate: match &st.spawn_rate {
                Some(r) => Some(self.spawn_rate(r, &format!("{key}.spawn_rate"))?),
                None => None,
            },
            arrival_rate: None,
        })
    }

    /// A think time: `"500ms"`, `"1s..3s"`, `{ pacing = "2s" }` or `{ throughput = 0.5 }`.
    pub(super) fn wait(&self, v: &SpannedValue, key: &str) -> Result<crate::scenario::Wait> {
        const FORMS: &str = "\"500ms\", \"1s..3s\", { pacing = \"2s\" } or { throughput = 0.5 }";
        let Value::Table(t) = v.get_ref() else {
            let text = self.string(v, key, FORMS)?;
            return parse_wait(text).map_err(|m| self.err(v.span(), key, m));
        };
        let mut keys = t.keys();
        let (Some(mode), None) = (keys.next(), keys.next()) else {
            return Err(self.err(
                v.span(),
                key,
                format!("a think-time table has one key, pacing or throughput; write e.g. {FORMS}"),
            ));
        };
        let value = &t[mode];
        match mode.as_str() {
            "pacing" => self.pacing(value, v.span(), &format!("{key}.pacing")),
            "throughput" => self.throughput(value, v.span(), &format!("{key}.throughput")),
            other => Err(self.err(
                v.span(),
                &format!("{key}.{other}"),
                format!("\"{other}\" is not a think-time mode; write e.g. {FORMS}"),
            )),
        }
    }

    /// `{ pacing = "2s" }`: each task starts a period after the last one started.
    fn pacing(
        &self,
        value: &Value,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<crate::scenario::Wait> {
        let Value::String(text) = value else {
            return Err(self.err(
                span.clone(),
                key,
                format!("{value} is not a duration; write e.g. {{ pacing = \"2s\" }}"),
            ));
        };
        match super::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(crate::scenario::Wait::Pacing(d)),
            Ok(_) => Err(self.err(
                span.clone(),
                key,
                "a pacing of 0s sets no pace; give the period, e.g. \"2s\", or leave wait out",
            )),
            Err(m) => Err(self.err(span.clone(), key, m)),
        }
    }

    /// `{ throughput = 0.5 }`: tasks per second per user, whatever they take.
    fn throughput(
        &self,
        value: &Value,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<crate::scenario::Wait> {
        let rate = match value {
            Value::Integer(n) => *n as f64,
            Value::Float(f) => *f,
            other => {
                return Err(self.err(
                    span,
                    key,
                    format!("{other} is not a number of tasks per second per user; write e.g. {{ throughput = 0.5 }}"),
                ));
            }
        };
        if rate.is_finite() && rate >= 1.0 / 86_400.0 {
            Ok(crate::scenario::Wait::Throughput(rate))
        } else {
            Err(self.err(
                span,
                key,
                format!("{rate} is not a throughput; give tasks per second per user above 0 (at least one a day), e.g. 0.5"),
            ))
        }
    }

    /// A spawn rate above 0, and not so small that one user takes more than an hour.
    pub(super) fn spawn_rate(&self, v: &SpannedValue, key: &str) -> Result<f64> {
        let r = self.positive_number(v, key)?;
        if r < MIN_SPAWN_RATE {
            return Err(self.err(
                v.span(),
                key,
                format!(
                    "{r} is one user every {}; the smallest spawn rate is one user an hour ({MIN_SPAWN_RATE:.6})",
                    crate::scenario::format_duration(Duration::from_secs_f64((1.0 / r).min(1e12)))
                ),
            ));
        }
        Ok(r)
    }

    /// An arrival rate: `"200/s"`, `"90/m"`, or a number per second.
    pub(super) fn rate(&self, v: &SpannedValue, key: &str) -> Result<f64> {
        match v.get_ref() {
            Value::Integer(n) if *n >= 0 => crate::scenario::duration::check_rate(*n as f64)
                .map_err(|m| self.err(v.span(), key, format!("{n} {m}"))),
            Value::Float(f) if *f >= 0.0 && f.is_finite() => {
                crate::scenario::duration::check_rate(*f)
                    .map_err(|m| self.err(v.span(), key, format!("{f} {m}")))
            }
            Value::String(s) => parse_rate(s).map_err(|m| self.err(v.span(), key, m)),
            other => Err(self.err(
                v.span(),
                key,
                format!("{other} is not a rate; write e.g. \"200/s\" or \"90/m\""),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    const ONE: &str = "[[endpoints]]\npath = \"/\"\n";

    #[test]
    fn users_spawn_rate_and_run_time_load() {
        let p = plan(&format!(
            "[load]\nusers = 7\nspawn_rate = 2.5\nrun_time = \"1m\"\n{ONE}"
        ));
        assert_eq!((p.load.users, p.load.spawn_rate), (7, 2.5));
        assert_eq!(p.load.run_time, Some(std::time::Duration::from_secs(60)));
    }

    #[test]
    fn a_bad_value_is_located_at_its_key_and_line() {
        let (key, line, _) = error(&format!("[load]\nusers = 1\nspawn_rate = -1\n{ONE}"));
        assert_eq!((key.as_str(), line), ("load.spawn_rate", 4));
        let (key, _, message) = error(&format!("[load]\nwait = {{ pace = \"1s\" }}\n{ONE}"));
        assert_eq!(key, "load.wait.pace");
        assert!(message.contains("not a think-time mode"), "{message}");
    }

    #[test]
    fn stages_need_a_duration_and_may_not_mix_users_with_a_rate() {
        let (key, _, _) = error(&format!("[load]\nstages = [{{ users = 3 }}]\n{ONE}"));
        assert!(key.starts_with("load.stages[0]"), "{key}");
        let p = plan(&format!(
            "[load]\nstages = [{{ duration = \"10s\", users = 3 }}, {{ duration = \"5s\", users = 0 }}]\n{ONE}"
        ));
        assert_eq!(p.load.stages.len(), 2);
    }
}

//! Tests that hold swarm to the wall clock: spawn rates, think time, latencies, stop and run
//! times, and find-capacity's knee. They are a test binary of their own so that cargo runs them
//! after `it`, not beside its 90 tests on a two-core CI machine, and each takes the quiet lock,
//! so they run one at a time. Every server is on 127.0.0.1, port 0.

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

mod capacity;
mod clock;

static QUIET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Held for the whole of a test that measures time, so that no other one runs beside it.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    QUIET.lock().await
}

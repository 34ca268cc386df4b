//! `swarm worker`: joins a distributed run's controller and runs its share of the load.

use super::refuse_stdout_save_run;
use crate::cli::WorkerArgs;
use std::path::PathBuf;

pub(super) async fn worker(args: WorkerArgs) -> anyhow::Result<i32> {
    let token = match &args.token_file {
        Some(p) => Some(crate::cluster::read_token(p)?),
        None => args.token.clone().filter(|t| !t.is_empty()),
    };
    let pem = |flag: &str, p: &Option<PathBuf>| -> anyhow::Result<Option<String>> {
        p.as_deref()
            .map(|p| crate::cluster::read_pem(flag, p))
            .transpose()
    };
    let tls_ca = pem("--tls-ca", &args.tls_ca)?;
    let tls_identity = match (
        pem("--tls-cert", &args.tls_cert)?,
        pem("--tls-key", &args.tls_key)?,
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => None,
    };
    refuse_stdout_save_run(args.save_run.as_deref(), "worker.hlog")?;
    crate::cluster::worker::run(crate::cluster::worker::Options {
        controller: args.controller,
        token,
        index: args.index,
        tls_ca,
        tls_identity,
        reconnect: args.reconnect,
        save_run: args.save_run,
    })
    .await
}

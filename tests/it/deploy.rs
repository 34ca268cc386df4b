//! The Kubernetes base in deploy/kubernetes: rendered (by kubectl where it exists, else by
//! its validate.py), every document valid against Kubernetes' schemas, its parts agreeing,
//! and its example scenario a scenario swarm loads.

use crate::support::{python_with, run, text};

const BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");

#[tokio::test]
async fn the_kubernetes_base_renders_and_validates_offline() {
    let check = run(&["check", &format!("{BASE}/scenario.toml")]).await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let Some(python) = python_with("kubernetes_validate") else {
        return;
    };
    let script = format!("{BASE}/validate.py");
    let rendered = std::process::Command::new("kubectl")
        .args(["kustomize", BASE])
        .output();
    let out = match rendered {
        Ok(r) if r.status.success() => {
            let file = crate::support::tempdir().join("rendered.yaml");
            std::fs::write(&file, &r.stdout).unwrap();
            std::process::Command::new(&python)
                .args([&script, BASE, file.to_str().unwrap()])
                .output()
                .unwrap()
        }
        _ => {
            // Not a skip: validate.py renders this base as kustomize does.
            eprintln!("no kubectl here: the base is rendered by validate.py");
            std::process::Command::new(&python)
                .args([&script, BASE])
                .output()
                .unwrap()
        }
    };
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("4 workers agree"));
}

#[tokio::test]
async fn the_placeholder_token_is_refused() {
    let out = run(&[
        "worker",
        "--controller",
        "127.0.0.1:1",
        "--token-file",
        &format!("{BASE}/token.txt"),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("placeholder"),
        "{}",
        text(&out.stderr)
    );
}

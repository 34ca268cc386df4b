//! Names the commit swarm is built from, for `swarm --version`: `git rev-parse` when the
//! source is a git checkout, "unknown commit" otherwise (a crate tarball, say). And
//! compiles the control protocol (`proto/swarm.proto`) to Rust: protox parses it in pure
//! Rust, so the build needs no protoc, and tonic-prost-build writes the code.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=proto/swarm.proto");
    let fds = protox::compile(["proto/swarm.proto"], ["proto"])
        .unwrap_or_else(|e| panic!("proto/swarm.proto: {e}"));
    tonic_prost_build::configure()
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("proto/swarm.proto: cannot generate its code: {e}"));
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    let text = match commit {
        Some(c) if dirty => format!("commit {c}, modified"),
        Some(c) => format!("commit {c}"),
        None => "unknown commit".to_string(),
    };
    println!("cargo:rustc-env=SWARM_COMMIT={text}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    println!("cargo:rerun-if-changed=.git/refs");
}

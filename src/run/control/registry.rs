//! Where the runs on this machine can be found: a folder only its user can open
//! (`$XDG_RUNTIME_DIR/swarm/`, else `/tmp/swarm-UID/`) that holds, per run, its control
//! socket (`ID.sock`) and what `swarm ps` shows of it (`ID.json`); a run removes both when
//! it ends. A TUI's run that was detached also keeps its report there (`ID.out`, `ID.err`).

use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What `swarm ps` shows of a run, written when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub pid: u32,
    /// The scenario's file, or the URL.
    pub scenario: String,
    pub host: String,
    /// tui, headless, find-capacity.
    pub front: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub socket: PathBuf,
    /// `--control ADDR`, when given.
    #[serde(default)]
    pub tcp: Option<String>,
    /// Where its text report goes (a detached TUI's run).
    #[serde(default)]
    pub report: Option<PathBuf>,
}

/// The folder, created (0700) when missing; refused when another user owns it or others
/// can open it, since whoever can open a socket there can steer the run.
pub fn dir() -> std::io::Result<PathBuf> {
    let dir = base();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let meta = std::fs::metadata(&dir)?;
    if meta.uid() != uid() || meta.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not this user's alone (owner {}, mode {:o}); remove it or set XDG_RUNTIME_DIR",
            dir.display(),
            meta.uid(),
            meta.permissions().mode() & 0o777
        )));
    }
    Ok(dir)
}

fn base() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("swarm"),
        None => std::env::temp_dir().join(format!("swarm-{}", uid())),
    }
}

/// This process's user id (read from /proc, so no `unsafe` call is needed).
fn uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// A fresh run id: six hex digits, not in use here.
pub fn fresh_id(dir: &Path) -> String {
    loop {
        let id = random_id();
        if !dir.join(format!("{id}.json")).exists() {
            return id;
        }
    }
}

/// Six random hex digits.
pub fn random_id() -> String {
    format!("{:06x}", fastrand::u32(..0x0100_0000))
}

/// A run's entry; dropping it removes the socket and the entry.
pub struct Entry {
    pub info: RunInfo,
    json: PathBuf,
}

impl Entry {
    pub fn write(dir: &Path, info: RunInfo) -> std::io::Result<Entry> {
        let json = dir.join(format!("{}.json", info.id));
        let text = serde_json::to_string_pretty(&info).map_err(std::io::Error::other)?;
        crate::fsutil::write_output(&json, text.as_bytes()).map_err(std::io::Error::other)?;
        Ok(Entry { info, json })
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.info.socket);
        let _ = std::fs::remove_file(&self.json);
    }
}

/// The runs of this machine's user that are alive, oldest first; entries of processes
/// that are gone (killed before they could clean up) are removed.
pub fn list() -> Vec<RunInfo> {
    let Ok(dir) = dir() else {
        return Vec::new();
    };
    let Ok(read) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut runs: Vec<RunInfo> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| {
            let info: RunInfo = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            if alive(info.pid) {
                Some(info)
            } else {
                let _ = std::fs::remove_file(&p);
                let _ = std::fs::remove_file(&info.socket);
                None
            }
        })
        .collect();
    runs.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
    runs
}

/// Whether a process of this id runs (and is not a zombie waiting for its parent).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// The reports of detached TUI runs that have ended (`ID.out` of none of the `live` runs,
/// as `list` gives them), newest first: (id, path).
pub fn ended_reports(live: &[RunInfo]) -> Vec<(String, PathBuf)> {
    let Ok(dir) = dir() else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, String, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .filter_map(|p| {
            let id = p.file_stem()?.to_string_lossy().to_string();
            let meta = std::fs::metadata(&p).ok()?;
            let when = meta.modified().ok()?;
            let running = live.iter().any(|i| i.id == id);
            (!running && meta.len() > 0).then_some((when, id, p))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, id, p)| (id, p)).collect()
}

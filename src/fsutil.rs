//! File writes that never leave half a file behind.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes via a temporary file in the same folder, synced, then renamed over `path`, and
/// the folder synced so the rename itself survives a crash. A symlink is followed (its
/// target is replaced, the link stays); an existing file keeps its permissions (the
/// temporary file is created owner-only, so a 0600 file's text is never readable by
/// others on the way). Leftovers of earlier saves that died half-way are removed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = follow_links(path)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    remove_leftovers(&dir, &name);
    let tmp = dir.join(format!(".{name}.{}{TMP_SUFFIX}", std::process::id()));
    let keep = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if keep.is_some() {
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        if let Some(p) = keep {
            file.set_permissions(p)?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // The rename is durable once the folder's entry is on disk.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

const TMP_SUFFIX: &str = ".swarm-tmp";

/// Where a chain of symlinks ends (at most 40 hops, as the kernel allows); a path that is
/// not a symlink, or does not exist yet, is itself.
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Removes `.NAME.PID.swarm-tmp` files that a save of NAME left when its process died
/// (the process is gone, or the file is over an hour old).
fn remove_leftovers(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(TMP_SUFFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let gone = pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if gone || old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `-` names standard output (`--json -`).
/// The metadata of a file swarm is to read whole, refused when it is not a regular file (a
/// directory; a FIFO that would block; a device such as /dev/zero that never ends) with a
/// message that ends in `give` ("give a CSV file").
pub(crate) fn regular_file(path: &Path, give: &str) -> Result<std::fs::Metadata, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.is_file() {
        return Ok(meta);
    }
    let what = if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file (a FIFO, socket or device)"
    };
    Err(format!("{shown} is {what}; {give}"))
}

/// The text of a small file (a token, a PEM certificate or key), read up to `limit`
/// bytes: a wrong path (/dev/zero, a large file) is refused at once instead of read until
/// memory runs out. A pipe (`--token-file <(pass show swarm)`) is read as a file is.
pub(crate) fn read_small_text(path: &Path, limit: u64, give: &str) -> Result<String, String> {
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(&mut std::io::Read::take(f, limit + 1), &mut bytes)
        })
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{shown} holds more than {limit} bytes, more than such a file does; {give}"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{shown} is not text; {give}"))
}

pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Prints a text report on standard output, or on standard error when the JSON report
/// goes to standard output (`--json -`), which then has it to itself.
pub(crate) fn print_report(text: &str, json: Option<&Path>) {
    if json.is_some_and(is_stdout) {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// Writes a report file (atomically), or to standard output for `-`.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to standard output: {e}"));
    }
    write_atomic(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Checks, before a run, that `path` can be written when the run ends: its folder exists
/// and takes a new file, and the path is not a folder. Nothing is left behind.
pub(crate) fn check_writable(path: &Path) -> Result<(), String> {
    if is_stdout(path) {
        return Ok(());
    }
    let shown = path.display();
    if path.is_dir() {
        return Err(format!(
            "{shown} is a folder; give a file name, e.g. {shown}/report.json"
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {shown}: the folder {} does not exist (create it first)",
            dir.display()
        ));
    }
    let probe = dir.join(format!(".swarm-probe.{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot write {shown}: the folder {} does not take new files ({e})",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("swarm-fsutil-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.toml");
        std::fs::write(&path, "old").unwrap();
        super::write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keeps_permissions_follows_symlinks_and_cleans_leftovers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("swarm-fsutil-perm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let real = dir.join("real.toml");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.join("link.toml");
        std::os::unix::fs::symlink("real.toml", &link).unwrap();
        // A save that died left its temporary behind (pid 999999999 is above any pid limit).
        let stray = dir.join(".real.toml.999999999.swarm-tmp");
        std::fs::write(&stray, "half").unwrap();
        super::write_atomic(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!stray.exists(), "the leftover is removed");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unwritable_output_is_found_before_the_run() {
        let dir = std::env::temp_dir().join(format!("swarm-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(super::check_writable(&dir.join("out.json")), Ok(()));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no probe left");
        let e = super::check_writable(&dir.join("nope/out.json")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = super::check_writable(&dir).unwrap_err();
        assert!(e.contains("is a folder"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A token or certificate path that is a device that never ends, or a large file, is
    /// refused after `limit` bytes (it had been read until memory ran out); a pipe is read.
    #[test]
    fn small_files_are_read_with_a_bound() {
        use super::read_small_text;
        let e =
            read_small_text(std::path::Path::new("/dev/zero"), 1024, "give a token").unwrap_err();
        assert!(
            e.contains("holds more than 1024 bytes") && e.contains("give a token"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("swarm-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(read_small_text(&path, 1024, "").unwrap(), "abc\n");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(
            read_small_text(&path, 1024, "")
                .unwrap_err()
                .contains("not text")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

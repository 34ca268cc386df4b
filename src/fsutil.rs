//! File writes that never leave half a file behind.

use std::io::Write;
use std::path::Path;

/// Writes via a temporary file in the same folder, synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.swarm-tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks, before a run, that `path` can be written when the run ends: its folder exists
/// and takes a new file, and the path is not a folder. Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<(), String> {
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
}

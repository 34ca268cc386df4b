//! The floors of `src/` (lib.rs's "Layout" section): a module uses only modules on floors
//! below its own. This reads every `crate::NAME` path of the library's non-test code and
//! fails on one that points to the same floor or a higher one, naming the file and line, so
//! that an import cycle between top-level modules cannot come back unseen.

/// Bottom first. A module not listed here fails the test: give it a floor.
const FLOORS: &[&[&str]] = &[
    &["stats", "fsutil", "signals", "demo"],
    &["fmt", "scenario"],
    &["engine", "doctor"],
    &["capacity"],
    &["report"],
    &["compare", "cluster"],
    &["run"],
    &["tui", "headless", "cli"],
    &["commands", "fuzzing"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// Every `crate::NAME` of a file's code before its tests, with its line number.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        for part in line.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // crate::VERSION and other items of lib.rs itself are on no floor.
            if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                found.push((n + 1, name));
            }
        }
    }
    found
}

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// src/ and every Rust file under it.
fn src_files() -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    (src, files)
}

#[test]
fn every_module_uses_only_the_floors_below_its_own() {
    let (src, files) = src_files();
    let mut broken = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let Some(own) = floor_of(&top) else {
            broken.push(format!(
                "src/{}: module {top} has no floor in FLOORS",
                rel.display()
            ));
            continue;
        };
        for (line, used) in crate_paths(&std::fs::read_to_string(file).unwrap()) {
            if used == top {
                continue;
            }
            match floor_of(&used) {
                Some(f) if f < own => {}
                Some(f) => broken.push(format!(
                    "src/{}:{line}: {top} (floor {own}) uses {used} (floor {f}), which is not below it",
                    rel.display()
                )),
                None => broken.push(format!(
                    "src/{}:{line}: {used} has no floor in FLOORS",
                    rel.display()
                )),
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// Engines are built only where a run starts (`run/`) or a cluster runs one (`cluster/`),
/// besides the engine itself; the front-ends watch and steer a `Run`, and write no report
/// file or output of their own.
#[test]
fn only_run_and_cluster_build_engines_and_the_front_ends_wire_no_outputs() {
    let (src, files) = src_files();
    let mut broken = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let builds = ["Engine::spawn", "controller::spawn("];
        let may_build = ["run/", "cluster/", "engine/"]
            .iter()
            .any(|d| rel.starts_with(d));
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            if !may_build && builds.iter().any(|b| line.contains(b)) {
                broken.push(format!(
                    "src/{rel}:{}: builds an engine: {}",
                    n + 1,
                    line.trim()
                ));
            }
            let front = rel.starts_with("tui/") || rel == "headless.rs";
            let wiring = [
                "RunLog",
                "CsvReport",
                "prometheus::",
                "write_output",
                "RecordIntervals",
            ];
            let exempt = rel == "tui/mod.rs" && line.contains("write_output"); // `h`: the HTML report on demand
            if front && !exempt && wiring.iter().any(|w| line.contains(w)) {
                broken.push(format!(
                    "src/{rel}:{}: wires an output: {}",
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    let headless = std::fs::read_to_string(src.join("headless.rs")).unwrap();
    assert!(
        headless.lines().count() < 200,
        "headless.rs is a thin front-end"
    );
}

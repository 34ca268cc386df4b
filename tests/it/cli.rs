//! The `swarm` binary as a user runs it: headless reports, JSON, exit codes, Ctrl-C.

use crate::support::{CountingServer, run, send_signal, swarm, tempdir, text};
use std::time::Duration;
use tokio::process::Command;

fn scenario(dir: &std::path::Path, host: &str, extra: &str) -> String {
    let path = dir.join("s.toml");
    let src = format!(
        "name = \"cli test\"\nhost = \"{host}\"\n[load]\nusers = 3\nspawn_rate = 100\nrun_time = \"1s\"\nwait = \"20ms\"\n\
         [[endpoints]]\nname = \"home page\"\npath = \"/\"\n[[endpoints]]\nname = \"echo it\"\nmethod = \"POST\"\npath = \"/echo\"\njson = {{ a = 1 }}\n{extra}"
    );
    std::fs::write(&path, src).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_report_and_json_carry_the_right_rows() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let json = dir.join("out.json");
    let out = run(&["run", &file, "--headless", "--json", json.to_str().unwrap()]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    for needle in [
        "Type",
        "# reqs",
        "# fails",
        "Avg",
        "Min",
        "Max",
        "Med",
        "req/s",
        "fail/s",
        "Aggregated",
        "home page",
        "echo it",
        "Response time percentiles",
        "99.99",
        "Failures",
    ] {
        assert!(
            stdout.contains(needle),
            "report lacks {needle:?}:\n{stdout}"
        );
    }
    assert!(
        stdout.lines().all(|l| l.chars().count() <= 80),
        "report wider than 80 columns:\n{stdout}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = doc["endpoints"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "home page");
    assert_eq!(rows[0]["method"], "GET");
    assert_eq!(rows[1]["method"], "POST");
    assert_eq!(rows[0]["requests"].as_u64().unwrap(), server.count("/"));
    assert_eq!(rows[1]["requests"].as_u64().unwrap(), server.count("/echo"));
    assert_eq!(
        rows[1]["avg_bytes"].as_f64().unwrap(),
        7.0,
        "the echo of {{\"a\":1}}"
    );
    assert_eq!(doc["aggregated"]["failures"], 0);
    assert!(
        doc["aggregated"]["percentiles_ms"]["99.9"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(
        doc["aggregated"]["status_counts"]["200"].as_u64().unwrap(),
        server.total()
    );
    assert!(
        text(&out.stderr).contains("users"),
        "progress goes to stderr"
    );
    assert!(
        doc["history"].as_array().is_some(),
        "history is an array of points"
    );
    assert!(
        doc["generator"]["think_samples"].as_u64().unwrap() > 0,
        "3 users with 20 ms think time"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_failures() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let failing = "[[endpoints]]\nname = \"broken\"\npath = \"/status/503\"\n";
    let file = scenario(&dir, &server.url(), failing);
    let out = run(&["run", &file, "--headless", "-t", "1s"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("HTTP 503 Service Unavailable"),
        "failure report:\n{stdout}"
    );
    let out = run(&[
        "run",
        &file,
        "--headless",
        "-t",
        "1s",
        "--exit-code-on-error",
        "7",
    ])
    .await;
    assert_eq!(out.status.code(), Some(7));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_with_a_located_message() {
    let out = run(&["run", "tests/fixtures/invalid/bad_wait.toml", "--headless"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("tests/fixtures/invalid/bad_wait.toml:6:8: load.wait:"),
        "{stderr}"
    );
    let out = run(&["check", "tests/fixtures/invalid/unknown_key.toml"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["run", "no/such/file.toml", "--headless"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read no/such/file.toml"));
    let out = run(&["run", "scenarios/demo.toml", "--users", "0"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["run", "scenarios/demo.toml", "-H", "ftp://x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--host: \"ftp://x\" is not an http:// or https:// URL"),
        "{}",
        text(&out.stderr)
    );
}

/// Each (arguments, what stderr must say): refused with exit 2 before anything is sent.
const REFUSED: &[(&[&str], &str)] = &[
    (
        &["run", "localhost:8080", "--headless"],
        "localhost:8080 is not a scenario file; did you mean http://localhost:8080?",
    ),
    (
        &["run", "no/such/file.toml", "--headless"],
        "swarm: cannot read no/such/file.toml: No such file or directory\n",
    ),
    (
        &[
            "run",
            "scenarios/demo.toml",
            "--headless",
            "-H",
            "http://127.0.0.1:99999",
        ],
        "--host: port \"99999\" is out of range",
    ),
    (
        &[
            "run",
            "scenarios/demo.toml",
            "--headless",
            "--json",
            "no/such/dir/out.json",
        ],
        "--json: cannot write no/such/dir/out.json: the folder no/such/dir does not exist",
    ),
    (
        &["run", "http://127.0.0.1:9/", "--headless", "-t", "0s"],
        "\"0s\" would stop the run before it starts",
    ),
    (
        &[
            "run",
            "http://127.0.0.1:9/",
            "--headless",
            "--threshold",
            "p95 < 300",
        ],
        "write \"300ms\"",
    ),
    (
        &[
            "run",
            "http://127.0.0.1:9/",
            "--headless",
            "--arrival-rate",
            "0/s",
        ],
        "0/s would start no iteration",
    ),
    (
        &["run", "http://admin:hunter2@127.0.0.1:9/", "--headless"],
        "has credentials in it (admin:***@127.0.0.1:9); swarm does not send them from the URL, so they never show in a report: remove them and send a header instead, e.g. --header \"Authorization: Basic ...\"",
    ),
    (
        &["run", "scenarios/demo.toml", "--headless", "-d", "a=1"],
        "apply to swarm run URL; a scenario file sets them per endpoint",
    ),
    (
        &[
            "run",
            "http://127.0.0.1:9/",
            "--headless",
            "--json-data",
            "{\"a\":",
        ],
        "--json-data: not JSON",
    ),
    (
        &[
            "run",
            "http://127.0.0.1:9/",
            "--headless",
            "--header",
            "nocolon",
        ],
        "write \"Name: value\"",
    ),
    // A body from a device that never ends was read until memory ran out.
    (
        &[
            "run",
            "http://127.0.0.1:9/",
            "--headless",
            "--data-file",
            "/dev/zero",
        ],
        "--data-file: /dev/zero holds more than 16777216 bytes",
    ),
    // A stream's time where nothing streams had failed every run as "no requests".
    (
        &[
            "run",
            "http://127.0.0.1:9/",
            "--headless",
            "--threshold",
            "ttft_p95<1s",
        ],
        "--threshold ttft_p95<1s: no endpoint of this scenario streams",
    ),
    (
        &[
            "find-capacity",
            "http://127.0.0.1:9/",
            "--slo",
            "itl_p99<50ms",
        ],
        "so its itl could never be measured",
    ),
    // The search tried --start users when they were above --max-users, and held 0 s.
    (
        &[
            "find-capacity",
            "http://127.0.0.1:9/",
            "--slo",
            "p95<1s",
            "--start",
            "10",
            "--max-users",
            "5",
        ],
        "--start 10 is above --max-users 5",
    ),
    (
        &[
            "find-capacity",
            "http://127.0.0.1:9/",
            "--slo",
            "p95<1s",
            "--hold",
            "0s",
        ],
        "--hold 0s measures nothing",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_and_targets_are_refused_with_what_would_be_right() {
    for (args, needle) in REFUSED {
        let out = run(args).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the password is never printed: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_url_mode_takes_curl_and_oha_flags() {
    let server = CountingServer::start().await;
    let url = format!("{}/echo", server.url());
    let out = run(&[
        "run",
        &url,
        "--headless",
        "-n",
        "137",
        "-c",
        "8",
        "-m",
        "PUT",
        "--json-data",
        "{\"a\":1}",
        "--header",
        "X-Test: yes",
        "--json",
        "-",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &doc["endpoints"][0];
    assert_eq!(row["name"], "PUT /echo");
    // -n is exact: the server saw exactly 137 requests.
    assert_eq!(row["requests"], 137);
    assert_eq!(server.count("/echo"), 137);
    // The echo route answers with the body it got: 7 bytes each.
    assert_eq!(row["avg_bytes"], 7.0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("8 users, all started at once"),
        "-c is oha's -u, and opens every connection at the start: {stderr}"
    );
    // All 8 ran, though 137 requests to loopback take a few milliseconds (at 50/s one
    // user did them all).
    assert_eq!(doc["users"], 8, "{doc}");
    assert!(stderr.contains("for 137 requests"), "{stderr}");
    assert!(
        stderr.contains("959 B of response bodies received"),
        "{stderr}"
    );
}

/// A URL typed with a space, or a header flag with a line break: the error names what
/// and where in what was typed, not a line and key of the scenario made up from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_header_flag_is_named_as_typed() {
    let out = run(&["run", "http://127.0.0.1:9/search?q=red shoes", "-n", "1"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "swarm: \"http://127.0.0.1:9/search?q=red shoes\" is not a valid URL: a space at \
         character 32; percent-encode it (%20)"
    );
    let out = run(&[
        "run",
        "http://127.0.0.1:9/",
        "-n",
        "1",
        "--header",
        "X-A: a\rb",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("swarm: http://127.0.0.1:9/: --header X-A: ") && !stderr.contains(":1:"),
        "{stderr}"
    );
    let out = run(&["run", "http://127.0.0.1:9/", "-n", "1"]).await;
    assert!(
        text(&out.stderr).contains("for 1 request\n"),
        "{}",
        text(&out.stderr)
    );
}

/// `swarm run -` and `swarm check -` read the scenario from standard input, as `k6 run -`
/// does (they had answered "cannot read -: No such file or directory"); relative data
/// files are found from the working directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_from_standard_input_runs_and_checks() {
    use tokio::io::AsyncWriteExt;
    let server = CountingServer::start().await;
    let dir = tempdir();
    std::fs::write(dir.join("ids.csv"), "id\n7\n").unwrap();
    let src = format!(
        "host = \"{}\"\n[load]\nusers = 2\n[data.d]\nfile = \"ids.csv\"\n\
         [[endpoints]]\nname = \"item\"\npath = \"/item/{{{{d.id}}}}\"\n",
        server.url()
    );
    let piped = |args: &[&str]| {
        let mut c = swarm();
        c.args(args)
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let mut child = piped(&["run", "-", "-n", "25", "--headless", "--json", "-"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(src.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["endpoints"][0]["requests"], 25);
    assert_eq!(server.count("/item/7"), 25);

    let mut child = piped(&["check", "-"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"host = \"http://127.0.0.1:9\"\n[load]\nusers = 0\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("<stdin> has 2 problems") && stderr.contains("<stdin>:3:9: load.users"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Users no machine's memory holds (4 000 000 000 at 1.5 KB each is 6 TB) are refused
/// before the run: such a run grew until the kernel killed it, with nothing reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_beyond_this_machines_memory_are_refused_before_the_run() {
    for args in [
        &["run", "http://127.0.0.1:9/", "-u", "4000000000", "-t", "1s"][..],
        &[
            "run",
            "http://127.0.0.1:9/",
            "-q",
            "10/s",
            "--max-users",
            "4000000000",
            "-t",
            "1s",
        ],
    ] {
        let out = run(args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("4000000000 users need at least 5859375 MB of memory")
                && stderr.contains("--workers"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_without_a_command_is_answered_with_the_command_that_runs_it() {
    // As oha is typed: the URL first. Nothing is sent; the answer is the command line.
    let out = run(&["http://127.0.0.1:9/", "-n", "5", "--header", "X-A: b c"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("swarm run http://127.0.0.1:9/ -n 5 --header 'X-A: b c'"),
        "{stderr}"
    );
    let out = run(&["-u", "3", "scenarios/demo.toml"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("swarm run -u 3 scenarios/demo.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_completions_and_man_page() {
    let out = run(&["--version"]).await;
    let version = text(&out.stdout);
    assert!(
        version.starts_with(&format!("swarm {} (", env!("CARGO_PKG_VERSION")))
            && version.contains("commit"),
        "{version}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]).await;
        assert_eq!(out.status.code(), Some(0));
        let script = text(&out.stdout);
        assert!(
            script.contains("find-capacity") && script.contains("json-data"),
            "{shell}"
        );
    }
    let out = run(&["man"]).await;
    let page = text(&out.stdout);
    assert!(page.contains(".TH swarm 1"), "{page}");
    assert!(page.contains(".TH swarm-run 1"), "a page per subcommand");
    let v = env!("CARGO_PKG_VERSION");
    assert!(
        page.contains(&format!(".TH swarm-run 1  \"swarm-run {v}")),
        "{page}"
    );
    for section in ["EXIT STATUS", "TERMINAL UI KEYS", "SCENARIO FORMAT"] {
        assert!(page.contains(&format!(".SH \"{section}\"")), "{section}");
    }
    // `swarm man | head`: the reader leaves early, and swarm says nothing of it.
    let mut child = swarm()
        .arg("man")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    let mut pipe = child.stdout.take().unwrap();
    tokio::io::AsyncReadExt::read_exact(&mut pipe, &mut first)
        .await
        .unwrap();
    drop(pipe);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locust_csv_files_grow_during_the_run_and_agree_with_the_json() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let prefix = dir.join("run");
    let json = dir.join("out.json");
    let child = swarm()
        .args([
            "run",
            &file,
            "--headless",
            "-t",
            "3s",
            "--csv",
            prefix.to_str().unwrap(),
            "--csv-full-history",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let history = dir.join("run_stats_history.csv");
    let rows = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // While the run goes on, the history already has rows (header + a row a second).
    let start = std::time::Instant::now();
    while rows(&history) < 4 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = rows(&history);
    // The files hold mid-run figures: the marker beside them says so until the end.
    let marker = dir.join("run.partial");
    assert!(marker.exists(), "no {} during the run", marker.display());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(during >= 4, "history rows during the run: {during}");
    assert!(rows(&history) > during, "the history grew after that");
    assert!(
        !marker.exists(),
        "the finished run removed {}",
        marker.display()
    );
    let stats = std::fs::read_to_string(dir.join("run_stats.csv")).unwrap();
    let mut lines = stats.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let mut by_name = std::collections::HashMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 22, "{line}");
        by_name.insert(
            f[1].to_string(),
            f.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
    }
    for row in doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&doc["aggregated"]])
    {
        let csv = &by_name[row["name"].as_str().unwrap()];
        assert_eq!(csv[0], row["method"].as_str().unwrap());
        assert_eq!(csv[2], row["requests"].to_string());
        assert_eq!(csv[3], row["failures"].to_string());
        let avg: f64 = csv[5].parse().unwrap();
        assert!(
            (avg - row["avg_ms"].as_f64().unwrap()).abs() < 0.002,
            "{csv:?}"
        );
        // Rounded as Locust rounds (whole ms below 100 ms, half to even), not cut:
        // a p99 of 4.903 ms is 5, and the median and the 50% column agree.
        let p99: u64 = csv[18].parse().unwrap();
        let json_p99 = row["percentiles_ms"]["99"].as_f64().unwrap();
        assert_eq!(p99, swarm::report::csv::locust_round(json_p99));
        assert_eq!(csv[4], csv[11], "Median and 50%: {csv:?}");
    }
    // Python's csv module ends lines with CRLF, and so do Locust's files.
    let raw = std::fs::read_to_string(dir.join("run_stats.csv")).unwrap();
    assert!(raw.ends_with("\r\n") && raw.matches("\r\n").count() == raw.lines().count());
    assert_eq!(swarm::report::csv::locust_round(4.903), 5);
    assert_eq!(swarm::report::csv::locust_round(2.5), 2);
    assert_eq!(swarm::report::csv::locust_round(147.0), 150);
    assert_eq!(swarm::report::csv::locust_round(3432.0), 3400);
    assert_eq!(by_name["Aggregated"][0], "", "the aggregate has no Type");
    assert_eq!(
        by_name["Aggregated"][2].parse::<u64>().unwrap(),
        server.total()
    );
    let history = std::fs::read_to_string(&history).unwrap();
    assert!(history.starts_with("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size\r\n"));
    // The last row is the last full second's, not a row of zeros at the stop.
    let last = history.lines().last().unwrap();
    let fields: Vec<&str> = last.split(',').collect();
    assert!(fields[4].parse::<f64>().unwrap() > 0.0, "{last}");
    assert!(
        history.contains(",GET,home page,"),
        "full history has the endpoints"
    );
    for name in ["failures", "exceptions"] {
        assert!(dir.join(format!("run_{name}.csv")).exists());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_has_a_case_per_threshold_and_the_measured_value() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let junit = dir.join("junit.xml");
    let out = run(&[
        "run",
        &file,
        "--headless",
        "-t",
        "1s",
        "--threshold",
        "p95<0.001ms",
        "--threshold",
        "fail_ratio<50%",
        "--junit",
        junit.to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed threshold fails the run"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(cases[0].attribute("name"), Some("no failed requests"));
    let failed: Vec<_> = cases
        .iter()
        .filter_map(|c| c.children().find(|n| n.has_tag_name("failure")))
        .collect();
    assert_eq!(failed.len(), 1);
    let message = failed[0].attribute("message").unwrap();
    assert!(
        message.starts_with("measured ") && message.contains("ms (threshold p95<0.001ms)"),
        "{message}"
    );
    // junitparser (PyPI), as CI report steps read JUnit XML.
    if let Some(python) = crate::support::python_with("junitparser") {
        let script = "import sys\nfrom junitparser import JUnitXml, Failure\nxml = JUnitXml.fromfile(sys.argv[1])\nfor suite in xml:\n    failed = [c for c in suite if any(isinstance(r, Failure) for r in c.result)]\n    print(suite.tests, suite.failures, len(failed), failed[0].result[0].message)\n";
        let out = std::process::Command::new(python)
            .args(["-c", script, junit.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(said.starts_with("3 1 1 measured "), "{said}");
        assert!(said.contains("(threshold p95<0.001ms)"), "{said}");
    }
    // Failed requests with thresholds that hold: the failed-requests case is red, as
    // the exit code says (every case was green before).
    let broken = scenario(
        &dir,
        &server.url(),
        "[[endpoints]]\nname = \"broken\"\npath = \"/status/500\"\n",
    );
    let out = run(&[
        "run",
        &broken,
        "--headless",
        "-t",
        "1s",
        "--threshold",
        "p95<10s",
        "--junit",
        junit.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let failed: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap().to_string())
        .collect();
    assert_eq!(failed, ["no failed requests"], "{xml}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_to_standard_output() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let out = run(&["run", &file, "--headless", "-t", "500ms", "--json", "-"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON");
    // Requests cut at the stop (stop_timeout 0s) may or may not have reached the server.
    let requests = doc["aggregated"]["requests"].as_u64().unwrap();
    assert!(
        (1..=requests).contains(&server.total()),
        "{requests} {}",
        server.total()
    );
    assert!(
        text(&out.stderr).contains("Aggregated"),
        "the text report goes to stderr"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_mistake_in_file_order() {
    let out = run(&["check", "tests/fixtures/multi/five_mistakes.toml"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    // (Its [load] holds two: the wait's was hidden behind the users' before.)
    assert!(stderr.contains("has 6 problems:"), "{stderr}");
    let at: Vec<&str> = stderr
        .lines()
        .skip(1)
        .map(|l| l.trim().split(": ").next().unwrap_or(""))
        .collect();
    let f = "tests/fixtures/multi/five_mistakes.toml";
    let expected: Vec<String> = ["1:8", "3:9", "4:8", "6:8", "9:10", "11:7"]
        .iter()
        .map(|line_col| format!("{f}:{line_col}"))
        .collect();
    assert_eq!(at, expected, "{stderr}");
    // Several in one table, of every kind (a bad value, a wrong type, an unknown key),
    // all in one run; nothing made up by the passes (no "missing" key).
    let f = "tests/fixtures/multi/one_table_many.toml";
    let out = run(&["check", f]).await;
    let stderr = text(&out.stderr);
    assert!(stderr.contains("has 7 problems:"), "{stderr}");
    for key in [
        "3:9: load.users",
        "4:14: load.spawn_rate",
        "5:8: load.wait",
        "6:12: load.run_time",
        "9:10: endpoints[0].method",
        "10:10: endpoints[0].weight",
        "11:1: endpoints[0].colour: unknown key",
    ] {
        assert!(stderr.contains(&format!("{f}:{key}")), "{key}: {stderr}");
    }
    assert!(!stderr.contains("missing"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_describes_the_plan() {
    let out = run(&["check", "scenarios/json_api.toml"]).await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("50 users, started at 10/s"), "{stdout}");
    assert!(
        stdout.contains("60%") && stdout.contains("list tests"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_is_load_tested_with_defaults_and_flags_override() {
    let server = CountingServer::start().await;
    let url = format!("{}/delay/5?x=1", server.url());
    let out = run(&["run", &url, "-u", "2", "-r", "10", "-t", "1s"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(server.count("/delay/5?x=1") > 0);
    assert!(
        text(&out.stdout).contains("2 users"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_flag_overrides_the_file() {
    let server = CountingServer::start().await;
    let out = run(&[
        "run",
        "scenarios/json_api.toml",
        "-H",
        &server.url(),
        "-u",
        "2",
        "-r",
        "50",
        "-t",
        "1500ms",
    ])
    .await;
    // Each of the two users sends a request as it starts; which endpoint is chance
    // ("/tests" has 80 % of the weight), so count them all.
    assert!(server.total() >= 2, "{}", text(&out.stderr));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_stops_gracefully_and_still_reports() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("run_time = \"1s\"\n", ""),
    )
    .unwrap();
    let child = swarm()
        .args(["run", &file, "--headless"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal("INT", &child.id().unwrap().to_string());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Aggregated"), "{stdout}");
    assert!(server.total() > 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_headless_against_its_own_server() {
    let out = run(&["demo", "--headless", "-t", "2s", "-u", "5", "-r", "50"]).await;
    let stdout = text(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    // Every endpoint has a row even when chance gave it no request; long names are
    // shortened in the table, so look for their beginnings.
    for name in [
        "list items",
        "add item",
        "primes below",
        "slow (50 ms)",
        "flaky (5%",
    ] {
        assert!(stdout.contains(name), "demo report lacks {name}:\n{stdout}");
    }
    assert!(text(&out.stderr).contains("swarm demo API listening on http://127.0.0.1:"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_is_reported_not_a_hang() {
    let server = CountingServer::start().await;
    let script = format!(
        "ulimit -n 48 && exec {} run {}/ --headless -u 200 -r 100000 -t 500ms",
        env!("CARGO_BIN_EXE_swarm"),
        server.url()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("swarm finished")
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("out of local resources (swarm's side): 127.0.0.1")
            && flat.contains("Too many open files"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_decide_the_exit_code_and_are_reported() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let extra = "[thresholds]\np95 = \"< 10s\"\nfail_ratio = \"< 1%\"\n[[endpoints]]\nname = \"slowish\"\npath = \"/delay/30\"\nthresholds = { p50 = \"< 5ms\" }\n";
    let file = scenario(&dir, &server.url(), extra);
    let json = dir.join("t.json");
    let out = run(&[
        "run",
        &file,
        "--headless",
        "-t",
        "1s",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the slowish p50 threshold fails:\n{stdout}"
    );
    assert!(
        stdout.contains("Thresholds: 2 passed, 1 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  slowish") && stdout.contains("p50 < 5ms"),
        "{stdout}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let verdicts = doc["thresholds"].as_array().unwrap();
    assert_eq!(verdicts.len(), 3);
    assert_eq!(verdicts[2]["scope"], "slowish");
    assert_eq!(verdicts[2]["passed"], false);
    assert!(verdicts[2]["actual"].as_f64().unwrap() >= 30.0);

    let out = run(&[
        "run",
        &file,
        "--headless",
        "-t",
        "1s",
        "--threshold",
        "rps>1000000",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("FAIL  all"),
        "{}",
        text(&out.stdout)
    );

    let passing = scenario(
        &dir,
        &server.url(),
        "[thresholds]\nfail_ratio = \"< 1%\"\nrps = \"> 1\"\n",
    );
    let out = run(&["run", &passing, "--headless", "-t", "1s"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_the_run_when_a_threshold_fails() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        "[thresholds]\nabort = true\nfail_ratio = \"< 1%\"\n[[endpoints]]\npath = \"/status/500\"\n",
    );
    let start = std::time::Instant::now();
    let out = run(&["run", &file, "--headless", "-t", "20s"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "aborted after {:?}",
        start.elapsed()
    );
    assert!(
        text(&out.stderr).contains("threshold fail_ratio < 1% (all) failed; stopping"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_rate_from_the_command_line_reports_both_latencies() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let json = dir.join("open.json");
    let url = format!("{}/delay/5", server.url());
    let out = run(&[
        "run",
        &url,
        "--arrival-rate",
        "100/s",
        "--max-users",
        "20",
        "-t",
        "2s",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for needle in [
        "open model: 200 scheduled, 0 dropped",
        "Latency from intended start (ms), corrected for coordinated omission",
        "Service time (ms), raw: from send to response",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in\n{stdout}");
    }
    assert_eq!(server.count("/delay/5"), 200);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["arrivals"]["scheduled"], 200);
    assert_eq!(doc["arrivals"]["max_users"], 20);
    let corrected = doc["aggregated"]["corrected_percentiles_ms"]["50"]
        .as_f64()
        .unwrap();
    let raw = doc["aggregated"]["percentiles_ms"]["50"].as_f64().unwrap();
    assert!(corrected >= raw && raw >= 5.0, "{corrected} {raw}");
    // Flags of the other model are refused with the reason.
    let out = run(&["run", &url, "--arrival-rate", "10/s", "-u", "5"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--max-users"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_select_and_exclude_tasks_and_a_filter_that_leaves_nothing_is_refused() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let path = dir.join("tags.toml");
    let src = format!(
        "host = \"{}\"\n[load]\nusers = 2\nspawn_rate = 100\n\
         [[endpoints]]\npath = \"/a\"\ntags = [\"browse\"]\n\
         [[endpoints]]\npath = \"/b\"\ntags = [\"slow\", \"cpu\"]\n\
         [[flows]]\nname = \"buy\"\ntags = [\"checkout\"]\n\
         [[flows.steps]]\npath = \"/c\"\n[[flows.steps]]\npath = \"/d\"\ntags = [\"slow\"]\n",
        server.url()
    );
    std::fs::write(&path, src).unwrap();
    let file = path.to_str().unwrap();
    // A flow carries its steps' tags: excluding "slow" leaves it out with /b.
    let out = run(&[
        "run",
        file,
        "--headless",
        "-n",
        "200",
        "--tags",
        "browse,checkout",
        "--exclude-tags",
        "slow",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(server.count("/a"), 200);
    assert_eq!(
        server.count("/b") + server.count("/c") + server.count("/d"),
        0
    );
    // Including "slow" takes /b and the whole flow, not /a.
    let out = run(&["run", file, "--headless", "-n", "300", "--tags", "slow"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(server.count("/a"), 200, "no more /a");
    assert!(server.count("/b") > 0 && server.count("/c") > 0);
    // The flow runs whole (the request budget may end each user's last one, two users
    // here, after its first step).
    assert!(server.count("/c").abs_diff(server.count("/d")) <= 2);
    for (flags, needle) in [
        (
            vec!["--exclude-tags", "browse,cpu,checkout"],
            "--exclude-tags browse,cpu,checkout leaves no endpoint or flow to run (the scenario's tags: browse, checkout, cpu, slow)",
        ),
        (
            vec!["--tags", "chekout"],
            "--tags chekout: no endpoint or flow has the tag \"chekout\"",
        ),
    ] {
        let mut args = vec!["run", file, "--headless", "-t", "1s"];
        args.extend(flags);
        let out = run(&args).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains(needle), "{}", text(&out.stderr));
    }
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "host = \"http://127.0.0.1:9\"\n[[endpoints]]\npath = \"/\"\ntags = \"slow\"\n",
    )
    .unwrap();
    let out = run(&["check", bad.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("4:8: endpoints[0].tags: \"slow\" is not a list of tags"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_connect_from_each_local_address_in_turn() {
    // A server on 127.0.0.1 that notes where each connection comes from.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let peers = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let seen = std::sync::Arc::clone(&peers);
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            *seen.lock().unwrap().entry(peer.ip()).or_insert(0) += 1;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"ok")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let out = run(&[
        "run",
        &format!("{url}/"),
        "--headless",
        "-u",
        "6",
        "-r",
        "1000",
        "-n",
        "3000",
        "--local-ips",
        "127.0.0.2-127.0.0.4",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let peers = peers.lock().unwrap().clone();
    let from: Vec<String> = peers.keys().map(|ip| ip.to_string()).collect();
    assert_eq!(from, ["127.0.0.2", "127.0.0.3", "127.0.0.4"], "{peers:?}");
    assert!(
        peers.values().all(|&n| n == 2),
        "6 users, 2 from each: {peers:?}"
    );
    // An address this machine does not have is refused before anything is sent.
    let out = run(&[
        "run",
        &format!("{url}/"),
        "--headless",
        "-n",
        "5",
        "--local-ips",
        "192.0.2.77",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("192.0.2.77 is not an address of this machine"),
        "{}",
        text(&out.stderr)
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_and_the_run_say_what_caps_a_big_run() {
    let out = run(&["doctor"]).await;
    assert_eq!(out.status.code(), Some(0));
    for needle in ["open files", "ephemeral ports", "memory"] {
        assert!(text(&out.stdout).contains(needle), "{}", text(&out.stdout));
    }
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let fine = run(&["doctor", &file]).await;
    assert_eq!(fine.status.code(), Some(0), "{}", text(&fine.stdout));
    assert!(text(&fine.stdout).contains("Nothing here caps this scenario"));
    let big = run(&["doctor", &file, "-u", "3000000"]).await;
    assert_eq!(big.status.code(), Some(1));
    let said = text(&big.stdout);
    assert!(
        said.contains("--processes ") && said.contains("--local-ips"),
        "{said}"
    );
    // A run says the same before it starts (spawning one user a second, it stays small).
    let warned = run(&[
        "run",
        &file,
        "--headless",
        "-u",
        "3000000",
        "-r",
        "1",
        "-t",
        "1s",
    ])
    .await;
    let err = text(&warned.stderr);
    assert!(
        err.contains("swarm: warning: 3000000 users need about") && err.contains("--processes "),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Input that was silently misread: `-H` in one-URL mode (oha's and curl's header flag,
/// swarm's and Locust's host), `-u` beside stages that set the users, and a scenario that
/// is not UTF-8. Each is refused with exit 2 and a message that says what to type, and
/// nothing reaches the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_that_would_be_ignored_are_refused_not_misread() {
    let server = CountingServer::start().await;
    let url = server.url();
    let header = run(&["run", &url, "-n", "5", "-H", "Authorization: Bearer abc"]).await;
    let said = text(&header.stderr);
    assert_eq!(header.status.code(), Some(2), "{said}");
    assert!(
        said.contains("for a header, use --header \"Authorization: Bearer abc\""),
        "{said}"
    );
    let host = run(&["run", &url, "-n", "5", "-H", "http://127.0.0.1:9"]).await;
    let said = text(&host.stderr);
    assert_eq!(host.status.code(), Some(2), "{said}");
    assert!(said.contains("the URL names the host"), "{said}");
    let capacity = run(&["find-capacity", &url, "-H", "http://127.0.0.1:9"]).await;
    assert_eq!(
        capacity.status.code(),
        Some(2),
        "{}",
        text(&capacity.stderr)
    );

    let dir = tempdir();
    let file = scenario(&dir, &url, "");
    let staged = run(&["run", &file, "--headless", "--stages", "2:2s", "-u", "5"]).await;
    let said = text(&staged.stderr);
    assert_eq!(staged.status.code(), Some(2), "{said}");
    assert!(said.contains("--stages \"5:1m\""), "{said}");
    let src = std::fs::read_to_string(&file).unwrap().replace(
        "[load]\n",
        "[load]\nstages = [{ users = 2, duration = \"2s\" }]\n",
    );
    let staged_file = dir.join("staged.toml");
    std::fs::write(&staged_file, src).unwrap();
    let out = run(&[
        "run",
        staged_file.to_str().unwrap(),
        "--headless",
        "-u",
        "5",
    ])
    .await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("the scenario's [[load.stages]]"), "{said}");

    // A Latin-1 "é" on line 2, column 8: located like every other mistake.
    let latin1 = dir.join("latin1.toml");
    std::fs::write(
        &latin1,
        b"host = \"http://127.0.0.1:9\"\nname = \"caf\xe9\"\n",
    )
    .unwrap();
    for args in [vec!["check"], vec!["run", "--headless"]] {
        let out = run(&[&args[..], &[latin1.to_str().unwrap()]].concat()).await;
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        let place = format!("{}:2:12: byte 0xE9 is not UTF-8", latin1.display());
        assert!(said.contains(&place), "{args:?}: {said}");
    }
    let device = run(&["check", "/dev/zero"]).await;
    assert_eq!(device.status.code(), Some(2));
    assert!(text(&device.stderr).contains("not a regular file"));
    assert_eq!(server.total(), 0, "nothing may reach the server");
    let _ = std::fs::remove_dir_all(dir);
}

/// An arrival rate no machine can schedule is refused with where the limit comes from;
/// the highest one allowed still lets `-t`, SIGTERM and the progress line work (1e10/s
/// used to spin forever, deaf to both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_highest_arrival_rate_keeps_the_clock_and_the_signals() {
    let server = CountingServer::start().await;
    let url = server.url();
    for rate in ["1e10/s", "1e300/s", "0.0000000000000001/h"] {
        let out = run(&["run", &url, "--arrival-rate", rate, "-t", "2s"]).await;
        assert_eq!(out.status.code(), Some(2), "{rate}: {}", text(&out.stderr));
    }
    let dir = tempdir();
    let open = |extra: &str| {
        format!(
            "host = \"{url}\"\n[load]\narrival_rate = {extra}\nmax_users = 20\nstop_timeout = \"0s\"\n[[endpoints]]\npath = \"/\"\n"
        )
    };
    let absurd = dir.join("absurd.toml");
    std::fs::write(&absurd, open("\"1e300/s\"")).unwrap();
    let out = run(&["check", absurd.to_str().unwrap()]).await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(":3:16: load.arrival_rate: \"1e300/s\" is 1e300 iterations a second, above the 1000000/s"),
        "{said}"
    );

    let fastest = dir.join("fastest.toml");
    std::fs::write(&fastest, open("\"1000000/s\"")).unwrap();
    let json = dir.join("fastest.json");
    let started = std::time::Instant::now();
    let (file, json_path) = (fastest.to_str().unwrap(), json.to_str().unwrap());
    let out = run(&["run", file, "--headless", "-t", "3s", "--json", json_path]).await;
    let said = text(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(15), "{said}");
    assert!(
        said.contains("[    2s]"),
        "the progress line moves on:\n{said}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scheduled = doc["arrivals"]["scheduled"].as_u64().unwrap();
    assert!((1..=3_000_001).contains(&scheduled), "{scheduled}");
    // Requests cut at the stop (stop_timeout 0s) may or may not have reached the server.
    let requests = doc["aggregated"]["requests"].as_u64().unwrap();
    assert!(
        (1..=requests).contains(&server.total()),
        "{requests} {}",
        server.total()
    );

    let child = swarm()
        .args(["run", file, "--headless", "-t", "10m"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal("TERM", &child.id().unwrap().to_string());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("SIGTERM stops a run at the highest rate")
        .unwrap();
    assert!(
        text(&out.stdout).contains("Aggregated"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// After kill -9 the CSV files keep their mid-run figures under Locust's names, and the
/// `PREFIX.partial` marker beside them tells a script the run did not finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runs_csv_files_are_marked_unfinished() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let prefix = dir.join("crash");
    let mut child = swarm()
        .args([
            "run",
            &file,
            "--headless",
            "-t",
            "1m",
            "--csv",
            prefix.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stats = dir.join("crash_stats.csv");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&stats)
        .unwrap_or_default()
        .lines()
        .count()
        < 3
        && start.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    assert!(
        std::fs::read_to_string(&stats)
            .unwrap()
            .contains("Aggregated")
    );
    let marker = std::fs::read_to_string(dir.join("crash.partial")).unwrap();
    assert!(marker.contains("did not finish"), "{marker}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Locust's, k6's and oha's habits: each flag is taken with their meaning, or refused
/// with swarm's spelling (clap's "use '-- --vus'" tip misled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flags_locust_k6_and_oha_users_type() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "");
    let csv = dir.join("not/yet/there/run");
    let html = dir.join("report_{u}_{r}_{t}.html");
    // -f FILE (the locustfile flag), -t 1 (seconds), -s 5, --only-summary, --csv into a
    // folder that does not exist, --html with Locust's placeholders, --reset-stats, and
    // k6's threshold spelling.
    let out = run(&[
        "run",
        "-f",
        &file,
        "--headless",
        "-t",
        "1",
        // (-s 0 would cut requests in flight at the stop: failures, exit 1.)
        "-s",
        "5",
        "--only-summary",
        "--reset-stats",
        "--csv",
        csv.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--threshold",
        "p(95)<3000",
    ])
    .await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("for 1s"), "{said}");
    assert!(!said.contains("[    "), "no progress lines: {said}");
    assert!(said.contains("statistics reset (--reset-stats)"), "{said}");
    assert!(
        text(&out.stdout).contains("p95<3000ms"),
        "{}",
        text(&out.stdout)
    );
    assert!(dir.join("not/yet/there/run_stats.csv").exists());
    assert!(dir.join("report_3_100_1.html").exists());

    // --timeout is every request's; -q N is oha's rate limit (the arrival rate).
    let slow = format!("{}/delay/300", server.url());
    let out = run(&["run", &slow, "-n", "3", "--timeout", "50ms", "--json", "-"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["failures"][0]["cause"], "timeout", "{doc}");
    let fast = format!("{}/q", server.url());
    let out = run(&["run", &fast, "-q", "20", "-t", "1s", "--json", "-"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["arrivals"]["scheduled"], 20, "{doc}");
    assert_eq!(server.count("/q"), 20);

    for (args, says) in [
        (
            vec!["run", &file, "--vus", "3"],
            "--vus: swarm spells it -u/--users N",
        ),
        (vec!["run", &file, "-L", "DEBUG"], "swarm has no log levels"),
        (
            vec!["run", &file, "--frobnicate"],
            "--frobnicate: swarm run --help lists every flag",
        ),
    ] {
        let out = run(&args).await;
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
        assert!(!said.contains("use '--"), "{args:?}: {said}");
    }
    let help = text(&run(&["worker", "--help"]).await.stdout);
    assert!(help.contains("[default: 127.0.0.1:5557]"), "{help}");
    let help = text(&run(&["run", "--help"]).await.stdout);
    assert!(help.contains("--expect-workers"), "{help}");
    let _ = std::fs::remove_dir_all(dir);
}

/// --http-debug N (-v): the first N exchanges, and the first failure of each kind per
/// endpoint, on standard error, as curl -v and k6's --http-debug show them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_debug_shows_the_first_exchanges_and_each_first_failure() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let extra = "[[endpoints]]\nname = \"broken\"\npath = \"/status/503\"\n";
    let file = scenario(&dir, &server.url(), extra);
    let out = run(&["run", &file, "-i", "12", "-u", "1", "--http-debug", "1"]).await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let shown = said.matches("--- swarm http-debug: request ").count();
    // The first exchange, and the first 503 of "broken" (once, though it failed more).
    assert!((1..=2).contains(&shown), "{said}");
    assert!(said.contains("--- swarm http-debug: request 1 ("), "{said}");
    assert!(said.contains("< 503 ("), "{said}");
    assert_eq!(said.matches("! failed: HTTP 503").count(), 1, "{said}");
    assert!(said.contains("> host: 127.0.0.1:"), "{said}");
    assert!(text(&out.stdout).contains("Aggregated"));
    let _ = std::fs::remove_dir_all(dir);
}

/// A `--data-file` larger than a request body may be is refused before anything is sent
/// (300 MB had taken 4 GB of memory and never started). The file is sparse: no disk used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_file_above_the_limit_is_refused() {
    let dir = crate::support::tempdir();
    let path = dir.join("big.txt");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    let out = run(&[
        "run",
        "http://127.0.0.1:9/",
        "--headless",
        "--data-file",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = crate::support::text(&out.stderr);
    assert!(err.contains("a request body is at most 16 MB"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

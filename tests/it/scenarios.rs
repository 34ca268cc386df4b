//! Every shipped scenario loads; every invalid fixture fails with its exact message.

use std::path::Path;
use swarm::scenario::{Expect, Plan, Wait};

#[test]
fn every_shipped_scenario_loads() {
    let mut seen = 0;
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let tasks = plan.active_endpoints().count() + plan.flows.len();
            assert!(tasks > 0, "{}", path.display());
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "expected demo.toml and the example scenarios, found {seen}"
    );
}

#[test]
fn the_issue_example_means_what_it_says() {
    let plan = Plan::load(Path::new("scenarios/json_api.toml")).unwrap();
    assert_eq!(plan.name.as_deref(), Some("Testing types API"));
    assert_eq!(plan.load.users, 50);
    assert_eq!(plan.load.spawn_rate, 10.0);
    assert_eq!(
        plan.load.run_time,
        Some(std::time::Duration::from_secs(120))
    );
    let s = std::time::Duration::from_secs;
    assert_eq!(plan.load.wait, Wait::Uniform(s(1), s(3)));
    let add = &plan.endpoints[1];
    assert_eq!(add.name, "add test");
    assert_eq!(add.method, http::Method::POST);
    assert_eq!(add.headers["content-type"], "application/json");
    assert_eq!(add.headers["user-agent"], "swarm");
    assert_eq!(add.headers["host"], "127.0.0.1:5000");
    assert_eq!(add.expect, Expect::Statuses(vec![(201, 201), (204, 204)]));
    let body: serde_json::Value = serde_json::from_slice(&add.body).unwrap();
    assert_eq!(body["name"], "load testing");
    assert_eq!(
        plan.endpoints[2].target.to_string(),
        "/tests?q=load&limit=20"
    );
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let plan = Plan::parse(
        "host = \"http://localhost:8000/api/\"\n[[endpoints]]\npath = \"/x\"\n",
        "t.toml",
    )
    .unwrap();
    let e = &plan.endpoints[0];
    assert_eq!(e.name, "GET /x");
    assert_eq!(e.weight, 1);
    assert_eq!(e.target.to_string(), "/api/x");
    assert_eq!(e.origin.port, 8000);
    assert_eq!(e.timeout, swarm::scenario::DEFAULT_TIMEOUT);
    assert!(e.expect.accepts(399) && !e.expect.accepts(400));
    assert_eq!(
        (plan.load.users, plan.load.spawn_rate, plan.load.run_time),
        (1, 1.0, None)
    );
}

#[test]
fn form_and_raw_bodies() {
    let src = r#"
host = "http://127.0.0.1:1"
[[endpoints]]
method = "post"
path = "/f"
form = { user = "a b", n = 3, tag = ["x", 2, true], none = [] }
[[endpoints]]
method = "PUT"
path = "http://127.0.0.1:2/raw"
body = "<x/>"
content_type = "application/xml"
"#;
    let plan = Plan::parse(src, "t.toml").unwrap();
    // A list is its name once per value, as requests sends one; an empty list is nothing.
    assert_eq!(
        &plan.endpoints[0].body[..],
        b"n=3&tag=x&tag=2&tag=true&user=a+b"
    );
    assert_eq!(
        plan.endpoints[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(&plan.endpoints[1].body[..], b"<x/>");
    assert_eq!(plan.endpoints[1].headers["content-type"], "application/xml");
    assert_eq!(plan.endpoints[1].origin.port, 2);
}

/// (fixture, the exact error message).
const INVALID: &[(&str, &str)] = &[
    (
        "bad_threshold",
        "4:7: thresholds.p95: \"300ms\" needs a comparison first: < <= > >=, e.g. \"< 300ms\"",
    ),
    (
        "all_weights_zero",
        "3:1: endpoints: every endpoint has weight 0; give at least one a weight of 1 or more",
    ),
    (
        "bad_header",
        "4:28: defaults.headers.Bad Header: \"Bad Header\" is not a valid header name",
    ),
    (
        "bad_host",
        "1:8: host: \"127.0.0.1:5000\" is not an http:// or https:// URL; write e.g. \"http://127.0.0.1:8080\"",
    ),
    (
        "bad_method",
        "4:10: endpoints[0].method: \"GTE\" is not an HTTP method; did you mean \"GET\"? (one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)",
    ),
    (
        "bad_run_time",
        "4:12: load.run_time: \"2 minutes\" has an unknown unit \"minutes\"; write \"2m\" (units: ms, s, m, h)",
    ),
    (
        "bad_status",
        "5:21: endpoints[0].expect.status: 1000 is not an HTTP status code (100 to 599) or a range such as \"2xx\" or \"200-299\"",
    ),
    (
        "bad_wait",
        "6:8: load.wait: \"1s-3s\" is neither a duration nor a range; write \"1s..3s\"",
    ),
    (
        "unknown_wait_mode",
        "5:8: load.wait.pace: \"pace\" is not a think-time mode; write e.g. \"500ms\", \"1s..3s\", { pacing = \"2s\" } or { throughput = 0.5 }",
    ),
    (
        "users_and_top_level_endpoints",
        "3:1: endpoints: a scenario with [[users]] keeps its tasks in the user types; move this into one, e.g. [[users.endpoints]]",
    ),
    (
        "user_type_without_tasks",
        "8:1: users[1].endpoints: user type \"idle\" has nothing to run; add [[users.endpoints]] or [[users.flows]] with a weight above 0",
    ),
    (
        "user_type_without_name",
        "3:1: users[0].name: is missing; give each user type a name, e.g. name = \"visitor\"",
    ),
    (
        "zero_throughput",
        "5:8: load.wait.throughput: 0 is not a throughput; give tasks per second per user above 0 (at least one a day), e.g. 0.5",
    ),
    (
        "endpoint_typo",
        "8:1: endpoints[1].wieght: unknown key \"wieght\"; did you mean \"weight\"? (known keys: name, method, path, weight, headers, json, body, content_type, form, expect, timeout, thresholds, query, extract, redirects, tags, stream, stream_tokens, stream_done, stream_max, ws, send, send_binary, receive, hold, close)",
    ),
    (
        "missing_host",
        "1:1: host: is missing; add host = \"http://127.0.0.1:8080\" at the top",
    ),
    (
        "negative_weight",
        "8:10: endpoints[1].weight: -2 is out of range; write a whole number >= 0",
    ),
    (
        "open_with_users",
        "4:9: load.users: does not apply with arrival_rate (open model); cap concurrent users with max_users",
    ),
    (
        "bad_arrival_rate",
        "3:16: load.arrival_rate: \"lots\" is not a rate; write iterations per time unit, e.g. \"200/s\" or \"90/m\"",
    ),
    (
        "mixed_stages",
        "5:1: load.stages[1]: mixes user stages and arrival-rate stages; use one kind throughout",
    ),
    (
        "no_endpoints",
        "1:1: endpoints: no endpoints; add an [[endpoints]] table with a path",
    ),
    (
        "relative_path",
        "4:8: endpoints[0].path: \"tests\" must start with \"/\" (or be an absolute http:// URL); write \"/tests\"",
    ),
    (
        "run_time_number",
        "4:12: load.run_time: 60 needs a unit and quotes; write e.g. \"60s\"",
    ),
    (
        "syntax_error",
        "4:9: invalid TOML: extra `=`, expected nothing",
    ),
    (
        "two_bodies",
        "7:8: endpoints[0].body: an endpoint takes at most one body, but has json and body; keep one",
    ),
    (
        "unknown_key",
        "5:1: load.usrs: unknown key \"usrs\"; did you mean \"users\"? (known keys: users, spawn_rate, run_time, wait, stop_timeout, stages, arrival_rate, max_users, queue_timeout, iterations)",
    ),
    (
        "zero_spawn_rate",
        "4:14: load.spawn_rate: 0 must be above 0; write e.g. 10 or 0.5",
    ),
    (
        "port_out_of_range",
        "1:8: host: port \"99999\" is out of range; a port is a number from 1 to 65535, e.g. \"http://127.0.0.1:8080\"",
    ),
    (
        "negative_port",
        "1:8: host: port \"-1\" is out of range; a port is a number from 1 to 65535, e.g. \"http://127.0.0.1:8080\"",
    ),
    (
        "absolute_path_port",
        "4:8: endpoints[0].path: port \"70000\" is out of range; a port is a number from 1 to 65535, e.g. \"http://localhost:8080\"",
    ),
    (
        "credentials_in_host",
        "1:8: host: has credentials in it (admin:***@127.0.0.1:8080); swarm does not send them from the URL, so they never show in a report: remove them and send a header instead, e.g. [defaults] headers = { Authorization = \"Basic ...\" }",
    ),
    (
        "zero_timeout",
        "4:11: defaults.timeout: must be longer than 0s; write e.g. \"30s\"",
    ),
    (
        "zero_run_time",
        "4:12: load.run_time: must be longer than 0s; write e.g. \"30s\"",
    ),
    (
        "zero_arrival_rate",
        "4:16: load.arrival_rate: 0/s would start no iteration at all; give a rate above 0, e.g. \"10/s\", or [[load.stages]] that ramp up from it",
    ),
    (
        "empty_body_contains",
        "5:28: endpoints[0].expect.body_contains: is empty, so every body would pass; give the text the body must contain, or leave it out",
    ),
    (
        "fail_ratio_over_100",
        "4:14: thresholds.fail_ratio: \"150%\" is above 100%; a failure ratio goes from 0% to 100%, e.g. \"< 1%\" or \"< 0.01\"",
    ),
    (
        "rps_nan",
        "4:7: thresholds.rps: \"nan\" is not a number; write e.g. \"< 1%\" or \"> 100\"",
    ),
    (
        "tiny_spawn_rate",
        "5:14: load.spawn_rate: 0.0000001 is one user every 2777h46m40s; the smallest spawn rate is one user an hour (0.000278)",
    ),
    (
        "content_length_mismatch",
        "7:30: endpoints[0].headers.Content-Length: says \"100\" but the body is 5 bytes; remove it (swarm sets Content-Length itself)",
    ),
    (
        "transfer_encoding",
        "4:33: defaults.headers.Transfer-Encoding: is set by swarm from each request's body (sent with a Content-Length); remove this header",
    ),
    (
        "expect_not_a_table",
        "5:10: endpoints[0].expect: invalid type: string \"200\", expected a table, e.g. expect = { status = [200] }",
    ),
    (
        "deep_nesting",
        "5:88: endpoints[0].json[0][0][0][0][0][0][0][0][0][0][0][0][0][0]…: invalid TOML: nested too deeply (more than about 80 levels of arrays or tables)",
    ),
];

#[test]
fn every_invalid_fixture_fails_with_its_message() {
    for (name, expected) in INVALID {
        let path = format!("tests/fixtures/invalid/{name}.toml");
        let err = Plan::load(Path::new(&path)).expect_err(name).to_string();
        assert_eq!(err, format!("{path}:{expected}"));
    }
    let count = std::fs::read_dir("tests/fixtures/invalid").unwrap().count();
    assert_eq!(
        count,
        INVALID.len(),
        "every fixture has an expected message"
    );
}

#[test]
fn every_scenario_file_is_listed_in_the_scenarios_readme() {
    let readme = std::fs::read_to_string("scenarios/README.md").unwrap();
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".toml") {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "scenarios/README.md's table does not list {name}"
            );
        }
    }
}

#[test]
fn a_missing_file_says_so() {
    let err = Plan::load(Path::new("scenarios/nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot read scenarios/nope.toml:"), "{err}");
}

#[test]
fn a_raw_body_template_can_send_a_json_number() {
    struct Ctx(fastrand::Rng);
    impl swarm::scenario::template::Context for Ctx {
        fn user_id(&self) -> u64 {
            3
        }
        fn next_seq(&mut self) -> u64 {
            0
        }
        fn rng(&mut self) -> &mut fastrand::Rng {
            &mut self.0
        }
        fn var(&self, _: &str) -> Option<&str> {
            None
        }
    }
    let src = "host = \"http://127.0.0.1:1\"\n[[endpoints]]\nmethod = \"POST\"\npath = \"/p\"\ncontent_type = \"application/json\"\nbody = '{\"age\": {{random.int(18, 18)}}, \"user\": {\"id\": {{user.id}}}}'\n";
    let plan = Plan::parse(src, "t.toml").unwrap();
    let body = plan.endpoints[0]
        .dynamic
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap();
    let text = body.render_string(&mut Ctx(fastrand::Rng::new())).unwrap();
    assert_eq!(text, "{\"age\": 18, \"user\": {\"id\": 3}}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["age"], 18);
}

//! User journeys: sign up with random credentials, sign in, call authenticated routes
//! with the extracted token; cookies per user; data files; checks. Against a server the
//! test binds on 127.0.0.1:0.

use crate::support::{started, until_stopped, wait_for};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swarm::engine::Engine;
use swarm::scenario::Plan;
use swarm::stats::{FailureKind, RunState, Snapshot};
use tokio::net::TcpListener;

/// What the auth server saw.
#[derive(Default)]
pub struct Seen {
    users: HashMap<String, String>,
    tokens: HashMap<String, String>,
    sessions: HashMap<String, String>,
    signups: u64,
    conflicts: u64,
    signins: u64,
    bad_signins: u64,
    me_ok: u64,
    denied: u64,
    cookie_missing: u64,
    cookie_mismatch: u64,
}

/// `POST /signup {username, password}` → 201 (409 when the name is taken);
/// `POST /signin {username, password}` → 200 `{"token": ...}` and a `sid` cookie;
/// `GET /me` with `Authorization: Bearer TOKEN` → 200 `{"username": ...}`, else 401.
/// `/me` also checks that the `sid` cookie belongs to the token's user.
async fn auth_server() -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = Arc::clone(&seen);
    crate::support::accept_each(listener, move |stream| {
        let s = Arc::clone(&s);
        async move {
            let service = service_fn(move |req| handle(req, Arc::clone(&s)));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    });
    (url, seen)
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (auth, cookie) = (header("authorization"), header("cookie"));
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let field = |k: &str| input[k].as_str().unwrap_or("").to_string();
    let mut s = seen.lock().unwrap();
    Ok(match path.as_str() {
        "/signup" => {
            let (u, p) = (field("username"), field("password"));
            if u.len() < 8 || p.len() < 8 {
                return Ok(reply(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "too short"}),
                ));
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = s.users.entry(u) {
                slot.insert(p);
                s.signups += 1;
                reply(StatusCode::CREATED, json!({"ok": true}))
            } else {
                s.conflicts += 1;
                reply(StatusCode::CONFLICT, json!({"error": "taken"}))
            }
        }
        "/signin" => {
            let (u, p) = (field("username"), field("password"));
            if s.users.get(&u) == Some(&p) {
                s.signins += 1;
                let token = format!("t-{u}-{}", s.signins);
                let sid = format!("s{}", s.signins);
                s.tokens.insert(token.clone(), u.clone());
                s.sessions.insert(sid.clone(), u);
                let mut r = reply(StatusCode::OK, json!({"token": token, "ttl": 60}));
                r.headers_mut().insert(
                    "set-cookie",
                    format!("sid={sid}; Path=/; HttpOnly").parse().unwrap(),
                );
                r
            } else {
                s.bad_signins += 1;
                reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "bad credentials"}),
                )
            }
        }
        "/me" => {
            let token = auth.strip_prefix("Bearer ").unwrap_or("");
            match s.tokens.get(token).cloned() {
                Some(user) => {
                    let sid = cookie
                        .split("; ")
                        .find_map(|c| c.strip_prefix("sid="))
                        .map(str::to_string);
                    match sid.and_then(|sid| s.sessions.get(&sid).cloned()) {
                        None => s.cookie_missing += 1,
                        Some(owner) if owner != user => s.cookie_mismatch += 1,
                        Some(_) => {}
                    }
                    s.me_ok += 1;
                    reply(StatusCode::OK, json!({"username": user, "admin": false}))
                }
                None => {
                    s.denied += 1;
                    reply(StatusCode::UNAUTHORIZED, json!({"error": "who are you?"}))
                }
            }
        }
        _ => reply(StatusCode::NOT_FOUND, json!({})),
    })
}

const JOURNEY: &str = r#"
name = "sign-up journey"
host = "{host}"

[load]
users = 50
spawn_rate = 500
wait = "5ms"

# Each user's own credentials, drawn once when it starts.
[vars]
username = "user-{{user.id}}-{{random.alnum(10)}}"
password = "{{random.alnum(16)}}"

[[on_start]]
name = "sign up"
method = "POST"
path = "/signup"
json = { username = "{{username}}", password = "{{password}}" }
expect = { status = [201] }

[[on_start]]
name = "sign in"
method = "POST"
path = "/signin"
json = { username = "{{username}}", password = "{{password}}" }
extract = { token = "/token" }

[[endpoints]]
name = "me"
path = "/me"
headers = { Authorization = "Bearer {{token}}" }
expect = { status = ["2xx"], body_contains = "username", json = { "/admin" = false } }
"#;

fn row<'a>(snap: &'a Snapshot, name: &str) -> &'a swarm::stats::RowStats {
    snap.rows
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name} in {:?}", snap.rows))
}

async fn run_until(engine: &Engine, pred: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    wait_for(engine, Duration::from_secs(20), pred).await;
    crate::support::stop(engine).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_sign_up_sign_in_and_use_their_token() {
    let (url, seen) = auth_server().await;
    let engine = started(JOURNEY, &url);
    let snap = run_until(&engine, |s| {
        s.rows.iter().any(|r| r.name == "me" && r.requests >= 500)
    })
    .await;
    let s = seen.lock().unwrap();
    assert_eq!(
        (s.signups, s.conflicts),
        (50, 0),
        "unique random credentials"
    );
    assert_eq!(
        (s.signins, s.bad_signins),
        (50, 0),
        "same credentials at sign-in"
    );
    assert_eq!(s.denied, 0, "every /me carried its user's token");
    assert_eq!(s.cookie_missing, 0, "the sid cookie came back");
    assert_eq!(s.cookie_mismatch, 0, "cookies are not shared between users");
    assert_eq!(row(&snap, "sign up").requests, 50);
    assert_eq!(row(&snap, "sign in").requests, 50);
    let me = row(&snap, "me");
    assert_eq!(me.failures, 0, "{:?}", snap.failures);
    assert_eq!(me.requests, s.me_ok);
    assert_eq!(snap.stopped_users, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_checks_and_extractions_have_their_own_causes() {
    let (url, _seen) = auth_server().await;
    let src = JOURNEY
        .replace("users = 50", "users = 4")
        .replace("\"/admin\" = false", "\"/admin\" = true")
        + "\n[[endpoints]]\nname = \"me again\"\npath = \"/me\"\nheaders = { Authorization = \"Bearer {{token}}\" }\nextract = { role = \"/role\" }\n";
    let engine = started(&src, &url);
    let snap = run_until(&engine, |s| s.total.requests >= 100).await;
    let me = row(&snap, "me");
    assert_eq!(
        me.failures, me.requests,
        "the /admin check fails every time"
    );
    let cause = |name: &str, kind: FailureKind| {
        snap.failures
            .iter()
            .find(|f| f.name == name && f.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} failure for {name}: {:?}", snap.failures))
            .message
            .clone()
    };
    assert_eq!(
        cause("me", FailureKind::Check),
        "me: /admin is false, expected true"
    );
    assert_eq!(
        cause("me again", FailureKind::Extract),
        "me again: JSON pointer /role found nothing for {{role}}"
    );
    // Passing checks pass: sign-up expects 201 and gets it.
    assert_eq!(row(&snap, "sign up").failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_data_file_gives_each_row_to_one_user_and_runs_out() {
    let (url, seen) = auth_server().await;
    let dir = std::env::temp_dir().join(format!("swarm-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("username,password\n");
    for i in 0..5 {
        csv += &format!("account-{i:03},secret-{i:03}xx\n");
    }
    std::fs::write(dir.join("accounts.csv"), csv).unwrap();
    let src = JOURNEY
        .replace("users = 50", "users = 8")
        .replace(
            "[vars]\nusername = \"user-{{user.id}}-{{random.alnum(10)}}\"\npassword = \"{{random.alnum(16)}}\"",
            "[data.accounts]\nfile = \"accounts.csv\"\nmode = \"unique\"",
        )
        .replace("{{username}}", "{{accounts.username}}")
        .replace("{{password}}", "{{accounts.password}}")
        .replace("{host}", &url);
    let file = dir.join("journey.toml");
    std::fs::write(&file, &src).unwrap();
    let plan = Plan::load(&file).unwrap();
    let engine = Engine::spawn(&plan);
    engine.send(swarm::engine::Command::Start);
    let snap = run_until(&engine, |s| {
        s.stopped_users == 3 && s.rows.iter().any(|r| r.name == "me" && r.requests >= 50)
    })
    .await;
    let s = seen.lock().unwrap();
    assert_eq!(s.signups, 5, "five rows, each signed up once");
    assert_eq!(s.conflicts, 0);
    let mut names: Vec<&String> = s.users.keys().collect();
    names.sort();
    assert_eq!(names[0], "account-000");
    assert_eq!(names[4], "account-004");
    let ran_out = snap
        .failures
        .iter()
        .find(|f| f.kind == FailureKind::DataExhausted)
        .expect("three users found no row");
    assert_eq!(ran_out.count, 3);
    assert!(
        ran_out.message.contains("accounts.csv ran out"),
        "{}",
        ran_out.message
    );
    assert_eq!(snap.state, RunState::Stopped);
}

#[test]
fn unknown_variables_and_bad_templates_are_refused_at_load_time() {
    let err = |src: &str| {
        Plan::parse(&src.replace("{host}", "http://127.0.0.1:1"), "j.toml")
            .unwrap_err()
            .to_string()
    };
    let e = err(&JOURNEY.replace("Bearer {{token}}", "Bearer {{tokn}}"));
    assert!(
        e.starts_with("j.toml:32:29: endpoints[0].headers.Authorization: {{tokn}} is not a variable of this scenario; did you mean \"token\"?"),
        "{e}"
    );
    let e = err(&JOURNEY.replace("{{random.alnum(10)}}", "{{random.alnum(ten)}}"));
    assert!(
        e.contains("vars.username: {{random.alnum(ten)}}: the length must be"),
        "{e}"
    );
    let e = err(&JOURNEY.replace("\"/token\"", "\"token\""));
    assert!(
        e.contains("on_start[1].extract.token: \"token\" is not a JSON pointer"),
        "{e}"
    );
    let e = err(&JOURNEY.replace("\"{{password}}\" }\nexpect", "\"{{password\" }\nexpect"));
    assert!(e.contains("without a closing"), "{e}");
    let e = err(&(JOURNEY.to_string() + "[data.x]\nfile = \"nope.csv\"\n"));
    assert!(e.contains("data.x.file: cannot read nope.csv"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_runs_its_steps_in_order_with_templated_paths_under_one_name() {
    let server = crate::support::CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 3
spawn_rate = 100

[[flows]]
name = "browse"
[[flows.steps]]
name = "item"
path = "/item/{{seq}}"
query = { q = "a b&c", user = "{{user.id}}", id = [7, "{{user.id}}"] }
[[flows.steps]]
path = "/after"
"#;
    let engine = started(src, &server.url());
    let snap = run_until(&engine, |s| s.total.requests >= 300).await;
    let item = row(&snap, "item");
    let after = row(&snap, "GET /after");
    assert_eq!(
        snap.rows.len(),
        2,
        "a templated path keeps one row: {:?}",
        snap.rows
    );
    // Each flow sends "item" then "/after": at a stop, at most one flow per user is cut.
    assert!(item.requests >= after.requests && item.requests <= after.requests + 3);
    assert_eq!(server.count("/after"), after.requests);
    let items: Vec<String> = server
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("/item/"))
        .collect();
    assert_eq!(
        items.len() as u64,
        item.requests,
        "{{seq}} made every path unique"
    );
    assert!(
        items
            .iter()
            .all(|p| p.contains("?id=7&id=") && p.contains("&q=a+b%26c&user=")),
        "{items:?}"
    );
    assert!(items.iter().any(|p| p.starts_with("/item/0?")), "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_user_fails_on_start_the_run_ends_and_says_why() {
    let url = crate::support::refused_url().await;
    let engine = started(&JOURNEY.replace("users = 50", "users = 5"), &url);
    let snap = until_stopped(&engine, Duration::from_secs(10)).await;
    assert_eq!(snap.stopped_users, 5);
    assert_eq!(row(&snap, "sign up").failures, 5);
    assert_eq!(row(&snap, "me").requests, 0);
    let report = swarm::report::text::render(&snap, "t", 80);
    assert!(
        report.contains("5 users stopped: a step of their on_start failed"),
        "{report}"
    );
}

/// `[vars]` that double at every step are refused at load time with the variable and its
/// size (39 doublings aborted the process with a 1 GB allocation); a template that uses an
/// extracted value, whose size is known only at run time, fails with its own cause and
/// sends nothing (the run goes on and says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_that_would_expand_without_bound_are_refused_or_fail_alone() {
    let mut doubling = String::from("host = \"http://127.0.0.1:9\"\n[vars]\nv0 = \"xx\"\n");
    for i in 1..40 {
        doubling += &format!("v{i} = \"{{{{v{}}}}}{{{{v{}}}}}\"\n", i - 1, i - 1);
    }
    doubling += "[[endpoints]]\npath = \"/\"\n";
    let e = Plan::parse(&doubling, "double.toml").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (27, "vars.v24"), "{e}");
    assert!(e.message.contains("expands to up to 33554432 bytes"), "{e}");
    assert!(
        e.message
            .contains("{{v23}} alone holds up to 16777216 bytes"),
        "{e}"
    );

    let server = crate::support::CountingServer::start().await;
    let nine_mb = "a".repeat(9 << 20);
    let src = format!(
        "host = \"{}\"\n[load]\nusers = 1\nspawn_rate = 10\niterations = 3\n\
         [[on_start]]\nname = \"fetch\"\nmethod = \"POST\"\npath = \"/echo\"\nbody = \"{nine_mb}\"\n\
         extract = {{ tok = {{ regex = \"(a+)\" }} }}\n\
         [[endpoints]]\nname = \"send twice\"\nmethod = \"POST\"\npath = \"/twice\"\nbody = \"{{{{tok}}}}{{{{tok}}}}\"\n",
        server.url()
    );
    let engine = started(&src, &server.url());
    let snap = until_stopped(&engine, Duration::from_secs(20)).await;
    let row = snap
        .rows
        .iter()
        .find(|r| r.name.contains("send twice"))
        .unwrap();
    assert_eq!((row.requests, row.failures), (3, 3));
    let group = snap
        .failures
        .iter()
        .find(|f| f.kind == FailureKind::TemplateTooLarge)
        .expect("a template_too_large failure");
    assert!(
        group.message.contains("would expand past 16 MB"),
        "{}",
        group.message
    );
    assert_eq!(server.count("/twice"), 0, "nothing is sent");
    assert_eq!(server.count("/echo"), 1);
}

/// Header values from a data file, as a server receives them: UTF-8 goes as its bytes (as
/// curl sends it; it had been refused as "not a valid value"), and a value with a line
/// break is never sent (it would add a header of its own): the request fails with cause
/// `variable`, saying which header and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_from_data_go_as_utf8_and_line_breaks_are_not_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Each request's X-Name and X-Static as bytes, and whether it carried X-Injected.
    type Head = (Option<Vec<u8>>, Option<Vec<u8>>, bool);
    let heads: Arc<Mutex<Vec<Head>>> = Arc::default();
    let h = Arc::clone(&heads);
    let server = crate::support::accept_each(listener, move |tcp| {
        let h = Arc::clone(&h);
        async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let h = Arc::clone(&h);
                async move {
                    let get = |n: &str| req.headers().get(n).map(|v| v.as_bytes().to_vec());
                    let injected = req.headers().contains_key("x-injected");
                    h.lock()
                        .unwrap()
                        .push((get("x-name"), get("x-static"), injected));
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        }
    });
    let dir = crate::support::tempdir();
    std::fs::write(
        dir.join("people.csv"),
        "name,note\nJosé,fine\n\"Eve\",\"a\r\nX-Injected: 1\"\n",
    )
    .unwrap();
    let src = format!(
        r#"host = "{url}"
[load]
users = 2
spawn_rate = 100
[data.people]
file = "people.csv"
mode = "unique"
[[endpoints]]
path = "/"
headers = {{ X-Name = "{{{{people.name}}}}", X-Static = "Zoë", X-Note = "{{{{people.note}}}}" }}
"#
    );
    let file = dir.join("s.toml");
    std::fs::write(&file, src).unwrap();
    let engine = Engine::spawn(&Plan::load(&file).unwrap());
    engine.send(swarm::engine::Command::Start);
    let snap = run_until(&engine, |s| s.total.requests >= 40 && s.total.failures >= 5).await;
    server.abort();
    let heads = heads.lock().unwrap();
    // Every request the server saw is user 0's, with José and Zoë as UTF-8 bytes.
    assert_eq!(
        heads.len() as u64,
        snap.total.requests - snap.total.failures
    );
    for (name, fixed, injected) in heads.iter() {
        assert_eq!(name.as_deref(), Some("José".as_bytes()));
        assert_eq!(fixed.as_deref(), Some("Zoë".as_bytes()));
        assert!(!injected);
    }
    // User 1's requests were not sent, and say why.
    let f = &snap.failures[0];
    assert_eq!((f.kind, snap.failures.len()), (FailureKind::Variable, 1));
    assert!(
        f.message
            .contains("header x-note would be \"a\\r\\nX-Injected: 1\"")
            && f.message.contains("a line break"),
        "{}",
        f.message
    );
}

/// A scenario that asks for gzip, deflate or br (as a browser does) gets its checks and
/// extraction run on the decoded text, as Locust's and k6's clients do: the JSON had been
/// read compressed, so every check failed and every extraction found nothing. The bytes
/// counted stay the bytes received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bodies_are_checked_and_extracted_decoded() {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let s = Arc::clone(&seen);
    let server = crate::support::accept_each(listener, move |tcp| {
        let s = Arc::clone(&s);
        async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let s = Arc::clone(&s);
                async move {
                    *s.lock()
                        .unwrap()
                        .entry(req.uri().path().into())
                        .or_default() += 1;
                    let json = br#"{"id": 7, "name": "seven"}"#;
                    let asked = req
                        .headers()
                        .get("accept-encoding")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    let (coding, body) = if asked.contains("gzip") {
                        let mut z = flate2::write::GzEncoder::new(
                            Vec::new(),
                            flate2::Compression::default(),
                        );
                        z.write_all(json).unwrap();
                        ("gzip", z.finish().unwrap())
                    } else {
                        let mut z = flate2::write::ZlibEncoder::new(
                            Vec::new(),
                            flate2::Compression::default(),
                        );
                        z.write_all(json).unwrap();
                        ("deflate", z.finish().unwrap())
                    };
                    let response = Response::builder()
                        .header("content-encoding", coding)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        }
    });
    let src = format!(
        r#"host = "{url}"
[load]
users = 2
spawn_rate = 100
[[flows]]
name = "items"
[[flows.steps]]
name = "gzip"
path = "/item"
headers = {{ Accept-Encoding = "gzip, deflate, br" }}
expect = {{ body_contains = "seven", json = {{ "/id" = 7 }} }}
extract = {{ id = "/id" }}
[[flows.steps]]
name = "deflate"
path = "/item/{{{{id}}}}"
headers = {{ Accept-Encoding = "deflate" }}
expect = {{ body_contains = "seven" }}
"#
    );
    let engine = started(&src, &url);
    let snap = run_until(&engine, |s| s.total.requests >= 40).await;
    server.abort();
    assert_eq!(snap.total.failures, 0, "{:#?}", snap.failures);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.values().sum::<u64>(), snap.total.requests, "{seen:?}");
    // The extracted id went into the second step's path.
    assert_eq!(
        seen.get("/item/7").copied(),
        Some(row(&snap, "deflate").requests)
    );
    // The bytes counted are the compressed ones (the JSON is 26 bytes).
    let gzip = row(&snap, "gzip");
    assert!(
        gzip.bytes > 0 && gzip.bytes / gzip.requests != 26,
        "{}",
        gzip.bytes
    );
}

//! Unit tests of `document`.
use super::*;

const SRC: &str = r#"# my scenario
host = "http://127.0.0.1:5000"   # the API

[load]
users = 5   # start small
spawn_rate = 1

# the list
[[endpoints]]
name = "list"
path = "/items"   # GET
weight = 3

[[endpoints]]
name = "add"
method = "POST"
path = "/items"
json = { name = "x", n = 1 }
"#;

fn doc() -> ScenarioDoc {
    ScenarioDoc::from_text(SRC, None).unwrap()
}

#[test]
fn reads_endpoints_as_fields() {
    let e = doc().endpoints();
    assert_eq!(e[0].name, "list");
    assert_eq!(e[0].method, "GET");
    assert_eq!(e[0].weight, "3");
    assert_eq!(e[1].body_kind, BodyKind::Json);
    let json: serde_json::Value = serde_json::from_str(&e[1].body).unwrap();
    assert_eq!(json, serde_json::json!({ "name": "x", "n": 1 }));
}

#[test]
fn edits_keep_comments_and_touch_only_what_changed() {
    let mut d = doc();
    let mut spec = d.endpoints()[0].clone();
    spec.weight = "7".into();
    d.set_endpoint(Some(0), &spec).unwrap();
    d.set_users(12).unwrap();
    let text = d.text();
    assert_eq!(
        text,
        SRC.replace("weight = 3", "weight = 7")
            .replace("users = 5 ", "users = 12 ")
    );
    assert!(d.is_dirty());
}

#[test]
fn json_body_edits_round_trip() {
    let mut d = doc();
    let mut spec = d.endpoints()[1].clone();
    spec.body = r#"{"name": "new", "tags": ["a", "b"], "nested": {"k": true}}"#.into();
    let plan = d.set_endpoint(Some(1), &spec).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&plan.endpoints[1].body).unwrap();
    assert_eq!(sent["tags"][1], "b");
    assert_eq!(sent["nested"]["k"], true);
    assert!(d.text().contains("json = { name = \"new\""), "{}", d.text());
}

#[test]
fn invalid_edits_are_refused_and_leave_the_document_alone() {
    let mut d = doc();
    let before = d.text();
    let mut spec = d.endpoints()[1].clone();
    spec.body = "{not json".into();
    assert!(
        d.set_endpoint(Some(1), &spec)
            .unwrap_err()
            .contains("invalid JSON")
    );
    spec = d.endpoints()[0].clone();
    spec.path = "items".into();
    let err = d.set_endpoint(Some(0), &spec).unwrap_err();
    assert!(err.contains("must start with \"/\""), "{err}");
    spec = d.endpoints()[0].clone();
    spec.method = "FETCH".into();
    assert!(d.set_endpoint(Some(0), &spec).is_err());
    assert_eq!(d.text(), before);
}

#[test]
fn add_duplicate_remove() {
    let mut d = doc();
    let spec = EndpointSpec {
        method: "DELETE".into(),
        path: "/items/1".into(),
        weight: "1".into(),
        ..Default::default()
    };
    let plan = d.set_endpoint(None, &spec).unwrap();
    assert_eq!(plan.endpoints[2].name, "DELETE /items/1");
    let plan = d.duplicate_endpoint(0).unwrap();
    assert_eq!(plan.endpoints[1].name, "list (copy)");
    let plan = d.remove_endpoint(1).unwrap();
    assert_eq!(plan.endpoints.len(), 3);
    assert!(d.remove_endpoint(0).is_ok());
    assert!(d.set_weight(0, 0).is_ok());
    assert!(d.set_weight(1, 0).unwrap_err().contains("weight 0"));
}

#[test]
fn new_scenarios_need_an_endpoint() {
    let mut d = ScenarioDoc::new_scenario(None, "http://127.0.0.1:8080", &Default::default());
    assert!(d.plan().unwrap_err().to_string().contains("no endpoints"));
    let spec = EndpointSpec {
        method: "GET".into(),
        path: "/".into(),
        weight: "1".into(),
        ..Default::default()
    };
    assert!(d.set_endpoint(None, &spec).is_ok());
    assert_eq!(d.host(), "http://127.0.0.1:8080");
}

/// SRC in a file of its own folder, opened: (folder, file, document).
fn opened(tag: &str) -> (PathBuf, PathBuf, ScenarioDoc) {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(&path, SRC).unwrap();
    let (doc, _) = ScenarioDoc::open(&path).unwrap();
    (dir, path, doc)
}

#[test]
fn saves_atomically_and_tracks_dirtiness() {
    let (dir, path, mut d) = opened("swarm-doc");
    assert!(!d.is_dirty());
    d.set_spawn_rate(2.5).unwrap();
    assert!(d.is_dirty());
    d.save(Overwrite::Check).unwrap();
    assert!(!d.is_dirty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("spawn_rate = 2.5") && text.contains("# start small"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_changed_on_disk_is_not_overwritten_unless_asked() {
    let (dir, path, mut d) = opened("swarm-doc-changed");
    d.set_users(7).unwrap();
    let theirs = SRC.replace("# start small", "# edited elsewhere");
    std::fs::write(&path, &theirs).unwrap();
    assert!(matches!(
        d.save(Overwrite::Check),
        Err(SaveError::ChangedOnDisk(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), theirs);
    let (reloaded, plan) = d.reload().unwrap();
    assert_eq!(plan.load.users, 5);
    assert!(reloaded.text().contains("# edited elsewhere"));
    d.save(Overwrite::Force).unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("users = 7")
    );
    // Our own save is the new baseline: the next one goes through.
    d.set_users(8).unwrap();
    d.save(Overwrite::Check).unwrap();
    let other = dir.join("other.toml");
    std::fs::write(&other, "keep me").unwrap();
    assert!(matches!(
        d.save_as(&other, Overwrite::Check),
        Err(SaveError::Exists(_))
    ));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
    assert_eq!(d.path.as_deref(), Some(path.as_path()));
    d.save_as(&other, Overwrite::Force).unwrap();
    assert!(
        std::fs::read_to_string(&other)
            .unwrap()
            .contains("users = 8")
    );
    let missing = dir.join("no/such/dir.toml");
    let e = d
        .save_as(&missing, Overwrite::Check)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_arrival_rate_replaces_the_users_of_a_closed_scenario() {
    let mut d = ScenarioDoc::from_text(
        &Plan::url_scenario("http://127.0.0.1:1/", &Default::default()),
        None,
    )
    .unwrap();
    d.set_arrival_rate(20.0).unwrap();
    let plan = d.plan().unwrap();
    assert_eq!(plan.load.arrival_rate, Some(20.0));
    assert!(!d.text().contains("users = 50"), "{}", d.text());
}

#[test]
fn env_templates_are_saved_as_written() {
    let dir = std::env::temp_dir().join(format!("swarm-doc-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.toml");
    let src = "host = \"http://127.0.0.1:1\"\n[defaults]\nheaders = { X-Path = \"{{env.PATH}}\" }\n[load]\nusers = 1\n[[endpoints]]\npath = \"/\"\n";
    std::fs::write(&path, src).unwrap();
    let (mut d, _) = ScenarioDoc::open(&path).unwrap();
    let sent = std::env::var("PATH").unwrap();
    d.set_users(2).unwrap();
    d.save(Overwrite::Check).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("X-Path = \"{{env.PATH}}\""), "{text}");
    assert!(!text.contains(&sent), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_host_override_runs_but_is_not_saved() {
    let (dir, path, mut d) = opened("swarm-doc-host");
    d.override_host("http://127.0.0.1:9999").unwrap();
    assert!(d.override_host("http://127.0.0.1:99999").is_err());
    assert_eq!(d.host(), "http://127.0.0.1:9999");
    assert!(!d.is_dirty(), "the override is not an edit");
    assert_eq!(d.plan().unwrap().endpoints[0].origin.port, 9999);
    d.set_users(6).unwrap();
    d.save(Overwrite::Check).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("http://127.0.0.1:5000") && !text.contains("9999"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A form's list is a line per value in the editor and a list again when saved: it was a
/// string '["a", "b"]' after an edit (sent as tag=%5B%22a...).
#[test]
fn a_form_list_round_trips_through_the_editor() {
    let src = "host = \"http://127.0.0.1:5000\"\n[[endpoints]]\nmethod = \"POST\"\npath = \"/f\"\n\
               form = { tag = [\"a\", 2], n = \"x\" }\n";
    let mut d = ScenarioDoc::from_text(src, None).unwrap();
    let mut spec = d.endpoints()[0].clone();
    assert_eq!(spec.body_kind, BodyKind::Form);
    assert_eq!(spec.body, "tag=a\ntag=2\nn=x");
    spec.body += "\ntag=c";
    let plan = d.set_endpoint(Some(0), &spec).unwrap();
    assert_eq!(&plan.endpoints[0].body[..], b"n=x&tag=a&tag=2&tag=c");
    assert!(
        d.text().contains("tag = [\"a\", \"2\", \"c\"]"),
        "{}",
        d.text()
    );
}

//! Serde types that mirror the scenario TOML key for key; `validate` turns them into a `Plan`.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::{Spanned, Value};

pub type SpannedValue = Spanned<Value>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub load: Option<RawLoad>,
    pub defaults: Option<RawDefaults>,
    pub endpoints: Option<Spanned<Vec<Spanned<RawEndpoint>>>>,
    pub thresholds: Option<BTreeMap<String, SpannedValue>>,
    pub on_start: Option<Vec<Spanned<RawEndpoint>>>,
    pub on_stop: Option<Vec<Spanned<RawEndpoint>>>,
    pub flows: Option<Vec<Spanned<RawFlow>>>,
    pub data: Option<BTreeMap<String, Spanned<RawData>>>,
    pub vars: Option<indexmap::IndexMap<String, SpannedValue>>,
    pub users: Option<Vec<Spanned<RawUserType>>>,
}

/// `[[users]]`: a kind of user with its own tasks, think time and share of the users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUserType {
    pub name: Option<Spanned<String>>,
    pub weight: Option<SpannedValue>,
    pub fixed_count: Option<SpannedValue>,
    pub wait: Option<SpannedValue>,
    pub tags: Option<SpannedValue>,
    pub endpoints: Option<Vec<Spanned<RawEndpoint>>>,
    pub flows: Option<Vec<Spanned<RawFlow>>>,
    pub on_start: Option<Vec<Spanned<RawEndpoint>>>,
    pub on_stop: Option<Vec<Spanned<RawEndpoint>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub name: Option<Spanned<String>>,
    pub weight: Option<SpannedValue>,
    pub steps: Option<Vec<Spanned<RawEndpoint>>>,
    pub tags: Option<SpannedValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawData {
    pub file: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub max_size: Option<SpannedValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    pub users: Option<SpannedValue>,
    pub spawn_rate: Option<SpannedValue>,
    pub run_time: Option<SpannedValue>,
    pub wait: Option<SpannedValue>,
    pub stop_timeout: Option<SpannedValue>,
    pub stages: Option<Vec<Spanned<RawStage>>>,
    pub arrival_rate: Option<SpannedValue>,
    pub max_users: Option<SpannedValue>,
    pub queue_timeout: Option<SpannedValue>,
    pub iterations: Option<SpannedValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    pub users: Option<SpannedValue>,
    pub duration: Option<SpannedValue>,
    pub spawn_rate: Option<SpannedValue>,
    pub arrival_rate: Option<SpannedValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub headers: Option<BTreeMap<String, SpannedValue>>,
    pub timeout: Option<SpannedValue>,
    pub cookies: Option<SpannedValue>,
    pub http2: Option<SpannedValue>,
    pub insecure: Option<SpannedValue>,
    pub tls_roots: Option<SpannedValue>,
    pub redirects: Option<SpannedValue>,
    pub local_addresses: Option<SpannedValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEndpoint {
    pub name: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub weight: Option<SpannedValue>,
    pub headers: Option<BTreeMap<String, SpannedValue>>,
    pub json: Option<SpannedValue>,
    pub body: Option<Spanned<String>>,
    pub content_type: Option<Spanned<String>>,
    pub form: Option<Spanned<BTreeMap<String, SpannedValue>>>,
    pub expect: Option<Spanned<RawExpect>>,
    pub timeout: Option<SpannedValue>,
    pub thresholds: Option<BTreeMap<String, SpannedValue>>,
    pub query: Option<Spanned<BTreeMap<String, SpannedValue>>>,
    pub extract: Option<BTreeMap<String, SpannedValue>>,
    pub redirects: Option<SpannedValue>,
    pub tags: Option<SpannedValue>,
    pub stream: Option<Spanned<String>>,
    pub stream_tokens: Option<Spanned<String>>,
    pub stream_done: Option<Spanned<String>>,
    pub stream_max: Option<SpannedValue>,
    pub ws: Option<Spanned<String>>,
    pub send: Option<Spanned<String>>,
    pub send_binary: Option<Spanned<String>>,
    pub receive: Option<Spanned<BTreeMap<String, SpannedValue>>>,
    pub hold: Option<SpannedValue>,
    pub close: Option<SpannedValue>,
}

impl RawEndpoint {
    /// True when it is a WebSocket step.
    pub(crate) fn is_ws(&self) -> bool {
        self.ws.is_some()
            || self.send.is_some()
            || self.send_binary.is_some()
            || self.receive.is_some()
            || self.hold.is_some()
            || self.close.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub status: Option<SpannedValue>,
    pub body_contains: Option<Spanned<String>>,
    pub json: Option<BTreeMap<String, SpannedValue>>,
}

//! The endpoint form: name, method, path, weight, headers and body, with the JSON body
//! checked as it is typed.

use super::input::TextInput;
use crate::scenario::{BodyKind, EndpointSpec};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const BODY_KINDS: [BodyKind; 3] = [BodyKind::Json, BodyKind::Raw, BodyKind::Form];
/// `stream`'s choices; "off" writes no key.
pub const STREAMS: [&str; 4] = ["off", "sse", "lines", "chunks"];

/// The form's fields, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Method,
    Path,
    Weight,
    Stream,
    StreamTokens,
    StreamDone,
    Headers,
    BodyKind,
    Body,
}

pub const FIELDS: [Field; 10] = [
    Field::Name,
    Field::Method,
    Field::Path,
    Field::Weight,
    Field::Stream,
    Field::StreamTokens,
    Field::StreamDone,
    Field::Headers,
    Field::BodyKind,
    Field::Body,
];

impl Field {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::Method => "Method",
            Field::Path => "Path",
            Field::Weight => "Weight",
            Field::Stream => "Stream",
            Field::StreamTokens => "Tokens at",
            Field::StreamDone => "Done event",
            Field::Headers => "Headers",
            Field::BodyKind => "Body type",
            Field::Body => "Body",
        }
    }

    fn is_selector(self) -> bool {
        matches!(self, Field::Method | Field::BodyKind | Field::Stream)
    }

    fn is_multiline(self) -> bool {
        matches!(self, Field::Headers | Field::Body)
    }
}

/// What a key did to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOutcome {
    Editing,
    Apply,
    ApplyAndSave,
    Cancel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// The endpoint being edited; None for a new one.
    pub index: Option<usize>,
    pub name: TextInput,
    pub method: usize,
    pub path: TextInput,
    pub weight: TextInput,
    pub headers: TextInput,
    pub body_kind: BodyKind,
    pub body: TextInput,
    /// Index into `STREAMS`.
    pub stream: usize,
    pub stream_tokens: TextInput,
    pub stream_done: TextInput,
    pub focus: usize,
    /// The live check of the body: Ok, or what is wrong with it.
    pub body_check: Result<(), String>,
    /// Why the last apply was refused.
    pub error: Option<String>,
    /// The endpoint as the form opened: Esc cancels without asking only when unchanged.
    pub original: EndpointSpec,
    /// Esc was pressed once on changed fields; a second one discards.
    pub confirm_cancel: bool,
}

impl Form {
    pub fn new(index: Option<usize>, spec: &EndpointSpec) -> Self {
        let method = METHODS.iter().position(|m| *m == spec.method).unwrap_or(0);
        let mut form = Form {
            index,
            name: TextInput::new(&spec.name, false),
            method,
            path: TextInput::new(&spec.path, false),
            weight: TextInput::new(&spec.weight, false),
            headers: TextInput::new(&spec.headers, true),
            body_kind: spec.body_kind,
            body: TextInput::new(&spec.body, true),
            // A value the form does not offer (a typo the file would refuse) reads as off.
            stream: STREAMS.iter().position(|s| *s == spec.stream).unwrap_or(0),
            stream_tokens: TextInput::new(&spec.stream_tokens, false),
            stream_done: TextInput::new(&spec.stream_done, false),
            focus: 0,
            body_check: Ok(()),
            error: None,
            original: spec.clone(),
            confirm_cancel: false,
        };
        // Compared with what spec() gives back (a method not in METHODS reads as GET).
        form.original = form.spec();
        form.check_body();
        form
    }

    /// A blank form for a new endpoint.
    pub(crate) fn blank() -> Self {
        let spec = EndpointSpec {
            method: "GET".into(),
            path: "/".into(),
            weight: "1".into(),
            ..Default::default()
        };
        Form::new(None, &spec)
    }

    pub fn spec(&self) -> EndpointSpec {
        EndpointSpec {
            name: self.name.text.clone(),
            method: METHODS[self.method].to_string(),
            path: self.path.text.clone(),
            weight: self.weight.text.clone(),
            headers: self.headers.text.clone(),
            body: self.body.text.clone(),
            body_kind: self.body_kind,
            stream: match self.stream {
                0 => String::new(),
                i => STREAMS[i].to_string(),
            },
            stream_tokens: self.stream_tokens.text.clone(),
            stream_done: self.stream_done.text.clone(),
        }
    }

    pub fn field(&self) -> Field {
        FIELDS[self.focus]
    }

    pub fn input(&self, field: Field) -> Option<&TextInput> {
        match field {
            Field::Name => Some(&self.name),
            Field::Path => Some(&self.path),
            Field::Weight => Some(&self.weight),
            Field::Headers => Some(&self.headers),
            Field::Body => Some(&self.body),
            Field::StreamTokens => Some(&self.stream_tokens),
            Field::StreamDone => Some(&self.stream_done),
            Field::Method | Field::BodyKind | Field::Stream => None,
        }
    }

    fn input_mut(&mut self, field: Field) -> Option<&mut TextInput> {
        match field {
            Field::Name => Some(&mut self.name),
            Field::Path => Some(&mut self.path),
            Field::Weight => Some(&mut self.weight),
            Field::Headers => Some(&mut self.headers),
            Field::Body => Some(&mut self.body),
            Field::StreamTokens => Some(&mut self.stream_tokens),
            Field::StreamDone => Some(&mut self.stream_done),
            Field::Method | Field::BodyKind | Field::Stream => None,
        }
    }

    pub fn handle(&mut self, key: KeyEvent) -> FormOutcome {
        let field = self.field();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return FormOutcome::Cancel,
            KeyCode::Char('s') if ctrl => return FormOutcome::ApplyAndSave,
            KeyCode::Tab => self.move_focus(1),
            KeyCode::BackTab => self.move_focus(FIELDS.len() - 1),
            KeyCode::Down if !field.is_multiline() => self.move_focus(1),
            KeyCode::Up if !field.is_multiline() => self.move_focus(FIELDS.len() - 1),
            KeyCode::Enter if !field.is_multiline() => return FormOutcome::Apply,
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if field.is_selector() => {
                let back = key.code == KeyCode::Left;
                self.cycle(field, back);
            }
            _ => {
                if let Some(input) = self.input_mut(field) {
                    input.handle(key);
                }
            }
        }
        self.check_body();
        FormOutcome::Editing
    }

    fn move_focus(&mut self, by: usize) {
        self.focus = (self.focus + by) % FIELDS.len();
    }

    fn cycle(&mut self, field: Field, back: bool) {
        let step = |i: usize, n: usize| if back { (i + n - 1) % n } else { (i + 1) % n };
        match field {
            Field::Method => self.method = step(self.method, METHODS.len()),
            Field::Stream => self.stream = step(self.stream, STREAMS.len()),
            Field::BodyKind => {
                let i = BODY_KINDS
                    .iter()
                    .position(|k| *k == self.body_kind)
                    .unwrap_or(0);
                self.body_kind = BODY_KINDS[step(i, BODY_KINDS.len())];
            }
            _ => {}
        }
    }

    /// Re-checks the body after every key, so the form can say at once what is wrong.
    fn check_body(&mut self) {
        let text = self.body.text.trim();
        self.body_check = if self.body_kind != BodyKind::Json || text.is_empty() {
            Ok(())
        } else {
            serde_json::from_str::<serde_json::Value>(text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(form: &mut Form, code: KeyCode) -> FormOutcome {
        form.handle(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn type_text(form: &mut Form, s: &str) {
        for c in s.chars() {
            press(form, KeyCode::Char(c));
        }
    }

    #[test]
    fn fields_selectors_and_json_check() {
        let mut f = Form::blank();
        type_text(&mut f, "create");
        press(&mut f, KeyCode::Tab);
        press(&mut f, KeyCode::Right);
        assert_eq!(f.spec().method, "POST");
        for _ in 0..8 {
            press(&mut f, KeyCode::Tab);
        }
        assert_eq!(f.field(), Field::Body);
        type_text(&mut f, "{\"a\": ");
        assert!(f.body_check.is_err());
        type_text(&mut f, "1}");
        assert_eq!(f.body_check, Ok(()));
        press(&mut f, KeyCode::Enter);
        assert_eq!(f.spec().body, "{\"a\": 1}\n");
        press(&mut f, KeyCode::BackTab);
        press(&mut f, KeyCode::Char(' '));
        assert_eq!(f.spec().body_kind, BodyKind::Raw);
        assert_eq!(f.body_check, Ok(()), "raw bodies are not JSON-checked");
        assert_eq!(f.spec().name, "create");
        press(&mut f, KeyCode::BackTab);
        assert_eq!(press(&mut f, KeyCode::Esc), FormOutcome::Cancel);
    }

    #[test]
    fn the_stream_fields_cycle_and_take_text() {
        let mut f = Form::blank();
        for _ in 0..4 {
            press(&mut f, KeyCode::Tab);
        }
        assert_eq!(f.field(), Field::Stream);
        assert_eq!(f.spec().stream, "", "off writes no key");
        press(&mut f, KeyCode::Right);
        assert_eq!(f.spec().stream, "sse");
        press(&mut f, KeyCode::Left);
        press(&mut f, KeyCode::Left);
        assert_eq!(f.spec().stream, "chunks");
        press(&mut f, KeyCode::Tab);
        type_text(&mut f, "/choices/0/delta/content");
        press(&mut f, KeyCode::Tab);
        type_text(&mut f, "[DONE]");
        let spec = f.spec();
        assert_eq!(
            (spec.stream_tokens.as_str(), spec.stream_done.as_str()),
            ("/choices/0/delta/content", "[DONE]")
        );
    }

    #[test]
    fn enter_applies_from_single_line_fields() {
        let mut f = Form::blank();
        assert_eq!(press(&mut f, KeyCode::Enter), FormOutcome::Apply);
        let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(f.handle(ctrl_s), FormOutcome::ApplyAndSave);
    }
}

//! A streamed endpoint's fields: `stream`, `stream_tokens`, `stream_done`, `stream_max`.

use super::*;
use crate::scenario::{StreamKind, StreamSpec};

impl Validator<'_> {
    /// The endpoint's stream, if it has `stream = ...`; the other stream fields need it.
    pub(super) fn stream(&self, e: &RawEndpoint, key: &str) -> Result<Option<Arc<StreamSpec>>> {
        let k = |field: &str| format!("{key}.{field}");
        let Some(kind) = &e.stream else {
            self.no_stream_fields(e, key)?;
            return Ok(None);
        };
        let kind = match kind.get_ref().as_str() {
            "sse" => StreamKind::Sse,
            "lines" | "ndjson" => StreamKind::Lines,
            "chunks" => StreamKind::Chunks,
            other => {
                return Err(self.err(
                    kind.span(),
                    &k("stream"),
                    format!(
                        "\"{other}\" is not a stream format; write \"sse\" (server-sent events), \
                         \"lines\" (one event per line, NDJSON) or \"chunks\" (each piece of the body)"
                    ),
                ));
            }
        };
        let tokens = match &e.stream_tokens {
            Some(p) if p.get_ref().starts_with('/') => Some(p.get_ref().clone()),
            Some(p) => {
                return Err(self.err(
                    p.span(),
                    &k("stream_tokens"),
                    format!(
                        "\"{}\" is not a JSON pointer; it starts with \"/\", e.g. \"/choices/0/delta/content\"",
                        p.get_ref()
                    ),
                ));
            }
            None => None,
        };
        let done = match &e.stream_done {
            Some(d) if d.get_ref().is_empty() => {
                return Err(self.err(
                    d.span(),
                    &k("stream_done"),
                    "is empty; write the data that ends the stream, e.g. \"[DONE]\", or leave it out",
                ));
            }
            Some(d) => Some(d.get_ref().clone()),
            None => None,
        };
        let max = match &e.stream_max {
            Some(m) => Some(self.positive_duration(m, &k("stream_max"))?),
            None => None,
        };
        Ok(Some(Arc::new(StreamSpec {
            kind,
            tokens,
            done,
            max,
        })))
    }

    /// Without `stream`, the other stream fields are a mistake.
    fn no_stream_fields(&self, e: &RawEndpoint, key: &str) -> Result<()> {
        let orphan = [
            ("stream_tokens", e.stream_tokens.as_ref().map(Spanned::span)),
            ("stream_done", e.stream_done.as_ref().map(Spanned::span)),
            ("stream_max", e.stream_max.as_ref().map(Spanned::span)),
        ];
        match orphan.into_iter().find(|(_, s)| s.is_some()) {
            Some((field, Some(at))) => Err(self.err(
                at,
                &format!("{key}.{field}"),
                "needs stream = \"sse\" (or \"lines\", \"chunks\") on the same endpoint",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};
    use crate::scenario::{ExtractFrom, StreamKind};

    #[test]
    fn a_streamed_endpoint_reads_its_four_fields() {
        let p = plan(
            "[[endpoints]]\npath = \"/chat\"\nstream = \"sse\"\n\
             stream_tokens = \"/choices/0/delta/content\"\nstream_done = \"[DONE]\"\n\
             stream_max = \"2m\"\nextract = { reply = \"tokens\" }\n",
        );
        let s = p.endpoints[0].stream.as_ref().expect("streamed");
        assert_eq!(s.kind, StreamKind::Sse);
        assert_eq!(s.tokens.as_deref(), Some("/choices/0/delta/content"));
        assert_eq!(s.done.as_deref(), Some("[DONE]"));
        assert_eq!(s.max, Some(std::time::Duration::from_secs(120)));
        assert!(matches!(
            p.endpoints[0].extract[0].from,
            ExtractFrom::Tokens
        ));
        assert!(p.endpoints[0].needs_tokens());
    }

    #[test]
    fn stream_fields_say_what_is_wrong_and_where() {
        let (key, line, msg) = error("[[endpoints]]\npath = \"/e\"\nstream = \"websocket\"\n");
        assert_eq!((key.as_str(), line), ("endpoints[0].stream", 4));
        assert!(msg.contains("\"sse\""), "{msg}");
        let (key, _, msg) = error("[[endpoints]]\npath = \"/e\"\nstream_done = \"[DONE]\"\n");
        assert_eq!(key, "endpoints[0].stream_done");
        assert!(msg.contains("needs stream"), "{msg}");
        let (key, _, msg) =
            error("[[endpoints]]\npath = \"/e\"\nstream = \"sse\"\nstream_tokens = \"choices\"\n");
        assert_eq!(key, "endpoints[0].stream_tokens");
        assert!(msg.contains("JSON pointer"), "{msg}");
        let (key, _, msg) =
            error("[[endpoints]]\npath = \"/e\"\nextract = { reply = \"tokens\" }\n");
        assert_eq!(key, "endpoints[0].extract.reply");
        assert!(msg.contains("stream"), "{msg}");
    }
}

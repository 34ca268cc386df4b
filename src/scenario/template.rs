//! Templates in paths, queries, headers and bodies: `{{user.id}}`, `{{seq}}`, `{{uuid}}`,
//! `{{random.alnum(12)}}`, `{{random.int(1, 100)}}`, `{{env.NAME}}`, `{{now}}`, a user's
//! variable `{{token}}` and a data-file field `{{users.username}}`.
//!
//! Parsed once when the scenario loads (`{{env.NAME}}` is read then); rendered per request
//! from the virtual user's context. Each expression knows how its output is escaped where
//! it stands: inside a JSON string, a form value, or a URL.

use std::fmt::Write;

/// How an expression's output is written where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As is (headers, raw bodies).
    None,
    /// Inside a JSON string: quotes, backslashes and control characters escaped.
    Json,
    /// A form or query value: `application/x-www-form-urlencoded`.
    Form,
    /// In a URL path: characters that are not allowed in a URL are percent-encoded.
    Path,
}

/// What an expression stands for.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    /// The virtual user's number, from 0.
    UserId,
    /// A counter shared by all users: 0, 1, 2, ...
    Seq,
    Uuid,
    Alnum(usize),
    Int(i64, i64),
    /// Unix time in milliseconds.
    Now,
    /// A user variable (set by `extract`), or a data-file field `set.field`.
    Var(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Lit(String),
    Expr(Expr, Escape),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What rendering needs from the virtual user.
pub trait Context {
    fn user_id(&self) -> u64;
    fn next_seq(&mut self) -> u64;
    fn rng(&mut self) -> &mut fastrand::Rng;
    /// A variable or data-file field (`set.field`); None when it has no value yet.
    fn var(&self, name: &str) -> Option<&str>;
}

/// The most bytes one template renders to for one request or variable: a path, a header,
/// a body or a `[vars]` value. `[vars]` that build on each other can double at every step
/// (`v2 = "{{v1}}{{v1}}"`); this bounds them, at load time where the sizes are known and
/// as a failure of its own at run time where they are not (an extracted value).
pub(crate) const MAX_RENDERED_BYTES: usize = 16 << 20;

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// This variable has no value for the user.
    Missing(String),
    /// The text would pass `MAX_RENDERED_BYTES`.
    TooLarge,
}

/// A template that could not be parsed: the message and the byte offset in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl Template {
    /// Text without `{{`: rendered as is.
    pub fn literal(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Lit(text.to_string())],
        }
    }

    /// Parses `text`; literal parts are kept as written, expressions escaped with `escape`.
    /// `env` looks up `{{env.NAME}}`, which becomes literal text.
    pub fn parse(
        text: &str,
        escape: Escape,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Template, TemplateError> {
        let mut t = Template::default();
        t.push_parsed(text, escape, env, &|s| s.to_string())?;
        Ok(t)
    }

    /// Appends literal text (already in its final form).
    pub(crate) fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Piece::Lit(last)) = self.pieces.last_mut() {
            last.push_str(text);
        } else {
            self.pieces.push(Piece::Lit(text.to_string()));
        }
    }

    /// Appends parsed `text`, its literal parts passed through `literal` (e.g. to
    /// form-encode them) and its expressions escaped with `escape`.
    pub(crate) fn push_parsed(
        &mut self,
        text: &str,
        escape: Escape,
        env: &dyn Fn(&str) -> Option<String>,
        literal: &dyn Fn(&str) -> String,
    ) -> Result<(), TemplateError> {
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            self.push_literal(&literal(&rest[..start]));
            let inner_start = start + 2;
            let Some(len) = rest[inner_start..].find("}}") else {
                return Err(TemplateError {
                    offset: offset + start,
                    message: "has \"{{\" without a closing \"}}\"".into(),
                });
            };
            let inner = rest[inner_start..inner_start + len].trim();
            let at = offset + start;
            match parse_expr(inner).map_err(|message| TemplateError {
                offset: at,
                message,
            })? {
                Parsed::Env(name) => match env(&name) {
                    Some(v) => self.push_literal(&literal(&v)),
                    None => {
                        return Err(TemplateError {
                            offset: at,
                            message: format!(
                                "{{{{env.{name}}}}}: the environment variable {name} is not set; export it before running swarm"
                            ),
                        });
                    }
                },
                Parsed::Expr(e) => self.pieces.push(Piece::Expr(e, escape)),
            }
            let consumed = inner_start + len + 2;
            rest = &rest[consumed..];
            offset += consumed;
        }
        self.push_literal(&literal(rest));
        Ok(())
    }

    /// Appends another template.
    pub(crate) fn push_parsed_template(&mut self, other: Template) {
        for p in other.pieces {
            match p {
                Piece::Lit(s) => self.push_literal(&s),
                e => self.pieces.push(e),
            }
        }
    }

    /// True when there is nothing to render per request.
    pub(crate) fn is_static(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }

    /// The variable names the template uses (`token`, `users.username`).
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Expr(Expr::Var(v), _) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The text of a static template.
    pub(crate) fn static_text(&self) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            if let Piece::Lit(s) = p {
                out.push_str(s);
            }
        }
        out
    }

    /// Renders into `out`; Err is the name of a variable that has no value, or the
    /// rendering would pass `MAX_RENDERED_BYTES`.
    pub fn render(&self, ctx: &mut dyn Context, out: &mut String) -> Result<(), RenderError> {
        let start = out.len();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Expr(e, escape) => {
                    let mut value = String::new();
                    eval(e, ctx, &mut value).map_err(RenderError::Missing)?;
                    if out.len() - start + value.len() > MAX_RENDERED_BYTES {
                        return Err(RenderError::TooLarge);
                    }
                    push_escaped(out, &value, *escape);
                }
            }
            if out.len() - start > MAX_RENDERED_BYTES {
                return Err(RenderError::TooLarge);
            }
        }
        Ok(())
    }

    /// The most bytes the template can render to, given the most each variable holds
    /// (`var` answers None for one it cannot know before the run, such as an extracted
    /// value: then so does this).
    pub(crate) fn max_len(&self, var: &dyn Fn(&str) -> Option<usize>) -> Option<usize> {
        self.pieces.iter().try_fold(0usize, |sum, p| {
            let n = match p {
                Piece::Lit(s) => s.len(),
                Piece::Expr(e, escape) => {
                    let value = match e {
                        Expr::UserId | Expr::Seq => 20,
                        Expr::Uuid => 36,
                        Expr::Alnum(n) => *n,
                        Expr::Int(..) => 20,
                        Expr::Now => 20,
                        Expr::Var(name) => var(name)?,
                    };
                    // The widest escape of a byte: \u00XX in JSON, %XX in a URL.
                    let widest = match escape {
                        Escape::None => 1,
                        Escape::Json => 6,
                        Escape::Form | Escape::Path => 3,
                    };
                    value.saturating_mul(widest)
                }
            };
            Some(sum.saturating_add(n))
        })
    }

    pub fn render_string(&self, ctx: &mut dyn Context) -> Result<String, RenderError> {
        let mut out = String::new();
        self.render(ctx, &mut out)?;
        Ok(out)
    }
}

enum Parsed {
    Env(String),
    Expr(Expr),
}

const EXPRESSIONS: &str =
    "user.id, seq, uuid, now, random.alnum(N), random.int(A, B), env.NAME, or a variable name";

fn parse_expr(inner: &str) -> Result<Parsed, String> {
    let bad = || format!("{{{{{inner}}}}} is not a template expression (one of {EXPRESSIONS})");
    Ok(Parsed::Expr(match inner {
        "user.id" => Expr::UserId,
        "seq" => Expr::Seq,
        "uuid" => Expr::Uuid,
        "now" => Expr::Now,
        _ if inner.starts_with("env.") => {
            let name = &inner[4..];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad());
            }
            return Ok(Parsed::Env(name.to_string()));
        }
        _ if inner.starts_with("random.") => {
            let call = &inner[7..];
            let (fname, args) = call
                .strip_suffix(')')
                .and_then(|c| c.split_once('('))
                .ok_or_else(bad)?;
            let args: Vec<&str> = args.split(',').map(str::trim).collect();
            match (fname.trim(), &args[..]) {
                ("alnum", [n]) => {
                    let n: usize = n
                        .parse()
                        .ok()
                        .filter(|n| (1..=4096).contains(n))
                        .ok_or_else(|| {
                            format!(
                                "{{{{{inner}}}}}: the length must be a whole number from 1 to 4096"
                            )
                        })?;
                    Expr::Alnum(n)
                }
                ("int", [a, b]) => {
                    let (a, b) = (a.parse::<i64>(), b.parse::<i64>());
                    match (a, b) {
                        (Ok(a), Ok(b)) if a <= b => Expr::Int(a, b),
                        _ => {
                            return Err(format!(
                                "{{{{{inner}}}}}: write random.int(A, B) with whole numbers A <= B"
                            ));
                        }
                    }
                }
                _ => return Err(bad()),
            }
        }
        _ if is_var_name(inner) => Expr::Var(inner.to_string()),
        _ => return Err(bad()),
    }))
}

/// `token`, `user_name`, `users.username`: letters, digits, `_` and `-`, one dot at most.
fn is_var_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        })
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn eval(e: &Expr, ctx: &mut dyn Context, out: &mut String) -> Result<(), String> {
    match e {
        Expr::UserId => {
            let _ = write!(out, "{}", ctx.user_id());
        }
        Expr::Seq => {
            let n = ctx.next_seq();
            let _ = write!(out, "{n}");
        }
        Expr::Uuid => {
            let mut bytes = [0u8; 16];
            let rng = ctx.rng();
            bytes.iter_mut().for_each(|b| *b = rng.u8(..));
            let _ = write!(
                out,
                "{}",
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            );
        }
        Expr::Alnum(n) => {
            let rng = ctx.rng();
            out.extend((0..*n).map(|_| ALNUM[rng.usize(..ALNUM.len())] as char));
        }
        Expr::Int(a, b) => {
            let v = ctx.rng().i64(*a..=*b);
            let _ = write!(out, "{v}");
        }
        Expr::Now => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let _ = write!(out, "{ms}");
        }
        Expr::Var(name) => match ctx.var(name) {
            Some(v) => out.push_str(v),
            None => return Err(name.clone()),
        },
    }
    Ok(())
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::Json => {
            let quoted = serde_json::to_string(value).expect("strings serialize");
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        Escape::Form => out.extend(form_urlencoded::byte_serialize(value.as_bytes())),
        Escape::Path => {
            for b in value.bytes() {
                let keep = b.is_ascii_alphanumeric() || b"-._~/?&=:@!$'()*+,;%".contains(&b);
                if keep {
                    out.push(b as char);
                } else {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Ctx {
        seq: u64,
        rng: fastrand::Rng,
        vars: HashMap<String, String>,
    }

    impl Context for Ctx {
        fn user_id(&self) -> u64 {
            7
        }
        fn next_seq(&mut self) -> u64 {
            self.seq += 1;
            self.seq - 1
        }
        fn rng(&mut self) -> &mut fastrand::Rng {
            &mut self.rng
        }
        fn var(&self, name: &str) -> Option<&str> {
            self.vars.get(name).map(String::as_str)
        }
    }

    fn ctx() -> Ctx {
        Ctx {
            seq: 0,
            rng: fastrand::Rng::with_seed(1),
            vars: [("token".to_string(), "a\"b c".to_string())].into(),
        }
    }

    fn env(name: &str) -> Option<String> {
        (name == "API_KEY").then(|| "s3cret".to_string())
    }

    #[test]
    fn renders_every_expression() {
        let t = Template::parse(
            "u{{user.id}}-{{seq}}-{{seq}} {{random.alnum(8)}} {{random.int(5, 5)}} {{env.API_KEY}} {{token}}",
            Escape::None,
            &env,
        )
        .unwrap();
        let out = t.render_string(&mut ctx()).unwrap();
        let parts: Vec<&str> = out.split(' ').collect();
        assert_eq!(parts[0], "u7-0-1");
        assert_eq!(parts[1].len(), 8);
        assert!(parts[1].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(parts[2], "5");
        assert_eq!(parts[3], "s3cret");
        assert_eq!(out.split_once("s3cret ").unwrap().1, "a\"b c");
        assert_eq!(t.vars().collect::<Vec<_>>(), ["token"]);
        let u = Template::parse("{{uuid}}", Escape::None, &env)
            .unwrap()
            .render_string(&mut ctx())
            .unwrap();
        assert_eq!(uuid::Uuid::parse_str(&u).unwrap().get_version_num(), 4);
    }

    #[test]
    fn escapes_where_it_stands() {
        let r = |text: &str, e| {
            Template::parse(text, e, &env)
                .unwrap()
                .render_string(&mut ctx())
                .unwrap()
        };
        assert_eq!(
            r("{\"t\":\"{{token}}\"}", Escape::Json),
            "{\"t\":\"a\\\"b c\"}"
        );
        assert_eq!(r("t={{token}}", Escape::Form), "t=a%22b+c");
        assert_eq!(r("/x/{{token}}", Escape::Path), "/x/a%22b%20c");
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let e = |text: &str| Template::parse(text, Escape::None, &env).unwrap_err();
        assert!(e("a {{user.id").message.contains("without a closing"));
        assert_eq!(e("ab {{random.alnum(x)}}").offset, 3);
        assert!(
            e("{{random.pick(1)}}")
                .message
                .contains("not a template expression")
        );
        assert!(
            e("{{env.NOPE_NOT_SET}}")
                .message
                .contains("NOPE_NOT_SET is not set")
        );
        assert!(e("{{random.int(9, 1)}}").message.contains("A <= B"));
        let missing = Template::parse("{{nope}}", Escape::None, &env)
            .unwrap()
            .render_string(&mut ctx())
            .unwrap_err();
        assert_eq!(missing, RenderError::Missing("nope".into()));
    }

    #[test]
    fn a_rendering_past_the_limit_stops_and_the_bound_is_known_before() {
        let env = |_: &str| None;
        let t = Template::parse("a{{token}}{{token}}", Escape::Json, &env).unwrap();
        let size = |n: usize| move |v: &str| (v == "token").then_some(n);
        // Each byte of a value may become \u00XX inside a JSON string.
        assert_eq!(t.max_len(&size(10)), Some(1 + 2 * 60));
        assert_eq!(t.max_len(&|_| None), None);
        let mut big = ctx();
        big.vars
            .insert("token".into(), "x".repeat(MAX_RENDERED_BYTES / 2 + 1));
        assert_eq!(t.render_string(&mut big), Err(RenderError::TooLarge));
        big.vars
            .insert("token".into(), "x".repeat(MAX_RENDERED_BYTES / 2 - 1));
        assert!(t.render_string(&mut big).is_ok());
    }
}

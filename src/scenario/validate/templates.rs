//! Templates and the variables they may use: `[vars]`, data-file fields, extracted values;
//! each template is tried at load time, and its largest rendering bounded.

use super::*;

/// Every variable a template may use: the names that `extract` sets anywhere in the
/// scenario, and `set.column` for each data file.
pub(super) fn known_vars(raw: &RawScenario, data: &[DataSet]) -> HashSet<String> {
    let steps = raw_steps(raw);
    let mut vars: HashSet<String> = steps
        .flat_map(|e| e.get_ref().extract.iter().flatten().map(|(k, _)| k.clone()))
        .chain(raw.vars.iter().flatten().map(|(k, _)| k.clone()))
        .collect();
    vars.extend(data_fields(data));
    vars
}

/// Every endpoint table of the scenario as written: endpoints, hooks and flow steps, of
/// every user type too.
pub(super) fn raw_steps(raw: &RawScenario) -> impl Iterator<Item = &Spanned<RawEndpoint>> {
    raw.endpoints
        .iter()
        .flat_map(|l| l.get_ref().iter())
        .chain(raw.on_start.iter().flatten())
        .chain(raw.on_stop.iter().flatten())
        .chain(
            raw.flows
                .iter()
                .flatten()
                .flat_map(|f| f.get_ref().steps.iter().flatten()),
        )
        .chain(raw.users.iter().flatten().flat_map(|u| {
            let u = u.get_ref();
            u.endpoints
                .iter()
                .flatten()
                .chain(u.on_start.iter().flatten())
                .chain(u.on_stop.iter().flatten())
                .chain(
                    u.flows
                        .iter()
                        .flatten()
                        .flat_map(|f| f.get_ref().steps.iter().flatten()),
                )
        }))
}

/// The longest value of each data-file field.
pub(super) fn data_sizes(data: &[DataSet]) -> HashMap<String, usize> {
    let mut sizes = HashMap::new();
    for d in data {
        for (i, c) in d.columns.iter().enumerate() {
            let longest = d
                .rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(String::len)
                .max();
            sizes.insert(format!("{}.{c}", d.name), longest.unwrap_or(0));
        }
    }
    sizes
}

/// `set.column` for every column of every data file.
pub(super) fn data_fields(data: &[DataSet]) -> impl Iterator<Item = String> + '_ {
    data.iter()
        .flat_map(|d| d.columns.iter().map(move |c| format!("{}.{c}", d.name)))
}

/// Values for checking a template at load time: every variable is "x".
pub(super) struct Probe(pub(super) fastrand::Rng);

impl crate::scenario::template::Context for Probe {
    fn user_id(&self) -> u64 {
        0
    }
    fn next_seq(&mut self) -> u64 {
        0
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.0
    }
    fn var(&self, _: &str) -> Option<&str> {
        Some("x")
    }
}

impl Validator<'_> {
    /// `[vars]`: per-user variables from templates, each able to use the ones above it
    /// and data-file fields.
    pub(super) fn user_vars(
        &mut self,
        raw: Option<&indexmap::IndexMap<String, SpannedValue>>,
        data: &[DataSet],
    ) -> Result<Vec<(String, Template)>> {
        self.vars = data_fields(data).collect();
        self.sizes = data_sizes(data);
        let mut list = Vec::new();
        for (name, value) in raw.into_iter().flatten() {
            let k = format!("vars.{name}");
            self.var_name(name, value, &k)?;
            let text = self.scalar_text(value, &k)?;
            let t = self.template(&text, value.span(), &k, Escape::None)?;
            self.vars.insert(name.clone());
            if let Some(n) = t.max_len(&|v| self.sizes.get(v).copied()) {
                self.sizes.insert(name.clone(), n);
            }
            list.push((name.clone(), t));
        }
        Ok(list)
    }

    /// A variable name (in `[vars]` or `extract`): letters, digits, `_` and `-`.
    pub(super) fn var_name(&self, name: &str, at: &SpannedValue, key: &str) -> Result<()> {
        if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Ok(());
        }
        Err(self.err(
            at.span(),
            key,
            "a variable name takes letters, digits, _ and - only",
        ))
    }

    /// A JSON pointer: empty (the whole document) or starting with "/".
    pub(super) fn json_pointer(
        &self,
        p: &str,
        at: &SpannedValue,
        key: &str,
        example: &str,
    ) -> Result<()> {
        if p.is_empty() || p.starts_with('/') {
            return Ok(());
        }
        Err(self.err(
            at.span(),
            key,
            format!("\"{p}\" is not a JSON pointer; it starts with \"/\", e.g. {example}"),
        ))
    }

    /// Parses a template and checks its variables against the scenario's.
    pub(super) fn template(
        &self,
        text: &str,
        span: std::ops::Range<usize>,
        key: &str,
        escape: Escape,
    ) -> Result<Template> {
        let t = Template::parse(text, escape, &env_var)
            .map_err(|e| self.err(span.clone(), key, e.message))?;
        self.check_vars(&t, span.clone(), key)?;
        if let Some(n) = t.max_len(&|v| self.sizes.get(v).copied())
            && n > MAX_RENDERED_BYTES
        {
            let biggest = t
                .vars()
                .filter_map(|v| Some((self.sizes.get(v)?, v)))
                .max()
                .map(|(size, v)| format!(" ({{{{{v}}}}} alone holds up to {size} bytes)"))
                .unwrap_or_default();
            return Err(self.err(
                span,
                key,
                format!(
                    "expands to up to {n} bytes for each user{biggest}, above the {} MB a template may render; variables that repeat each other double at every step",
                    MAX_RENDERED_BYTES >> 20
                ),
            ));
        }
        Ok(t)
    }

    pub(super) fn check_vars(
        &self,
        t: &Template,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<()> {
        for var in t.vars() {
            let set = var.split_once('.').map(|(set, _)| set);
            if self.vars.contains(var) || set.is_some_and(|s| self.unread_sets.contains(s)) {
                continue;
            }
            if let Some(msg) = set.and_then(|s| self.no_such_column(var, s)) {
                return Err(self.err(span, key, msg));
            }
            let known: Vec<&str> = self.vars.iter().map(String::as_str).collect();
            let mut msg = format!("{{{{{var}}}}} is not a variable of this scenario");
            if let Some(best) = nearest(var, &known) {
                msg += &format!("; did you mean \"{best}\"?");
            }
            msg += " (variables come from [vars], from extract = { name = \"/json/pointer\" }, or from data files as {{set.column}})";
            return Err(self.err(span, key, msg));
        }
        Ok(())
    }
}

impl Validator<'_> {
    /// `{{set.column}}` for a data set that has no such column: its columns, and when the
    /// header is one column holding `;`, a tab or `|`, that swarm reads commas.
    fn no_such_column(&self, var: &str, set: &str) -> Option<String> {
        let prefix = format!("{set}.");
        let mut columns: Vec<&str> = self
            .vars
            .iter()
            .filter_map(|v| v.strip_prefix(&prefix))
            .collect();
        if columns.is_empty() {
            return None;
        }
        columns.sort_unstable();
        let mut msg = format!(
            "{{{{{var}}}}}: data file [data.{set}] has no column \"{}\"",
            &var[prefix.len()..]
        );
        if let Some(best) = nearest(&var[prefix.len()..], &columns) {
            msg += &format!("; did you mean \"{best}\"?");
        }
        let list: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        msg += &format!(" (its header line names {})", list.join(", "));
        if let [one] = columns[..]
            && let Some(sep) = [';', '\t', '|'].into_iter().find(|c| one.contains(*c))
        {
            msg += &format!(
                "; swarm reads columns separated by commas, and this header holds {sep:?}"
            );
        }
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    #[test]
    fn a_template_may_use_vars_above_it_but_not_unknown_ones() {
        let p = plan("[vars]\na = \"x\"\nb = \"{{a}}{{a}}\"\n[[endpoints]]\npath = \"/{{b}}\"\n");
        assert_eq!(p.vars.len(), 2);
        let (key, _, message) = error("[[endpoints]]\npath = \"/{{nobody}}\"\n");
        assert!(key.starts_with("endpoints[0]"), "{key}");
        assert!(message.contains("nobody"), "{message}");
    }

    #[test]
    fn an_extracted_name_is_known_to_every_template() {
        plan(
            "[[endpoints]]\npath = \"/login\"\nextract = { token = \"/token\" }\n[[endpoints]]\npath = \"/me?t={{token}}\"\n",
        );
    }

    #[test]
    fn a_variable_that_would_render_past_the_limit_is_refused_by_name() {
        let mut vars = String::from("[vars]\nv0 = \"xxxxxxxxxxxxxxxx\"\n");
        for i in 1..24 {
            vars += &format!("v{i} = \"{{{{v{0}}}}}{{{{v{0}}}}}\"\n", i - 1);
        }
        let (key, _, _) = error(&format!("{vars}[[endpoints]]\npath = \"/\"\n"));
        assert!(key.starts_with("vars.v"), "{key}");
    }
}

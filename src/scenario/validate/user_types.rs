//! `[[users]]`: user types with their weights or fixed counts, and what they may not mix
//! with.

use super::*;

impl Validator<'_> {
    /// A user type's name: given, and not blank.
    fn type_name(&self, raw: &Spanned<RawUserType>, key: &str) -> Result<String> {
        match &raw.get_ref().name {
            Some(n) if !n.get_ref().trim().is_empty() => self.one_line(n, key),
            Some(n) => Err(self.err(
                n.span(),
                key,
                "is empty; give the type a name, e.g. \"visitor\"",
            )),
            None => Err(self.err(
                raw.span(),
                key,
                "is missing; give each user type a name, e.g. name = \"visitor\"",
            )),
        }
    }

    /// A user type's endpoints (without thresholds of their own, for now).
    fn type_endpoints(
        &self,
        u: &RawUserType,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Vec<Endpoint>> {
        (u.endpoints.iter().flatten().enumerate())
            .map(|(j, e)| {
                if let Some(t) = &e.get_ref().thresholds
                    && !t.is_empty()
                {
                    return Err(self.err(
                        e.span(),
                        &format!("{key}[{j}].thresholds"),
                        "thresholds of a user type's endpoint go in the top-level [thresholds] table for now; an endpoint's row is shared by every type that has it",
                    ));
                }
                self.endpoint(e, &format!("{key}[{j}]"), base, defaults)
            })
            .collect()
    }

    /// One `[[users]]` table.
    pub(super) fn user_type(
        &self,
        raw: &Spanned<RawUserType>,
        i: usize,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<UserType> {
        let u = raw.get_ref();
        let key = format!("users[{i}]");
        let k = |field: &str| format!("{key}.{field}");
        let name = self.type_name(raw, &k("name"))?;
        let endpoints = self.type_endpoints(u, &k("endpoints"), base, defaults)?;
        let flows = u
            .flows
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, f)| self.flow(f, &format!("{}[{j}]", k("flows")), base, defaults))
            .collect::<Result<Vec<_>>>()?;
        let hooks = |list: &Option<Vec<Spanned<RawEndpoint>>>, field: &str| {
            list.iter()
                .flatten()
                .enumerate()
                .map(|(j, e)| self.endpoint(e, &format!("{}[{j}]", k(field)), base, defaults))
                .collect::<Result<Vec<_>>>()
        };
        let on_start = hooks(&u.on_start, "on_start")?;
        let on_stop = hooks(&u.on_stop, "on_stop")?;
        if !endpoints.iter().any(|e| e.weight > 0) && !flows.iter().any(|f| f.weight > 0) {
            return Err(self.err(
                raw.span(),
                &k("endpoints"),
                format!("user type \"{name}\" has nothing to run; add [[users.endpoints]] or [[users.flows]] with a weight above 0"),
            ));
        }
        let weight = match &u.weight {
            Some(w) => self.integer(w, &k("weight"), 0)? as u32,
            None => 1,
        };
        let fixed_count = match &u.fixed_count {
            Some(n) => self.integer(n, &k("fixed_count"), 0)? as u32,
            None => 0,
        };
        let wait = match &u.wait {
            Some(w) => Some(self.wait(w, &k("wait"))?),
            None => None,
        };
        Ok(UserType {
            name,
            weight,
            fixed_count,
            wait,
            endpoints,
            flows,
            on_start,
            on_stop,
            tags: self.tags(u.tags.as_ref(), &k("tags"))?,
        })
    }

    /// With `[[users]]`, every task lives in a type: top-level tasks would belong to none.
    pub(super) fn user_types_alone(&self, raw: &RawScenario, types: &[UserType]) -> Result<()> {
        let top = [
            ("endpoints", raw.endpoints.as_ref().map(|e| e.span())),
            (
                "flows",
                raw.flows.as_ref().and_then(|f| f.first()).map(|f| f.span()),
            ),
            (
                "on_start",
                raw.on_start
                    .as_ref()
                    .and_then(|f| f.first())
                    .map(|f| f.span()),
            ),
            (
                "on_stop",
                raw.on_stop
                    .as_ref()
                    .and_then(|f| f.first())
                    .map(|f| f.span()),
            ),
        ];
        for (key, span) in top {
            if let Some(span) = span {
                return Err(self.err(
                    span,
                    key,
                    format!("a scenario with [[users]] keeps its tasks in the user types; move this into one, e.g. [[users.{key}]]"),
                ));
            }
        }
        for (i, t) in types.iter().enumerate() {
            if let Some(j) = types[..i].iter().position(|o| o.name == t.name) {
                return Err(self.err(
                    raw.users.as_ref().map_or(0..0, |u| u[i].span()),
                    &format!("users[{i}].name"),
                    format!(
                        "\"{}\" is the name of users[{j}] too; give each type its own name",
                        t.name
                    ),
                ));
            }
        }
        let all_loaded = types.len() == raw.users.as_ref().map_or(0, Vec::len);
        if all_loaded && types.iter().all(|t| t.weight == 0 && t.fixed_count == 0) {
            return Err(self.err(
                raw.users.as_ref().map_or(0..0, |u| u[0].span()),
                "users",
                "every user type has weight 0 and no fixed_count; give one a weight of 1 or more",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    #[test]
    fn user_types_load_with_their_weights() {
        let p = plan(
            "[[users]]\nname = \"reader\"\nweight = 3\n[[users.endpoints]]\npath = \"/r\"\n[[users]]\nname = \"writer\"\n[[users.endpoints]]\npath = \"/w\"\n",
        );
        let names: Vec<&str> = p.user_types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["reader", "writer"]);
    }

    #[test]
    fn a_user_type_without_work_is_refused() {
        let (key, _, _) = error("[[users]]\nname = \"idle\"\n");
        assert!(key.starts_with("users[0]"), "{key}");
    }
}

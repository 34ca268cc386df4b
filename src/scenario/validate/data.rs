//! `[data.NAME]`: the CSV files rows are taken from (read by `scenario::datafile`).

use super::*;
use crate::scenario::datafile;

impl Validator<'_> {
    /// `[data.NAME] file = "users.csv"`: a CSV file with a header row, read now.
    pub(super) fn data(
        &self,
        raw: Option<&BTreeMap<String, Spanned<RawData>>>,
        scenario_file: &str,
    ) -> Result<Vec<DataSet>> {
        let dir = std::path::Path::new(scenario_file)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let mut sets = Vec::new();
        for (name, d) in raw.into_iter().flatten() {
            let key = format!("data.{name}");
            let Some(file) = &d.get_ref().file else {
                return Err(self.err(
                    d.span(),
                    &format!("{key}.file"),
                    "is missing; write e.g. file = \"users.csv\" (next to the scenario)",
                ));
            };
            let unique = match &d.get_ref().mode {
                None => false,
                Some(m) => match m.get_ref().as_str() {
                    "cycle" => false,
                    "unique" => true,
                    other => {
                        return Err(self.err(
                            m.span(),
                            &format!("{key}.mode"),
                            format!("\"{other}\" is not a mode; write \"cycle\" (rows in order, from the top again at the end) or \"unique\" (each row to one user only)"),
                        ));
                    }
                },
            };
            let limit = match &d.get_ref().max_size {
                Some(v) => self.size(v, &format!("{key}.max_size"))?,
                None => datafile::DEFAULT_LIMIT,
            };
            let path = dir.join(file.get_ref());
            let table = datafile::read(&path, limit, &key)
                .map_err(|m| self.err(file.span(), &format!("{key}.file"), m))?;
            sets.push(DataSet {
                name: name.clone(),
                file: file.get_ref().clone(),
                columns: table.columns,
                rows: Arc::new(table.rows),
                unique,
            });
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_data_file_is_read_beside_the_scenario_and_its_errors_name_the_key() {
        let dir = std::env::temp_dir().join(format!("swarm-validate-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("u.csv"), "name\nann\n").unwrap();
        let file = dir.join("s.toml");
        let src = "host = \"http://127.0.0.1:1\"\n[data.u]\nfile = \"u.csv\"\nmode = \"unique\"\n[[endpoints]]\npath = \"/{{u.name}}\"\n";
        let p = super::super::parse(src, file.to_str().unwrap(), None).unwrap();
        assert_eq!((p.data[0].rows.len(), p.data[0].unique), (1, true));
        let missing = src.replace("u.csv", "gone.csv");
        let e = super::super::parse(&missing, file.to_str().unwrap(), None).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("data.u.file", 3));
        let bad_mode = src.replace("unique", "shuffle");
        let e = super::super::parse(&bad_mode, file.to_str().unwrap(), None).unwrap_err();
        assert_eq!(e.key, "data.u.mode");
        let _ = std::fs::remove_dir_all(dir);
    }
}

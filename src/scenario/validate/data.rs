//! `[data.NAME]`: the CSV files rows are taken from (read by `scenario::datafile`).

use super::*;
use crate::scenario::datafile;

impl Validator<'_> {
    /// Every `[data.NAME] file = "users.csv"`: a CSV file with a header row, read now. A set
    /// that fails keeps its error and is left out (its name in `unread_sets`).
    pub(super) fn data(
        &mut self,
        raw: Option<&BTreeMap<String, Spanned<RawData>>>,
        scenario_file: &str,
        errors: &mut Errors,
    ) -> Vec<DataSet> {
        let dir = std::path::Path::new(scenario_file)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let mut sets = Vec::new();
        for (name, d) in raw.into_iter().flatten() {
            match self.data_set(name, d, &dir) {
                Ok(set) => sets.push(set),
                Err(e) => {
                    errors.0.push(e);
                    self.unread_sets.insert(name.clone());
                }
            }
        }
        sets
    }

    fn data_set(&self, name: &str, d: &Spanned<RawData>, dir: &std::path::Path) -> Result<DataSet> {
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
        Ok(DataSet {
            name: name.to_string(),
            file: file.get_ref().clone(),
            columns: table.columns,
            rows: Arc::new(table.rows),
            unique,
        })
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

    /// A data file that cannot be read says so once: the templates that name its columns
    /// are not reported as well ("{{u.name}} is not a variable" was made up). A column a
    /// file does not have is named with the ones it has, and a header read as one column
    /// because it is separated by semicolons says so.
    #[test]
    fn a_bad_data_file_is_one_error_and_a_missing_column_lists_the_others() {
        let dir = std::env::temp_dir().join(format!("swarm-validate-data2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.toml");
        let src = "host = \"http://127.0.0.1:1\"\n[data.u]\nfile = \"u.csv\"\n[[endpoints]]\npath = \"/{{u.name}}\"\n";
        std::fs::write(dir.join("u.csv"), "name,pass\nann,1,extra\n").unwrap();
        let errors = super::super::all_errors(src, file.to_str().unwrap());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "data.u.file");
        std::fs::write(dir.join("u.csv"), "name;pass\nann;1\n").unwrap();
        let errors = super::super::all_errors(src, file.to_str().unwrap());
        assert_eq!(errors.len(), 1, "{errors:?}");
        let m = &errors[0].message;
        assert!(
            m.contains("[data.u] has no column \"name\"")
                && m.contains("names \"name;pass\"")
                && m.contains("separated by commas"),
            "{m}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

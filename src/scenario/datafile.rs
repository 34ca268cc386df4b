//! Reading a data file: a CSV file with a header row whose rows users take in turn. The
//! reading is bounded (a regular file only, at most `limit` bytes, since its rows are held
//! in memory); `validate` says where in the scenario a file that cannot be read is named.

use std::io::Read;
use std::path::Path;

/// How large a data file may be unless its `max_size` says otherwise.
pub(crate) const DEFAULT_LIMIT: u64 = 64 << 20;

/// A data file's column names (trimmed) and its rows.
#[derive(Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Reads the CSV file at `path`; `table` is the scenario's `[data.NAME]`, for the hint
/// when the file is above `limit`.
pub fn read(path: &Path, limit: u64, table: &str) -> Result<Table, String> {
    let mut reader = csv::Reader::from_reader(open(path, limit, table)?);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .iter()
        .map(|c| c.trim().to_string())
        .collect();
    for (i, c) in columns.iter().enumerate() {
        if let Some(j) = columns[i + 1..]
            .iter()
            .position(|o| o == c && !c.is_empty())
        {
            return Err(format!(
                "{}: the header line names column \"{c}\" twice (columns {} and {}): which one {{{{{}.{c}}}}} means would be a guess",
                path.display(),
                i + 1,
                i + j + 2,
                table.strip_prefix("data.").unwrap_or(table),
            ));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(format!(
            "{} has no rows under its header line",
            path.display()
        ));
    }
    Ok(Table { columns, rows })
}

/// Opens a data file for reading, refusing what is not a regular file (a directory, a
/// FIFO that would block, a device such as /dev/zero that never ends) and files above
/// `limit` bytes. The reader stops past the limit even if the file grows meanwhile.
fn open(path: &Path, limit: u64, table: &str) -> Result<impl Read, String> {
    let shown = path.display();
    let meta = crate::fsutil::regular_file(path, "give a CSV file")?;
    if meta.len() > limit {
        return Err(format!(
            "{shown} is {} bytes, above the limit of {limit} bytes for a data file (its rows are held in memory); raise it with max_size = \"{}MB\" in [{table}]",
            meta.len(),
            meta.len().div_ceil(1 << 20)
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(file.take(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("swarm-datafile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_the_header_trimmed_and_every_row() {
        let path = file("users.csv", "name , pass\nann,1\nbob,2\n");
        let t = read(&path, DEFAULT_LIMIT, "data.users").unwrap();
        assert_eq!(t.columns, ["name", "pass"]);
        assert_eq!(t.rows, [["ann", "1"], ["bob", "2"]]);
    }

    #[test]
    fn refuses_a_file_without_rows_a_large_file_and_a_directory() {
        let empty = file("empty.csv", "name\n");
        assert!(
            read(&empty, DEFAULT_LIMIT, "data.e")
                .unwrap_err()
                .contains("no rows")
        );
        let big = file("big.csv", "name\nann\n");
        let e = read(&big, 4, "data.big").unwrap_err();
        assert!(
            e.contains("above the limit of 4 bytes") && e.contains("[data.big]"),
            "{e}"
        );
        let dir = empty.parent().unwrap();
        assert!(read(dir, DEFAULT_LIMIT, "data.d").is_err());
    }

    #[test]
    fn a_column_named_twice_is_refused() {
        let path = file("twice.csv", "id,name, id\n1,a,2\n");
        let e = read(&path, DEFAULT_LIMIT, "data.t").unwrap_err();
        assert!(
            e.contains("twice.csv") && e.contains("column \"id\" twice (columns 1 and 3)"),
            "{e}"
        );
    }

    #[test]
    fn a_ragged_row_names_the_file() {
        let path = file("ragged.csv", "a,b\n1,2\n3\n");
        let e = read(&path, DEFAULT_LIMIT, "data.r").unwrap_err();
        assert!(e.contains("ragged.csv"), "{e}");
    }
}

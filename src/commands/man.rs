//! `swarm man` and `swarm completions`: the manual pages and the shell completions, from
//! clap's definitions.

/// `swarm man`: the pages on `out`.
pub(super) fn man(out: &mut impl std::io::Write) -> anyhow::Result<i32> {
    match man_pages(out) {
        // `swarm man | head`: the reader had enough; not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(anyhow::anyhow!("cannot write the manual page: {e}")),
        Ok(()) => Ok(0),
    }
}

/// The main page, with the exit codes, the TUI's keys and where the scenario format is
/// written down, then one page per subcommand (swarm-run, swarm-check, ...), each with the
/// version.
fn man_pages(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let subcommands: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    clap_mangen::Man::new(cmd).render(out)?;
    out.write_all(man_extra().as_bytes())?;
    for sub in subcommands {
        let name = format!("swarm-{}", sub.get_name());
        clap_mangen::Man::new(sub.name(name).version(version.clone())).render(out)?;
    }
    Ok(())
}

/// roff text for the main page's own sections.
fn man_extra() -> String {
    let roff = |s: &str| s.replace('\\', "\\\\").replace('-', "\\-");
    let mut page = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in [
        ("0", "the run completed and no request failed"),
        (
            "1",
            "failed requests (--exit-code-on-error picks another code), a failed threshold, every request cut at the stop, or a run that sent no request",
        ),
        (
            "2",
            "bad input: a scenario that does not load, a bad flag, an unreadable file, a file that is not a saved run",
        ),
        (
            "3",
            "a distributed run lost a worker or its workers did not all join, or a worker lost its controller",
        ),
    ] {
        page += &format!(".TP\n{code}\n{}\n", roff(meaning));
    }
    page += ".SH \"TERMINAL UI KEYS\"\n";
    for (keys, what) in crate::tui::keymap::help_rows() {
        page += &format!(".TP\n{}\n{}\n", roff(keys), roff(what));
    }
    page += ".SH \"SCENARIO FORMAT\"\nEvery key of a scenario file, its default and unit: scenarios/README.md in the source tree; \\fBswarm check FILE\\fR validates one and says what it would do.\n";
    page
}

/// `swarm completions SHELL`: the completion script on standard output.
pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<i32> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "swarm", &mut std::io::stdout());
    Ok(0)
}

#[cfg(test)]
mod tests {
    /// A reader that closes the pipe after a few bytes (`swarm man | head`).
    struct Head(usize);

    impl std::io::Write for Head {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn man_to_a_reader_that_leaves_early_is_not_an_error() {
        assert_eq!(super::man(&mut Head(100)).unwrap(), 0);
        let mut all = Vec::new();
        assert_eq!(super::man(&mut all).unwrap(), 0);
        assert!(all.len() > 100);
    }
}

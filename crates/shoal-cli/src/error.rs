//! How failures become one line on stderr and an exit code.

use std::process::ExitCode;

/// A command's failure, split by who must act on it.
#[derive(Debug)]
pub enum CliError {
    /// The user's input is wrong (flag, file, row, URL): exit code 2,
    /// one line naming the file/line/key at fault.
    Usage(String),
    /// The work itself failed (I/O, a server, a job): exit code 1 with
    /// the whole cause chain.
    Failed(anyhow::Error),
}

impl CliError {
    /// A user mistake described in one line.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }
}

impl From<anyhow::Error> for CliError {
    fn from(err: anyhow::Error) -> Self {
        CliError::Failed(err)
    }
}

/// Prints `err` and returns its exit code.
pub fn report(err: CliError) -> ExitCode {
    match err {
        CliError::Usage(message) => {
            eprintln!("shoal: error: {}", one_line(&message));
            ExitCode::from(2)
        }
        CliError::Failed(err) => {
            eprintln!("shoal: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Clap prints help/version to stdout (exit 0) and usage errors to stderr;
/// usage errors must exit 2 with a short message, not a wall of help.
pub fn exit_for_clap(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            // Clap's message is the lines before its "Usage:" block; fold
            // them into one line ("required arguments were not provided: <FILES>").
            let rendered = err.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect();
            let first = message.join(" ");
            let first = first.trim_start_matches("error: ");
            eprintln!("shoal: error: {first} (see 'shoal --help')");
            ExitCode::from(2)
        }
    }
}

fn one_line(message: &str) -> String {
    message
        .split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

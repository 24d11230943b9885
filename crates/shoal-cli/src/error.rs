//! How failures become one line on stderr and an exit code.

use std::process::ExitCode;

use crate::program_name;

/// The exit codes every Shoal binary uses.
pub mod exit {
    /// The work itself failed: a job, a server, I/O.
    pub const FAILURE: u8 = 1;
    /// The user's input is wrong: a flag, a file, a row, a URL.
    pub const USAGE: u8 = 2;
}

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

    /// The exit code this failure ends the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Failed(_) => exit::FAILURE,
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(err: anyhow::Error) -> Self {
        CliError::Failed(err)
    }
}

/// Prints `err` and returns its exit code.
pub fn report(err: CliError) -> ExitCode {
    let code = err.exit_code();
    match err {
        CliError::Usage(message) => eprintln!("{}: error: {}", program_name(), one_line(&message)),
        CliError::Failed(err) => eprintln!("{}: error: {}", program_name(), chain_line(&err)),
    }
    ExitCode::from(code)
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
                ExitCode::from(exit::USAGE)
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
            let program = program_name();
            eprintln!("{program}: error: {first} (see '{program} --help')");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// `err` and its causes on one line, each said once. Errors often put
/// their cause's text in their own message *and* return it as `source()`
/// (the Redis client does, and so do errors wrapping it), so printing the
/// chain as is said "failed to lookup address information: …" three times.
fn chain_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

fn one_line(message: &str) -> String {
    message
        .split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose message repeats its cause, as many libraries' do.
    #[derive(Debug)]
    struct Wrapping {
        what: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    }

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.what, self.source)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.source)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = std::io::Error::other("failed to lookup address information");
        let redis = Wrapping {
            what: "connect",
            source: Box::new(io),
        };
        let coord = Wrapping {
            what: "open redis://h:6379",
            source: Box::new(redis),
        };
        let err = anyhow::Error::new(coord).context("shoal kv get");
        assert_eq!(
            chain_line(&err),
            "shoal kv get: open redis://h:6379: connect: failed to lookup address information"
        );
    }

    #[test]
    fn causes_not_in_the_message_are_all_shown() {
        let io = std::io::Error::other("disk full");
        let err = anyhow::Error::new(io)
            .context("writing out.json")
            .context("shoal analyze");
        assert_eq!(
            chain_line(&err),
            "shoal analyze: writing out.json: disk full"
        );
    }
}

//! Hook files named by a manifest's `install_hooks`: declarative actions per phase.
//!
//! ```text
//! preinstall {
//!     string action = "warn";
//!     string msg = "Backing up config before installing mytool";
//! }
//! postinstall { string action = "run"; string[] command = { "bin/mytool", "--init" }; int timeout = 120; }
//! ```
//!
//! A `run` hook's command runs in the sandbox, in the package's `files/` (read-only), with
//! the package's state directory writable; `timeout` is in seconds (default
//! [`DEFAULT_TIMEOUT`], at most [`MAX_TIMEOUT`]).

use super::FileError;
use super::decode::Reader;
use crate::acl::{self, Block};

/// Seconds a `run` hook may take when its file does not say.
pub const DEFAULT_TIMEOUT: u64 = 60;
/// The most seconds a hook file may give a `run` hook.
pub const MAX_TIMEOUT: u64 = 600;

/// When a hook runs.
pub(crate) const PHASES: &[&str] = &["preinstall", "postinstall", "preremove", "postremove"];

/// What a hook does.
#[derive(Debug, Clone, PartialEq)]
pub enum HookAction {
    /// Show a warning.
    Warn(String),
    /// Show a message.
    Info(String),
    /// Run a command inside the sandbox, for at most this many seconds.
    Run(Vec<String>, u64),
}

/// One hook: a phase and an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// `preinstall`, `postinstall`, `preremove` or `postremove`.
    pub phase: String,
    /// The action.
    pub action: HookAction,
}

/// A decoded hook file.
#[derive(Debug, Clone, PartialEq)]
pub struct HookFile {
    /// Hooks in file order.
    pub hooks: Vec<Hook>,
    /// Blocks for phases this version of Pandora does not know, kept and ignored.
    pub unknown_phases: Vec<String>,
}

impl HookFile {
    /// Parses a hook file.
    pub fn parse(text: &str, origin: &str) -> Result<HookFile, FileError> {
        let doc = acl::parse_data(text, origin)?;
        let mut hooks = Vec::new();
        let mut unknown_phases = Vec::new();
        for block in doc.into_blocks() {
            if !PHASES.contains(&block.name.as_str()) {
                unknown_phases.push(block.name.to_string());
                continue;
            }
            let phase = block.name.to_string();
            hooks.push(Hook {
                phase,
                action: action(block, origin)?,
            });
        }
        Ok(HookFile {
            hooks,
            unknown_phases,
        })
    }

    /// Whether any hook needs to run a command.
    pub fn runs_commands(&self) -> bool {
        self.hooks
            .iter()
            .any(|h| matches!(h.action, HookAction::Run(..)))
    }

    /// `phase: command` for every `run` hook, as an index and a plan list them.
    pub fn run_summaries(&self) -> Vec<String> {
        self.hooks
            .iter()
            .filter_map(|h| match &h.action {
                HookAction::Run(cmd, _) => Some(format!("{}: {}", h.phase, shell_words(cmd))),
                _ => None,
            })
            .collect()
    }
}

/// A command as a shell would read it back: arguments with anything but plain characters are
/// single-quoted, so `["a b"]` and `["a", "b"]` never read the same.
pub fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./=:@%+,-".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn action(block: Block, origin: &str) -> Result<HookAction, FileError> {
    let mut r = Reader::new(origin, block);
    let kind = r.req_str("action")?;
    match kind.as_str() {
        "warn" => Ok(HookAction::Warn(r.req_str("msg")?)),
        "info" => Ok(HookAction::Info(r.req_str("msg")?)),
        "run" => {
            let command = r.req_strs("command")?;
            if command.is_empty() {
                return Err(r.field_error("command", "must name a program to run"));
            }
            let timeout = match r.opt_int("timeout")? {
                None => DEFAULT_TIMEOUT,
                Some(t) if t >= 1 && t as u64 <= MAX_TIMEOUT => t as u64,
                Some(_) => {
                    return Err(r.field_error(
                        "timeout",
                        format!("must be between 1 and {MAX_TIMEOUT} seconds"),
                    ));
                }
            };
            Ok(HookAction::Run(command, timeout))
        }
        other => Err(r.field_error("action", format!("`{other}` is not one of warn, info, run"))),
    }
}

#[cfg(test)]
mod shell_words_tests {
    use super::shell_words;

    #[test]
    fn arguments_with_spaces_or_quotes_are_quoted() {
        let s = |v: &[&str]| shell_words(&v.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["bin/tool", "--init"]), "bin/tool --init");
        assert_eq!(s(&["a b"]), "'a b'");
        assert_eq!(s(&["a", "b"]), "a b");
        assert_eq!(s(&["sh", "-c", "echo it's"]), "sh -c 'echo it'\\''s'");
        assert_eq!(s(&[""]), "''");
    }
}

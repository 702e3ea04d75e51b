//! Hook files named by a manifest's `install_hooks`: declarative actions per phase.
//!
//! ```text
//! preinstall {
//!     string action = "warn";
//!     string msg = "Backing up config before installing mytool";
//! }
//! postinstall { string action = "run"; string[] command = { "bin/mytool", "--init" }; }
//! ```

use super::FileError;
use super::decode::Reader;
use crate::acl::{self, Block};

/// When a hook runs.
pub(crate) const PHASES: &[&str] = &["preinstall", "postinstall", "preremove", "postremove"];

/// What a hook does.
#[derive(Debug, Clone, PartialEq)]
pub enum HookAction {
    /// Show a warning.
    Warn(String),
    /// Show a message.
    Info(String),
    /// Run a command inside the sandbox.
    Run(Vec<String>),
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
            .any(|h| matches!(h.action, HookAction::Run(_)))
    }
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
            Ok(HookAction::Run(command))
        }
        other => Err(r.field_error("action", format!("`{other}` is not one of warn, info, run"))),
    }
}

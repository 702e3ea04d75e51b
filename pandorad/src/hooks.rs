//! A package's install and remove hooks: `warn` and `info` show their message, `run`
//! executes its command in the sandbox with the package's `files/` read-only at `/pkg` (the
//! working directory), its state directory `state/<name>/` writable at `/state` (also
//! `HOME`), no network and the hook's timeout. The output reaches the client as log events;
//! every run is recorded in `log/events.log`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pandora_common::files::{HookAction, HookFile, Manifest, Pin};
use pandora_common::layout::Layout;

use crate::engine::Events;
use crate::error::{Error, Result};
use crate::journal;
use crate::sandbox::{self, Ended, Job};

/// Every hook of `manifest`'s hook files in `entry` (a store entry or a staged one), in
/// order, with the file each comes from.
pub(crate) fn load(
    entry: &Path,
    manifest: &Manifest,
    pin: &Pin,
) -> Result<Vec<(String, pandora_common::files::Hook)>> {
    let mut out = Vec::new();
    for rel in &manifest.install_hooks {
        let path = entry.join(rel);
        let text = fs_err::read_to_string(&path).map_err(Error::io("read hook", &path))?;
        let file = HookFile::parse(&text, &format!("{pin}:{rel}")).map_err(|source| {
            Error::InvalidHook {
                pin: pin.clone(),
                hook: rel.clone(),
                source: Box::new(source),
            }
        })?;
        out.extend(file.hooks.into_iter().map(|h| (rel.clone(), h)));
    }
    Ok(out)
}

/// Runs the hooks of `phase` for the package in `entry`. `outcome` says what a failure
/// means for the request ("nothing was installed", ...), for the error.
pub(crate) fn run_phase(
    layout: &Layout,
    entry: &Path,
    manifest: &Manifest,
    phase: &str,
    outcome: &str,
    events: &Events,
) -> Result<()> {
    let pin = manifest.pin();
    for (rel, hook) in load(entry, manifest, &pin)? {
        if hook.phase != phase {
            continue;
        }
        let subject = pin.to_string();
        match &hook.action {
            HookAction::Warn(msg) => events.warn(
                "hook",
                &subject,
                format!("{pin} ({phase}): {msg}"),
                &[("package", &subject), ("phase", phase), ("hook", &rel)],
            ),
            HookAction::Info(msg) => events.info(format!("{pin} ({phase}): {msg}")),
            HookAction::Run(command, timeout) => {
                run_command(
                    layout, entry, &pin, phase, command, *timeout, outcome, events,
                )?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_command(
    layout: &Layout,
    entry: &Path,
    pin: &Pin,
    phase: &str,
    command: &[String],
    timeout: u64,
    outcome: &str,
    events: &Events,
) -> Result<()> {
    let state = layout.state(&pin.name);
    fs_err::create_dir_all(&state).map_err(Error::io("create", &state))?;
    let files = entry.join("files");
    let mut job = Job::new(command.to_vec());
    job.binds.push(sandbox::Bind {
        source: if files.is_dir() {
            files
        } else {
            entry.to_path_buf()
        },
        target: PathBuf::from("/pkg"),
        writable: false,
    });
    job.binds.push(sandbox::Bind {
        source: state,
        target: PathBuf::from("/state"),
        writable: true,
    });
    job.cwd = PathBuf::from("/pkg");
    job.home = PathBuf::from("/state");
    job.env.push(("PANDORA_PACKAGE".into(), pin.to_string()));
    job.env.push(("PANDORA_PHASE".into(), phase.into()));
    job.limits.timeout = Duration::from_secs(timeout);
    let shown = pandora_common::files::shell_words(command);
    events.info(format!("{pin} ({phase}): running `{shown}` in the sandbox"));
    let ended = sandbox::run(&job, &format!("{pin} ({phase})"), events);
    let how = ended.failure(job.limits.timeout);
    journal::record(
        layout,
        &format!(
            "hook {pin} {phase} {}",
            match (&ended, &how) {
                (Ended::Exited(0), _) => "ok".to_string(),
                (_, Some(h)) => h.replace(' ', "-"),
                (Ended::Unavailable(_), _) => "unavailable".into(),
                _ => "cancelled".into(),
            }
        ),
    );
    match ended {
        Ended::Exited(0) => Ok(()),
        Ended::Unavailable(reason) => Err(Error::NeedsSandbox {
            pin: pin.clone(),
            phase: phase.into(),
            command: shown,
            reason,
            outcome: outcome.into(),
        }),
        Ended::Cancelled(e) => Err(e),
        _ => Err(Error::HookFailed {
            pin: pin.clone(),
            phase: phase.into(),
            command: shown,
            how: how.unwrap_or_default(),
            outcome: outcome.into(),
        }),
    }
}

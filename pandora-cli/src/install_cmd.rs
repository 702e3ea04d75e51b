//! `pandora install` and `pandora remove`: the plan, the questions (install, activate,
//! delete from the store) and the requests that follow the answers.

use std::process::ExitCode;

use pandora_proto::v1::{InstallRequest, RemoveRequest};

use crate::client::{self, status_failure};
use crate::daemon_cmd::absolute_packages;
use crate::output::{Printer, human_size};
use crate::{Failure, Outcome};

/// `pandora install`'s arguments.
pub(crate) struct InstallArgs {
    pub(crate) packages: Vec<String>,
    pub(crate) yes: bool,
    pub(crate) refresh: bool,
    pub(crate) repair: bool,
    /// Activate what was asked for (asked at a terminal, else done and said).
    pub(crate) activate: bool,
    pub(crate) profile: String,
    pub(crate) strategy: String,
}

/// Whether to ask questions: at a terminal (or with `PANDORA_ASK=1`), unless `--yes`.
pub(crate) fn asking(yes: bool) -> bool {
    use std::io::IsTerminal;
    !yes && (std::io::stdin().is_terminal()
        || std::env::var_os("PANDORA_ASK").is_some_and(|v| v == "1"))
}

/// Installs, then activates what was asked for. At a terminal it shows the plan and asks
/// first (whether to install, then whether to activate), and the daemon refuses to apply a
/// plan that changed after it was shown; without one it installs and activates, and says so.
pub(crate) async fn install(p: &Printer, c: &mut client::Client, args: InstallArgs) -> Outcome {
    let packages = absolute_packages(args.packages)?;
    let mut activate = args.activate;
    let mut plan_id = String::new();
    let request = |plan_only: bool, plan_id: String, activate: bool| InstallRequest {
        packages: packages.clone(),
        plan_only,
        plan_id,
        refresh: args.refresh,
        repair: args.repair,
        activate,
        profile: args.profile.clone(),
        strategy: args.strategy.clone(),
    };
    if asking(args.yes) {
        let stream = c
            .install(request(true, String::new(), activate))
            .await
            .map_err(status_failure)?;
        let summary = p.follow(stream.into_inner()).await?;
        let plan = summary.plan.unwrap_or_default();
        p.plan(&plan);
        let n = plan.items.iter().filter(|i| !i.in_store).count();
        if n == 0 && plan.activation.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
        if n > 0 {
            let hooks: usize = plan
                .items
                .iter()
                .filter(|i| !i.in_store)
                .map(|i| i.hooks.len())
                .sum();
            let hooks = match hooks {
                0 => String::new(),
                1 => ", running 1 hook in the sandbox".to_string(),
                n => format!(", running {n} hooks in the sandbox"),
            };
            let question = format!(
                "Install {n} package{} ({} to download{hooks})? [Y/n] ",
                if n == 1 { "" } else { "s" },
                human_size(plan.download_bytes)
            );
            if !confirm(&question)? {
                eprintln!("nothing installed");
                return Ok(ExitCode::FAILURE);
            }
        }
        if let Some(a) = &plan.activation {
            let question = format!(
                "Activate {} in profile {}? [Y/n] ",
                a.packages.join(", "),
                a.profile
            );
            if !confirm(&question)? {
                if n == 0 {
                    eprintln!("nothing changed");
                    return Ok(ExitCode::SUCCESS);
                }
                // The plan without the activation, checked against what was shown.
                activate = false;
                let stream = c
                    .install(request(true, String::new(), false))
                    .await
                    .map_err(status_failure)?;
                let again = p.quietly(stream.into_inner()).await?;
                if again.plan.map(|p| p.items) != Some(plan.items.clone()) {
                    return Err(Failure::new(
                        "the plan changed after it was shown (a registry changed in between); nothing was installed",
                    )
                    .code("stale-plan")
                    .hint("run the command again to see the new plan"));
                }
                plan_id = again.plan_id;
            }
        }
        if plan_id.is_empty() {
            plan_id = plan.id;
        }
    }
    let call = c.install(request(false, plan_id, activate)).await;
    crate::desktop::activated(p, c, call, args.yes).await
}

/// Takes a version out of the profile; at a terminal asks whether to delete it from the
/// store too when nothing else holds it (`--purge` answers yes; no is the default).
pub(crate) async fn remove(
    p: &Printer,
    c: &mut client::Client,
    package: String,
    profile: String,
    purge: bool,
) -> Outcome {
    let req = RemoveRequest {
        package,
        profile,
        purge,
    };
    let stream = c.remove(req.clone()).await.map_err(status_failure)?;
    let summary = p.follow(stream.into_inner()).await?;
    if purge || summary.counts.get("deletable").copied().unwrap_or(0) == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    // Asked only at a terminal, and `--yes` does not delete: only --purge or an answer does.
    if !asking(false) {
        return Ok(ExitCode::SUCCESS);
    }
    if confirm_no("Also delete it from the store? [y/N] ")? {
        let req = RemoveRequest { purge: true, ..req };
        return p.mutation(c.remove(req).await).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks a yes/no question whose default is no: only `y` or `yes` is yes.
fn confirm_no(question: &str) -> Result<bool, Failure> {
    use std::io::{BufRead, Write};
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// Asks a yes/no question (yes by default) until it gets an answer it understands: `y`,
/// `yes` or an empty line is yes, `n` or `no` (or the end of input) is no; anything else is
/// asked again, three times at most, then taken as no.
pub(crate) fn confirm(question: &str) -> Result<bool, Failure> {
    use std::io::{BufRead, Write};
    for _ in 0..3 {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Failure::new(format!("cannot read the answer: {e}")))?;
        if read == 0 {
            return Ok(false);
        }
        match answer.trim().to_lowercase().as_str() {
            "" | "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            other => eprintln!("`{other}` is neither yes nor no"),
        }
    }
    Ok(false)
}

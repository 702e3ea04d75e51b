//! Profile commands answered by `pandorad`: `list` (what a profile holds), `profile list`,
//! `profile generations`, `profile diff` (computed here from the typed generation lists)
//! and `profile create|switch|delete|rollback`.

use std::process::ExitCode;

use pandora_proto::v1::change_profile_request::Action;
use pandora_proto::v1::{
    ApplyLockRequest, ChangeProfileRequest, ExportLockRequest, ListInstalledRequest,
    ListProfilesRequest,
};

use crate::client::{self, status_failure};
use crate::daemon_cmd::table;
use crate::output::{Printer, quote};
use crate::{Failure, LockCommand, Outcome, ProfileCommand, print_out};

pub(crate) async fn profile(p: &Printer, c: &mut client::Client, cmd: ProfileCommand) -> Outcome {
    let change = |action: Action, profile: String, generation: u64| ChangeProfileRequest {
        action: action as i32,
        profile,
        generation,
    };
    let req = match cmd {
        ProfileCommand::Create { name } => change(Action::Create, name, 0),
        ProfileCommand::Switch { name } => change(Action::Switch, name, 0),
        ProfileCommand::Delete { name } => change(Action::Delete, name, 0),
        ProfileCommand::Rollback { to, profile } => change(
            Action::Rollback,
            profile.unwrap_or_default(),
            to.unwrap_or(0),
        ),
        ProfileCommand::List => return profile_list(p, c).await,
        ProfileCommand::Generations { profile } => {
            return generations(p, c, profile.unwrap_or_default()).await;
        }
        ProfileCommand::Diff { from, to, profile } => {
            return diff(p, c, from, to, profile.unwrap_or_default()).await;
        }
        ProfileCommand::Override { .. } => unreachable!("handled as its own request"),
    };
    p.mutation(c.change_profile(req).await).await
}

async fn profile_list(p: &Printer, c: &mut client::Client) -> Outcome {
    let r = c
        .list_profiles(ListProfilesRequest::default())
        .await
        .map_err(status_failure)?
        .into_inner();
    let text: String = if p.plain {
        r.profiles
            .iter()
            .map(|x| {
                format!(
                    "profile={} active={} generation={} packages={}\n",
                    x.name, x.active, x.generation, x.packages
                )
            })
            .collect()
    } else {
        let rows: Vec<Vec<String>> = r
            .profiles
            .iter()
            .map(|x| {
                vec![
                    format!("{}{}", if x.active { "* " } else { "  " }, x.name),
                    x.generation.to_string(),
                    x.packages.to_string(),
                ]
            })
            .collect();
        table(p, &["  PROFILE", "GENERATION", "PACKAGES"], &rows)
    };
    print_out(&text);
    Ok(ExitCode::SUCCESS)
}

async fn generations(p: &Printer, c: &mut client::Client, profile: String) -> Outcome {
    let r = c
        .list_profiles(ListProfilesRequest { profile })
        .await
        .map_err(status_failure)?
        .into_inner();
    let text: String = r
        .generations
        .iter()
        .map(|g| {
            if p.plain {
                format!(
                    "profile={} generation={} current={} packages={}\n",
                    r.profile,
                    g.number,
                    g.current,
                    quote(&g.packages.join(","))
                )
            } else {
                format!(
                    "{}{:>4}  {}\n",
                    if g.current { "*" } else { " " },
                    g.number,
                    if g.packages.is_empty() {
                        "(empty)".to_string()
                    } else {
                        g.packages.join(" ")
                    }
                )
            }
        })
        .collect();
    print_out(&text);
    Ok(ExitCode::SUCCESS)
}

/// Packages added, removed and changed from generation `from` to `to`, computed from the
/// generations' typed lists.
async fn diff(p: &Printer, c: &mut client::Client, from: u64, to: u64, profile: String) -> Outcome {
    let r = c
        .list_profiles(ListProfilesRequest { profile })
        .await
        .map_err(status_failure)?
        .into_inner();
    let find = |n: u64| {
        r.generations
            .iter()
            .find(|g| g.number == n)
            .map(|g| {
                g.packages
                    .iter()
                    .filter_map(|pin| pin.split_once('@'))
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect::<std::collections::BTreeMap<_, _>>()
            })
            .ok_or_else(|| {
                Failure::new(format!("profile `{}` has no generation {n}", r.profile))
                    .code("not-found")
                    .hint(format!("pandora profile generations {}", r.profile))
            })
    };
    let (a, b) = (find(from)?, find(to)?);
    let mut lines = Vec::new();
    for (name, v) in &b {
        match a.get(name) {
            None => lines.push(("added", format!("{name}@{v}"))),
            Some(old) if old != v => lines.push(("changed", format!("{name}@{old} -> {name}@{v}"))),
            Some(_) => {}
        }
    }
    for (name, v) in &a {
        if !b.contains_key(name) {
            lines.push(("removed", format!("{name}@{v}")));
        }
    }
    let text: String = lines
        .iter()
        .map(|(what, pin)| {
            if p.plain {
                format!("{what}={}\n", quote(pin))
            } else {
                format!("{what:<8} {pin}\n")
            }
        })
        .collect();
    if text.is_empty() && !p.plain {
        print_out(&format!(
            "generations {from} and {to} hold the same packages\n"
        ));
    } else {
        print_out(&text);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list_installed(
    p: &Printer,
    c: &mut client::Client,
    profile: String,
) -> Outcome {
    let r = c
        .list_installed(ListInstalledRequest { profile })
        .await
        .map_err(status_failure)?
        .into_inner();
    if p.plain {
        let text: String = r
            .entries
            .iter()
            .map(|e| {
                format!(
                    "profile={} generation={} name={} version={} registry={} requested={}\n",
                    r.profile,
                    r.generation,
                    e.name,
                    quote(&e.version),
                    quote(&e.registry),
                    e.requested
                )
            })
            .collect();
        print_out(&text);
        return Ok(ExitCode::SUCCESS);
    }
    if r.entries.is_empty() {
        print_out(&format!(
            "nothing is active in profile `{}`; make an installed package active: pandora activate NAME\n",
            r.profile
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = r
        .entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.version.clone(),
                e.registry.clone(),
                if e.requested { "yes" } else { "dependency" }.to_string(),
            ]
        })
        .collect();
    let mut text = format!(
        "profile `{}`, generation {}{}\n",
        r.profile,
        r.generation,
        if r.active { " (active)" } else { "" }
    );
    text.push_str(&table(p, &["NAME", "VERSION", "FROM", "REQUESTED"], &rows));
    print_out(&text);
    Ok(ExitCode::SUCCESS)
}

/// `lock export` and `lock apply`.
pub(crate) async fn lock(p: &Printer, c: &mut client::Client, cmd: LockCommand) -> Outcome {
    match cmd {
        LockCommand::Export { profile, out } => {
            let r = c
                .export_lock(ExportLockRequest {
                    profile: profile.unwrap_or_default(),
                })
                .await
                .map_err(status_failure)?
                .into_inner();
            match out {
                Some(path) => {
                    pandora_common::write_atomic(&path, r.text.as_bytes())
                        .map_err(|e| Failure::new(e.to_string()))?;
                    if !p.quiet {
                        eprintln!(
                            "wrote the lockfile of profile `{}` to {}",
                            r.profile,
                            path.display()
                        );
                    }
                }
                None => print_out(&r.text),
            }
            Ok(ExitCode::SUCCESS)
        }
        LockCommand::Apply { file, profile } => {
            let text = fs_err::read_to_string(&file).map_err(|e| {
                let failure = Failure::new(format!("cannot read the lockfile: {e}"));
                if e.kind() == std::io::ErrorKind::NotFound {
                    failure
                        .code("not-found")
                        .hint("pandora lock export -o FILE writes one")
                } else {
                    failure.code("io")
                }
            })?;
            let req = ApplyLockRequest {
                text,
                origin: file.display().to_string(),
                profile: profile.unwrap_or_default(),
            };
            p.mutation(c.apply_lock(req).await).await
        }
    }
}

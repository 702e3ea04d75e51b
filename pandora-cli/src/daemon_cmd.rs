//! Commands answered by `pandorad`: status, install, list --store|--remote, search, info,
//! verify, prune, publish, registry, activate, deactivate, which.

use std::process::ExitCode;

use pandora_common::files::PackageArg;
use pandora_common::layout::Layout;
use pandora_proto::v1::{
    ActivateRequest, AddRegistryRequest, BuildRequest, CacheFileRequest, DeactivateRequest,
    InfoRequest, ListRegistriesRequest, ListRemoteRequest, ListStoreRequest, PruneCacheRequest,
    PruneGenerationsRequest, PruneStoreRequest, PublishRequest, RemoveRegistryRequest,
    SearchRequest, SetOverrideRequest, StatusRequest, VerifyRequest, WhichRequest,
};

use crate::client::{self, status_failure};
use crate::output::{Printer, clean, human_size, quote};
use crate::{Failure, ListArgs, LockCommand, Outcome, ProfileCommand, RegistryCommand, print_out};

/// A command for the daemon.
pub(crate) enum Request {
    Status,
    Verify(Vec<String>),
    Prune {
        cache: bool,
        store: bool,
        generations: bool,
        keep: u32,
        dry_run: bool,
    },
    Publish(String, String, Option<String>),
    Search(String, bool),
    Info(String, bool),
    Graph(crate::graph_cmd::GraphArgs),
    Metrics(String, bool),
    Install(crate::install_cmd::InstallArgs),
    Cache(crate::CacheCommand),
    Build {
        dir: std::path::PathBuf,
        out: std::path::PathBuf,
        check: bool,
        no_cache: bool,
    },
    Remove {
        package: String,
        profile: String,
        purge: bool,
    },
    List(ListArgs),
    Registry(RegistryCommand),
    Activate {
        package: String,
        profile: String,
        strategy: String,
        yes: bool,
    },
    SessionPath(bool),
    Deactivate(String, String),
    Which(String, String),
    Override(String, String, String),
    Profile(ProfileCommand),
    Lock(LockCommand),
}

pub(crate) fn run(printer: Printer, request: Request) -> Outcome {
    let layout = Layout::from_env().map_err(|e| Failure::new(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let mut c = client::connect(&layout).await?;
        match request {
            Request::Status => status(&printer, &mut c).await,
            Request::Verify(pins) => {
                let s = c
                    .verify(VerifyRequest { packages: pins })
                    .await
                    .map_err(status_failure)?;
                let summary = printer.follow(s.into_inner()).await?;
                let problems = summary.counts.get("problems").copied().unwrap_or(0);
                Ok(if problems == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            Request::Prune {
                cache,
                store,
                generations,
                keep,
                dry_run,
            } => {
                if generations {
                    let call = c
                        .prune_generations(PruneGenerationsRequest { dry_run, keep })
                        .await;
                    printer.mutation(call).await?;
                }
                if store {
                    let call = c.prune_store(PruneStoreRequest { dry_run }).await;
                    printer.mutation(call).await?;
                }
                if cache {
                    let call = c.prune_cache(PruneCacheRequest { dry_run }).await;
                    printer.mutation(call).await?;
                }
                Ok(ExitCode::SUCCESS)
            }
            Request::Publish(file, registry, sig) => {
                let file = std::path::absolute(&file)
                    .map_err(|e| Failure::new(format!("cannot resolve {file}: {e}")))?;
                let beside = std::path::PathBuf::from(format!("{}.minisig", file.display()));
                let signature = match sig {
                    Some(sig) => std::path::absolute(&sig)
                        .map_err(|e| Failure::new(format!("cannot resolve {sig}: {e}")))?,
                    None if beside.is_file() => beside,
                    None => std::path::PathBuf::new(),
                };
                let req = PublishRequest {
                    file: file.display().to_string(),
                    registry,
                    signature: signature.display().to_string(),
                };
                printer.mutation(c.publish(req).await).await
            }
            Request::Search(q, refresh) => search(&printer, &mut c, q, refresh).await,
            Request::Info(p, refresh) => {
                // A local file is opened by the daemon, which has its own working directory.
                let p = absolute_packages(vec![p])?.remove(0);
                info(&printer, &mut c, p, refresh).await
            }
            Request::Install(args) => crate::install_cmd::install(&printer, &mut c, args).await,
            Request::Graph(args) => crate::graph_cmd::graph(&printer, &mut c, args).await,
            Request::Metrics(name, refresh) => {
                crate::metrics_cmd::metrics(&printer, &mut c, name, refresh).await
            }
            Request::Cache(cmd) => {
                let (export, file) = match cmd {
                    crate::CacheCommand::Export { file } => (true, file),
                    crate::CacheCommand::Import { file } => (false, file),
                };
                let file = std::path::absolute(&file)
                    .map_err(|e| Failure::new(format!("cannot resolve {}: {e}", file.display())))?
                    .display()
                    .to_string();
                let req = CacheFileRequest { file };
                let call = if export {
                    c.cache_export(req).await
                } else {
                    c.cache_import(req).await
                };
                printer.mutation(call).await
            }
            Request::Build {
                dir,
                out,
                check,
                no_cache,
            } => {
                let absolute = |p: &std::path::Path| {
                    std::path::absolute(p)
                        .map(|a| a.display().to_string())
                        .map_err(|e| Failure::new(format!("cannot resolve {}: {e}", p.display())))
                };
                let req = BuildRequest {
                    dir: absolute(&dir)?,
                    out: absolute(&out)?,
                    check,
                    no_cache,
                };
                printer.mutation(c.build(req).await).await
            }
            Request::Remove {
                package,
                profile,
                purge,
            } => crate::install_cmd::remove(&printer, &mut c, package, profile, purge).await,

            Request::List(args) => list(&printer, &mut c, &args).await,
            Request::Activate {
                package,
                profile,
                strategy,
                yes,
            } => {
                let req = ActivateRequest {
                    package,
                    profile,
                    strategy,
                };
                let call = c.activate(req).await;
                crate::desktop::activated(&printer, &mut c, call, yes).await
            }
            Request::SessionPath(on) => crate::desktop::set(&printer, &mut c, on).await,
            Request::Deactivate(name, profile) => {
                let req = DeactivateRequest { name, profile };
                printer.mutation(c.deactivate(req).await).await
            }
            Request::Override(path, package, profile) => {
                let req = SetOverrideRequest {
                    path,
                    package,
                    profile,
                };
                printer.mutation(c.set_override(req).await).await
            }
            Request::Lock(cmd) => crate::profile_cmd::lock(&printer, &mut c, cmd).await,
            Request::Profile(cmd) => crate::profile_cmd::profile(&printer, &mut c, cmd).await,
            Request::Which(path, profile) => {
                let w = c
                    .which(WhichRequest { path, profile })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                let text = if printer.plain {
                    format!(
                        "path={} package={}@{} profile={}\n",
                        quote(&w.path),
                        w.name,
                        quote(&w.version),
                        w.profile
                    )
                } else {
                    format!(
                        "{}: {}@{} (profile `{}`)\n",
                        w.path, w.name, w.version, w.profile
                    )
                };
                print_out(&clean(&text));
                Ok(ExitCode::SUCCESS)
            }
            Request::Registry(cmd) => registry(&printer, &mut c, cmd).await,
        }
    })
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

async fn status(p: &Printer, c: &mut client::Client) -> Outcome {
    let s = c
        .status(StatusRequest {})
        .await
        .map_err(status_failure)?
        .into_inner();
    let idle = if s.idle_timeout_secs == 0 {
        "never".to_string()
    } else {
        duration(s.idle_timeout_secs)
    };
    let queue = if s.queue.is_empty() {
        "empty".to_string()
    } else {
        s.queue.join("; ")
    };
    let text = if p.plain {
        format!(
            "version={} pid={} uptime_secs={} home={} store_packages={} store_bytes={} idle_exit_secs={} queue={}\n",
            s.version,
            s.pid,
            s.uptime_secs,
            quote(&s.home),
            s.store_packages,
            s.store_bytes,
            s.idle_timeout_secs,
            quote(&queue)
        )
    } else {
        format!(
            "pandorad {} (pid {}), up {}\nhome:    {}\nstore:   {} package{}, {}\nqueue:   {}\nidle exit: {}\n",
            s.version,
            s.pid,
            duration(s.uptime_secs),
            s.home,
            s.store_packages,
            if s.store_packages == 1 { "" } else { "s" },
            human_size(s.store_bytes),
            queue,
            idle
        )
    };
    print_out(&text);
    Ok(ExitCode::SUCCESS)
}

/// Left-aligned columns, the header in bold. Cells came from registries and packages:
/// control characters are escaped.
pub(crate) fn table(p: &Printer, header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = p.bold(line(header.iter().map(|h| h.to_string()).collect()).trim_end()) + "\n";
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

async fn list(p: &Printer, c: &mut client::Client, args: &ListArgs) -> Outcome {
    if args.remote {
        return list_remote(p, c).await;
    }
    if !args.store {
        return crate::profile_cmd::list_installed(p, c, args.profile.clone().unwrap_or_default())
            .await;
    }
    let reply = c
        .list_store(ListStoreRequest {})
        .await
        .map_err(status_failure)?
        .into_inner();
    for d in &reply.damaged {
        p.warning(
            "damaged",
            &format!("{}@{}", d.name, d.version),
            &format!(
                "{}@{} in the store is damaged: {}; replace it: pandora install --repair {}@{}",
                d.name, d.version, d.reason, d.name, d.version
            ),
        );
    }
    let entries = reply.entries;
    if p.plain {
        let text: String = entries
            .iter()
            .map(|e| {
                format!(
                    "name={} version={} size={} files={} sha256={}\n",
                    e.name,
                    quote(&e.version),
                    e.size,
                    e.files,
                    e.archive_sha256
                )
            })
            .collect();
        print_out(&text);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() && reply.damaged.is_empty() {
        print_out("the store is empty; install something: pandora install NAME\n");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.version.clone(),
                human_size(e.size),
                e.files.to_string(),
                e.description.clone(),
            ]
        })
        .collect();
    print_out(&table(
        p,
        &["NAME", "VERSION", "SIZE", "FILES", "DESCRIPTION"],
        &rows,
    ));
    Ok(ExitCode::SUCCESS)
}

async fn registry(p: &Printer, c: &mut client::Client, cmd: RegistryCommand) -> Outcome {
    match cmd {
        RegistryCommand::Add {
            name,
            url,
            priority,
            keys,
            optional_signatures,
        } => {
            // A key may be given as the path of a minisign.pub file.
            let keys = keys
                .into_iter()
                .map(|k| match fs_err::read_to_string(&k) {
                    Ok(text) if !k.starts_with("RW") => text,
                    _ => k,
                })
                .collect();
            let req = AddRegistryRequest {
                name,
                url,
                priority,
                keys,
                optional_signatures,
            };
            return p.mutation(c.add_registry(req).await).await;
        }
        RegistryCommand::Remove { name } => {
            let req = RemoveRegistryRequest { name };
            return p.mutation(c.remove_registry(req).await).await;
        }
        RegistryCommand::List => {
            let regs = c
                .list_registries(ListRegistriesRequest {})
                .await
                .map_err(status_failure)?
                .into_inner()
                .registries;
            if p.plain {
                let text: String = regs
                    .iter()
                    .map(|r| {
                        format!(
                            "name={} url={} priority={} publish={} signatures={} keys={}\n",
                            r.name,
                            quote(&r.url),
                            r.priority,
                            r.allow_publish,
                            r.require_signatures,
                            r.trusted_keys.len()
                        )
                    })
                    .collect();
                print_out(&text);
            } else if regs.is_empty() {
                print_out("no registries; add one: pandora registry add NAME URL\n");
            } else {
                let rows: Vec<Vec<String>> = regs
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.priority.to_string(),
                            r.url.clone(),
                            if r.allow_publish {
                                "yes".into()
                            } else {
                                "no".into()
                            },
                            match (r.require_signatures, r.trusted_keys.len()) {
                                (_, 0) => "none".into(),
                                (true, n) => format!("required ({n} key{})", plural(n)),
                                (false, n) => format!("checked ({n} key{})", plural(n)),
                            },
                        ]
                    })
                    .collect();
                print_out(&table(
                    p,
                    &["NAME", "PRIORITY", "URL", "PUBLISH", "SIGNATURES"],
                    &rows,
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Local package paths are made absolute: the daemon does not share our working directory.
pub(crate) fn absolute_packages(packages: Vec<String>) -> Result<Vec<String>, Failure> {
    packages
        .into_iter()
        .map(|p| {
            if !PackageArg::is_file(&p) {
                return Ok(p);
            }
            std::path::absolute(&p)
                .map(|a| a.display().to_string())
                .map_err(|e| Failure::new(format!("cannot resolve {p}: {e}")))
        })
        .collect()
}

async fn list_remote(p: &Printer, c: &mut client::Client) -> Outcome {
    let reply = c
        .list_remote(ListRemoteRequest {})
        .await
        .map_err(status_failure)?
        .into_inner();
    for w in &reply.warnings {
        p.warning("registry-unavailable", "", w);
    }
    if p.plain {
        let text: String = reply
            .entries
            .iter()
            .map(|e| {
                format!(
                    "registry={} name={} latest={} versions={}\n",
                    e.registry,
                    e.name,
                    quote(&e.latest),
                    quote(&e.versions.join(","))
                )
            })
            .collect();
        print_out(&text);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = reply
        .entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.latest.clone(),
                e.versions.join(", "),
                e.registry.clone(),
                e.description.clone(),
            ]
        })
        .collect();
    print_out(&table(
        p,
        &["NAME", "LATEST", "VERSIONS", "REGISTRY", "DESCRIPTION"],
        &rows,
    ));
    Ok(ExitCode::SUCCESS)
}

async fn search(p: &Printer, c: &mut client::Client, query: String, refresh: bool) -> Outcome {
    let reply = c
        .search(SearchRequest {
            query: query.clone(),
            refresh,
        })
        .await
        .map_err(status_failure)?
        .into_inner();
    for w in &reply.warnings {
        p.warning("registry-unavailable", "", w);
    }
    if reply.hits.is_empty() {
        let mut f = Failure::new(format!("no package matches `{query}`")).code("not-found");
        if let Some(first) = reply.suggestions.first() {
            let names: Vec<String> = reply.suggestions.iter().map(|n| format!("`{n}`")).collect();
            f = f.hint(format!(
                "did you mean {}? pandora info {first}",
                names.join(" or ")
            ));
        }
        return Err(f);
    }
    if p.plain {
        let text: String = reply
            .hits
            .iter()
            .map(|h| {
                format!(
                    "name={} version={} rank={} deprecated={} registry={}\n",
                    h.name,
                    quote(&h.version),
                    h.rank,
                    h.deprecated,
                    h.registry
                )
            })
            .collect();
        print_out(&text);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = reply
        .hits
        .iter()
        .map(|h| {
            let mut d = h.description.clone();
            if h.deprecated {
                d = format!("(deprecated) {d}");
            }
            vec![h.name.clone(), h.version.clone(), h.registry.clone(), d]
        })
        .collect();
    print_out(&table(
        p,
        &["NAME", "VERSION", "REGISTRY", "DESCRIPTION"],
        &rows,
    ));
    Ok(ExitCode::SUCCESS)
}

async fn info(p: &Printer, c: &mut client::Client, package: String, refresh: bool) -> Outcome {
    let i = c
        .info(InfoRequest { package, refresh })
        .await
        .map_err(status_failure)?
        .into_inner();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let fields: Vec<(&str, String)> = vec![
        ("package", format!("{}@{}", i.name, i.version)),
        ("description", i.description.clone()),
        ("license", i.license.clone()),
        ("authors", i.authors.join(", ")),
        ("arch", i.arch.clone()),
        (
            "dependencies",
            if i.dependencies.is_empty() {
                "none".into()
            } else {
                i.dependencies.join(", ")
            },
        ),
        ("tags", i.tags.join(", ")),
        (
            "size",
            if p.plain {
                i.size.to_string()
            } else {
                human_size(i.size)
            },
        ),
        ("sha256", i.sha256.clone()),
        (
            "registry",
            if i.registry.is_empty() {
                "-".into()
            } else {
                i.registry.clone()
            },
        ),
        ("in store", yes(i.in_store).into()),
        ("deprecated", yes(i.deprecated).into()),
        ("build", i.build_meta.join("; ")),
    ];
    let mut fields = fields;
    for line in &i.provenance {
        fields.push(("provenance", line.clone()));
    }
    if !i.sbom.is_empty() {
        fields.push(("sbom", i.sbom.clone()));
    }
    for line in &i.trust {
        fields.push(("trust", line.clone()));
    }
    if i.in_store {
        let active = if i.active_in.is_empty() && !p.plain {
            "no profile".to_string()
        } else {
            i.active_in.join(", ")
        };
        fields.push(("active in", active));
    }
    let text: String = if p.plain {
        fields
            .iter()
            .map(|(k, v)| format!("{}={}\n", k.replace(' ', "_"), quote(v)))
            .collect()
    } else {
        fields
            .iter()
            .map(|(k, v)| {
                let key = p.bold(&format!("{:<13}", format!("{k}:")));
                format!("{key} {}\n", clean(v))
            })
            .collect()
    };
    for note in &i.notes {
        p.note(note);
    }
    print_out(&text);
    Ok(ExitCode::SUCCESS)
}

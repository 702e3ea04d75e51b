//! Reads that need the registries: search, list --remote and info. They run on a blocking
//! thread next to the mutation queue, never in it; what they cache is written atomically.

use pandora_common::files::{Manifest, Pin};
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, Limits};
use pandora_proto::v1::{InfoReply, ListRemoteReply, RemoteEntry, SearchHit, SearchReply};
use tonic::{Code, Status};

use crate::daemon::fail;
use crate::fetch::{FetchError, RegistryClient};
use crate::registries;
use crate::store::StoreView;

/// Every configured registry, highest priority first; an error when there are none.
pub(crate) fn clients(layout: &Layout) -> Result<Vec<RegistryClient>, Status> {
    let list = registries::load(layout)?;
    if list.registries.is_empty() {
        return Err(fail(
            Code::FailedPrecondition,
            "no-registries",
            "no registries are configured",
            Some("pandora registry add NAME URL".into()),
        ));
    }
    Ok(list
        .by_priority()
        .into_iter()
        .map(|c| RegistryClient::new(layout, c.clone()))
        .collect())
}

/// A fetch error with its causes, as a status.
pub(crate) fn fetch_failed(e: FetchError) -> Status {
    fail(Code::Unavailable, "fetch", chain(&e), None)
}

/// An error and its causes on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    pandora_common::error_chain(e, ": ")
}

/// Ranked search across registries; a package offered by several keeps the highest-priority one.
pub(crate) fn search(layout: &Layout, query: &str) -> Result<SearchReply, Status> {
    let mut hits: Vec<(pandora_common::files::SearchRank, SearchHit)> = Vec::new();
    let mut warnings = Vec::new();
    for mut c in clients(layout)? {
        let index = match c.index() {
            Ok(i) => i,
            Err(e) => {
                warnings.push(chain(&e));
                continue;
            }
        };
        for h in index.search(query) {
            if hits.iter().any(|(_, x)| x.name == h.name) {
                continue;
            }
            let rank = format!("{:?}", h.rank).to_lowercase();
            hits.push((
                h.rank,
                SearchHit {
                    registry: c.config.name.clone(),
                    name: h.name,
                    version: h.version,
                    description: h.description.unwrap_or_default(),
                    tags: h.tags,
                    deprecated: h.deprecated,
                    rank,
                },
            ));
        }
    }
    if hits.is_empty() && !warnings.is_empty() {
        return Err(fail(Code::Unavailable, "fetch", warnings.join("\n"), None));
    }
    hits.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(SearchReply {
        hits: hits.into_iter().map(|(_, h)| h).collect(),
        warnings,
    })
}

/// Every package every registry offers.
pub(crate) fn list_remote(layout: &Layout) -> Result<ListRemoteReply, Status> {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for mut c in clients(layout)? {
        match c.index() {
            Ok(index) => {
                let mut packages = index.packages;
                packages.sort_by(|a, b| a.name.cmp(&b.name));
                entries.extend(packages.into_iter().map(|p| RemoteEntry {
                    registry: c.config.name.clone(),
                    latest: p.latest.clone().unwrap_or_default(),
                    versions: p.versions.iter().map(|v| v.version.clone()).collect(),
                    description: p.description.unwrap_or_default(),
                    name: p.name,
                }))
            }
            Err(e) => warnings.push(chain(&e)),
        }
    }
    if entries.is_empty() && !warnings.is_empty() {
        return Err(fail(Code::Unavailable, "fetch", warnings.join("\n"), None));
    }
    Ok(ListRemoteReply { entries, warnings })
}

/// Everything about `name[@version]`: from the store's manifest when installed, else from the
/// registry, fetching the blob into the cache to read its manifest.
pub(crate) fn info(layout: &Layout, store: &StoreView, package: &str) -> Result<InfoReply, Status> {
    let (name, version) = match package.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (package.to_string(), None),
    };
    if let Some(v) = &version
        && let Some(installed) = store.get(&name, v)
    {
        let m = &installed.manifest;
        // The registry may know more (deprecation, origin); it is optional here.
        let remote = clients(layout).ok().and_then(|cs| {
            cs.into_iter().find_map(|mut c| {
                let entry = c.package(&name).ok()??.version(v)?.clone();
                Some((c.config.name.clone(), entry))
            })
        });
        let (registry, deprecated) = remote.map_or((String::new(), m.deprecated), |(r, e)| {
            (r, e.deprecated || m.deprecated)
        });
        return Ok(reply(
            m,
            installed.size,
            m.archive_sha256.clone().unwrap_or_default(),
            registry,
            true,
            deprecated,
        ));
    }
    let mut problems = Vec::new();
    for mut c in clients(layout)? {
        let entry = match c.package(&name) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                problems.push(chain(&e));
                continue;
            }
        };
        let v = match &version {
            Some(v) => entry.version(v).cloned(),
            None => entry
                .latest
                .as_deref()
                .and_then(|l| entry.version(l))
                .or(entry.versions.last())
                .cloned(),
        };
        let Some(v) = v else { continue };
        let pin = Pin {
            name: name.clone(),
            version: v.version.clone(),
        };
        let in_store = store.get(&pin.name, &pin.version).is_some();
        let events = crate::engine::Events::detached();
        let fetched = c.blob(layout, &pin, &v, &events).map_err(fetch_failed)?;
        let file = std::fs::File::open(&fetched.path).map_err(|e| {
            fail(
                Code::Internal,
                "io",
                format!("cannot open {}: {e}", fetched.path.display()),
                None,
            )
        })?;
        let found =
            pkg::inspect(std::io::BufReader::new(file), &Limits::default()).map_err(|e| {
                fail(
                    Code::DataLoss,
                    "invalid-package",
                    format!("{pin} is not a valid package: {}", chain(&e)),
                    None,
                )
            })?;
        if found.sha256 != v.sha256 {
            return Err(fail(
                Code::DataLoss,
                "mismatch",
                format!("{pin}: the archive does not match the index"),
                None,
            ));
        }
        let size = found
            .entries
            .iter()
            .filter(|e| e.path != "manifest.acl")
            .map(|e| e.size)
            .sum();
        return Ok(reply(
            &found.manifest,
            size,
            v.sha256.clone(),
            c.config.name.clone(),
            in_store,
            v.deprecated || found.manifest.deprecated,
        ));
    }
    let what = version.map_or(name.clone(), |v| format!("{name}@{v}"));
    let mut msg = format!("{what} is in no registry and not in the store");
    for p in problems {
        msg.push_str("\n  ");
        msg.push_str(&p);
    }
    Err(fail(
        Code::NotFound,
        "not-found",
        msg,
        Some(format!("pandora search {name}")),
    ))
}

fn reply(
    m: &Manifest,
    size: u64,
    sha256: String,
    registry: String,
    in_store: bool,
    deprecated: bool,
) -> InfoReply {
    InfoReply {
        name: m.name.clone(),
        version: m.version.clone(),
        description: m.description.clone().unwrap_or_default(),
        license: m.license.clone(),
        authors: m.authors.clone(),
        arch: m.arch.clone(),
        dependencies: m.dependencies.iter().map(Pin::to_string).collect(),
        tags: m.tags.clone(),
        size,
        sha256,
        registry,
        in_store,
        deprecated,
        build_meta: m
            .build_meta
            .fields()
            .map(|f| match f.value.as_str() {
                Some(text) => format!("{} = {text}", f.name),
                None => format!(
                    "{} = {}",
                    f.name,
                    f.value.to_string().split_once(':').map_or("", |(_, v)| v)
                ),
            })
            .collect(),
    }
}

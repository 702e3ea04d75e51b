//! Reads that need the registries: search, list --remote and info. They run on a blocking
//! thread next to the mutation queue, never in it; what they cache is written atomically.

use pandora_common::files::{Manifest, PackageArg, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::{InfoReply, ListRemoteReply, RemoteEntry, SearchHit, SearchReply};

use crate::error::{Error, Result};
use crate::fetch::RegistryClient;
use crate::pkgfile;
use crate::registries::clients;
use crate::store::StoreView;

fn chain(e: &dyn std::error::Error) -> String {
    pandora_common::error_chain(e, ": ")
}

/// Every registry failed: the read has nothing to show.
fn all_failed(asked: Vec<String>, problems: Vec<String>, what: &str) -> Error {
    Error::Missing {
        what: what.to_string(),
        needed_by: Vec::new(),
        asked,
        problems,
        in_store: Vec::new(),
        close: Vec::new(),
        verb: "info",
    }
}

/// Names the registries offer close to `name` (best effort: a registry that fails adds none).
pub(crate) fn close_names<'c>(
    clients: impl IntoIterator<Item = &'c mut RegistryClient>,
    name: &str,
) -> Vec<String> {
    let mut names = Vec::new();
    for c in clients {
        if let Ok(index) = c.index() {
            names.extend(index.packages.into_iter().map(|p| p.name));
        }
    }
    crate::suggest::close_names(name, names.iter().map(String::as_str))
}

/// Ranked search across registries; a package offered by several keeps the highest-priority one.
pub(crate) fn search(layout: &Layout, query: &str, refresh: bool) -> Result<SearchReply> {
    let reply = search_once(layout, query, refresh)?;
    // Nothing matches in cached indices: the package may be newer than the cache, so the
    // registries are asked once more before the answer is "no match".
    if reply.hits.is_empty() && !refresh {
        return search_once(layout, query, true);
    }
    Ok(reply)
}

fn search_once(layout: &Layout, query: &str, refresh: bool) -> Result<SearchReply> {
    let mut hits: Vec<(pandora_common::files::SearchRank, SearchHit)> = Vec::new();
    let mut warnings = Vec::new();
    let mut names = Vec::new();
    let clients = clients(layout, refresh)?;
    let asked: Vec<String> = clients.iter().map(|c| c.config.name.clone()).collect();
    for mut c in clients {
        let index = match c.index() {
            Ok(i) => i,
            Err(e) => {
                warnings.push(chain(&e));
                continue;
            }
        };
        names.extend(index.packages.iter().map(|p| p.name.clone()));
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
    if hits.is_empty() && warnings.len() == asked.len() {
        return Err(all_failed(asked, warnings, query));
    }
    let suggestions = if hits.is_empty() {
        crate::suggest::close_names(query, names.iter().map(String::as_str))
    } else {
        Vec::new()
    };
    hits.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(SearchReply {
        hits: hits.into_iter().map(|(_, h)| h).collect(),
        warnings,
        suggestions,
    })
}

/// Every package every registry offers.
pub(crate) fn list_remote(layout: &Layout) -> Result<ListRemoteReply> {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let clients = clients(layout, false)?;
    let asked: Vec<String> = clients.iter().map(|c| c.config.name.clone()).collect();
    for mut c in clients {
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
    if entries.is_empty() && warnings.len() == asked.len() {
        return Err(all_failed(asked, warnings, "the package list"));
    }
    Ok(ListRemoteReply { entries, warnings })
}

/// Everything about `NAME`, `NAME@VERSION`: from the store's manifest when installed, else
/// from the registries, fetching the blob into the cache to read its manifest. A bare name
/// means the registry's newest version; when no registry has it, the newest in the store.
pub(crate) fn info(
    layout: &Layout,
    store: &StoreView,
    package: &str,
    refresh: bool,
) -> Result<InfoReply> {
    let arg = PackageArg::parse(package).map_err(|source| Error::BadPackage {
        arg: package.to_string(),
        source,
    })?;
    let (name, version) = match arg {
        PackageArg::Pin(p) => (p.name, Some(p.version)),
        PackageArg::Name(n) => (n, None),
        PackageArg::File(path) => {
            let found = pkgfile::inspect_file(&path)?;
            let size = found.entries.iter().map(|e| e.size).sum();
            let pin = found.manifest.pin();
            let in_store = store.get(&pin.name, &pin.version).is_some();
            let mut r = reply(
                &found.manifest,
                size,
                found.sha256.clone(),
                String::new(),
                in_store,
                found.manifest.deprecated,
            );
            r.registry = path.display().to_string();
            add_build_record(&mut r, |name| pkgfile::member_text(&path, name));
            return Ok(r);
        }
    };
    if let Some(v) = &version
        && let Some(installed) = store.get(&name, v)
    {
        return Ok(stored(layout, installed, refresh));
    }
    let in_store: Vec<&crate::store::Installed> = store.versions(&name);
    let mut problems = Vec::new();
    let mut asked = Vec::new();
    let registries = match clients(layout, refresh) {
        Ok(c) => c,
        Err(Error::NoRegistries) if !in_store.is_empty() => Vec::new(),
        Err(e) => return Err(e),
    };
    for mut c in registries {
        asked.push(c.config.name.clone());
        let entry = match c.package(&name) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            // A registry caught lying is reported, not skipped for the next one.
            Err(e) if e.is_untrusted() => return Err(e.into()),
            Err(e) => {
                problems.push(chain(&e));
                continue;
            }
        };
        let v = match &version {
            Some(v) => entry.version(v).cloned(),
            None => entry.newest().cloned(),
        };
        let Some(v) = v else { continue };
        let pin = Pin {
            name: name.clone(),
            version: v.version.clone(),
        };
        let events = crate::engine::Events::detached();
        let fetched = c.blob(layout, &pin, &v, &events)?;
        let found = pkgfile::inspect_blob(&fetched.path, &pin, &c.config.name)?;
        if found.sha256 != v.sha256 {
            return Err(Error::Mismatch {
                pin,
                origin: c.config.name.clone(),
                what: "the archive does not match the index".into(),
            });
        }
        let size = found
            .entries
            .iter()
            .filter(|e| e.path != "manifest.acl")
            .map(|e| e.size)
            .sum();
        let in_store = store.get(&pin.name, &pin.version).is_some();
        let mut r = reply(
            &found.manifest,
            size,
            v.sha256.clone(),
            c.config.name.clone(),
            in_store,
            v.deprecated || found.manifest.deprecated,
        );
        add_build_record(&mut r, |name| pkgfile::member_text(&fetched.path, name));
        r.trust = trust_lines(&fetched.trust, &c.config.name, "checked now");
        if in_store {
            r.active_in = active_in(layout, &pin);
        }
        return Ok(r);
    }
    // No registry has it (or none answered): a bare name still shows the store's newest.
    if version.is_none()
        && let Some(newest) = in_store.last()
    {
        let mut r = stored(layout, newest, false);
        for p in problems {
            r.notes.push(p);
        }
        if r.notes.is_empty() && !asked.is_empty() {
            r.notes.push(format!(
                "no registry offers {name} now; showing the store's newest version"
            ));
        }
        return Ok(r);
    }
    let close = if problems.is_empty() && version.is_none() {
        match clients(layout, false) {
            Ok(mut cs) => close_names(&mut cs, &name),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let what = version.map_or(name.clone(), |v| format!("{name}@{v}"));
    Err(Error::Missing {
        what,
        needed_by: Vec::new(),
        asked,
        problems,
        close,
        verb: "info",
        in_store: in_store
            .iter()
            .map(|i| i.manifest.version.clone())
            .collect(),
    })
}

/// `info` of a store entry; the registries may add deprecation (optional here).
fn stored(layout: &Layout, installed: &crate::store::Installed, refresh: bool) -> InfoReply {
    let m = &installed.manifest;
    let pin = m.pin();
    let remote = clients(layout, refresh).ok().and_then(|cs| {
        cs.into_iter().find_map(|mut c| {
            let entry = c.package(&pin.name).ok()??.version(&pin.version)?.clone();
            Some(entry)
        })
    });
    let deprecated = remote.is_some_and(|e| e.deprecated) || m.deprecated;
    let mut r = reply(
        m,
        installed.size,
        m.archive_sha256.clone().unwrap_or_default(),
        installed.origin.clone().unwrap_or_default(),
        true,
        deprecated,
    );
    let entry = layout.store_entry(&pin.name, &pin.version);
    add_build_record(&mut r, |name| fs_err::read_to_string(entry.join(name)).ok());
    r.active_in = active_in(layout, &pin);
    r.trust = trust_lines(
        &crate::store::entry::trust(m),
        installed.origin.as_deref().unwrap_or("local"),
        "verified at install",
    );
    r
}

/// The profiles whose current generation holds exactly `pin`.
fn active_in(layout: &Layout, pin: &Pin) -> Vec<String> {
    crate::activate::profile::names(layout)
        .into_iter()
        .filter(|name| {
            crate::activate::profile::state(layout, name)
                .is_ok_and(|s| s.lock.packages.iter().any(|l| l.pin == *pin))
        })
        .collect()
}

/// What `info` says about the signatures behind a package.
fn trust_lines(trust: &crate::fetch::Trust, origin: &str, when: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(k) = &trust.snapshot_key {
        lines.push(format!(
            "index: registry `{origin}`'s snapshot signed by key {k} ({when})"
        ));
    }
    if let Some(k) = &trust.package_key {
        lines.push(format!("package: signed by key {k} ({when})"));
    }
    if lines.is_empty() {
        lines.push(if origin == "local" {
            "no signature: installed from a local file".to_string()
        } else {
            format!(
                "no signature was verified: registry `{origin}` has no pinned key, or served no signature"
            )
        });
    }
    lines
}

/// The provenance and SBOM summary of a package, from `read(file name)`.
fn add_build_record(r: &mut InfoReply, read: impl Fn(&str) -> Option<String>) {
    if let Some(text) = read("provenance.acl") {
        r.provenance = pkgfile::provenance_lines(&text);
    }
    if let Some(text) = read("sbom.spdx.json") {
        r.sbom = pkgfile::sbom_summary(&text);
    }
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
        notes: Vec::new(),
        provenance: Vec::new(),
        sbom: String::new(),
        trust: Vec::new(),
        active_in: Vec::new(),
    }
}

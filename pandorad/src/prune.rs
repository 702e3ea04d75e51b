//! `prune --cache`: remove cached blobs that no configured registry lists any more (all of
//! them when no registry is configured), that are older than the cache TTL of every registry
//! that lists them, or whose version is not in the store (never installed, or removed since).

use std::collections::HashMap;
use std::time::Duration;

use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::Error;
use crate::registries::clients;

pub(crate) fn prune_cache(
    layout: &Layout,
    store: &crate::store::StoreView,
    dry_run: bool,
    events: &Events,
) -> Outcome {
    // The archives of what the store holds.
    let stored: std::collections::HashSet<String> = store
        .entries
        .iter()
        .filter_map(|i| i.manifest.archive_sha256.clone())
        .collect();
    // sha256 -> the longest TTL among registries that list it.
    let mut listed: HashMap<String, Duration> = HashMap::new();
    let mut complete = true;
    let registries = match clients(layout, false) {
        Ok(c) => c,
        Err(Error::NoRegistries) => Vec::new(),
        Err(e) => return Err(e),
    };
    for mut c in registries {
        c.stop_with(Some(events.stopper()));
        match c.index() {
            Ok(index) => {
                for p in &index.packages {
                    for v in &p.versions {
                        let ttl = listed.entry(v.sha256.clone()).or_default();
                        *ttl = (*ttl).max(c.config.cache_ttl);
                    }
                }
            }
            Err(e) => {
                // Stopped: nothing is deleted on what the registries could not say.
                events.check()?;
                complete = false;
                let name = c.config.name.clone();
                events.warn(
                    "registry-unavailable",
                    "",
                    format!(
                        "{}; its blobs are kept",
                        pandora_common::error_chain(&e, ": ")
                    ),
                    &[("registry", &name)],
                );
            }
        }
    }
    let dir = layout.blob_cache();
    let mut lines = Vec::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    for entry in fs_err::read_dir(&dir).map_err(Error::io("read", &dir))? {
        let Ok(entry) = entry else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        // A blob's signature goes with its blob.
        if let Some(blob) = name.strip_suffix(".minisig") {
            if !dry_run && !dir.join(blob).exists() {
                let _ = fs_err::remove_file(entry.path());
            }
            continue;
        }
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        let reason = match listed.get(&name) {
            None if complete => "no registry lists it".to_string(),
            Some(ttl) if age > *ttl => format!("older than its cache TTL ({}s)", ttl.as_secs()),
            _ if !stored.contains(&name) => "its version is not in the store".to_string(),
            _ => continue,
        };
        count += 1;
        bytes += meta.len();
        let verb = if dry_run { "would remove" } else { "removed" };
        lines.push(format!("{verb} {name} ({} bytes): {reason}", meta.len()));
        if !dry_run {
            let _ = fs_err::remove_file(dir.join(format!("{name}.minisig")));
        }
        if !dry_run && let Err(e) = fs_err::remove_file(entry.path()) {
            let path = entry.path().display().to_string();
            events.warn(
                "io",
                "",
                format!("cannot remove {path}: {}", crate::error::os_error(e)),
                &[("path", &path)],
            );
        }
    }
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    lines.push(match (count, dry_run) {
        (0, _) => "nothing to prune in the blob cache".to_string(),
        (n, true) => format!("would free {bytes} bytes in {n} blob{}", plural(n)),
        (n, false) => format!("freed {bytes} bytes in {n} blob{}", plural(n)),
    });
    Ok(Summary {
        lines,
        counts: [("blobs".to_string(), count), ("bytes".to_string(), bytes)]
            .into_iter()
            .collect(),
        ..Default::default()
    })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn without_registries_every_cached_blob_is_unreferenced() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        std::fs::create_dir_all(layout.blob_cache()).unwrap();
        std::fs::write(layout.blob_cache().join("ab".repeat(32)), b"blob").unwrap();
        let events = Events::detached();
        let store = crate::store::StoreView::default();
        let dry = prune_cache(&layout, &store, true, &events).unwrap();
        assert_eq!(dry.counts["blobs"], 1);
        assert!(dry.lines[0].starts_with("would remove"), "{:?}", dry.lines);
        assert_eq!(std::fs::read_dir(layout.blob_cache()).unwrap().count(), 1);
        let done = prune_cache(&layout, &store, false, &events).unwrap();
        assert_eq!((done.counts["blobs"], done.counts["bytes"]), (1, 4));
        assert_eq!(std::fs::read_dir(layout.blob_cache()).unwrap().count(), 0);
    }
}

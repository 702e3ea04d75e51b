//! `prune --cache`: remove cached blobs that no configured registry lists any more, or that
//! are older than the cache TTL of every registry that lists them.

use std::collections::HashMap;
use std::time::Duration;

use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::reads::{chain, clients};

pub(crate) fn prune_cache(layout: &Layout, dry_run: bool, events: &Events) -> Outcome {
    // sha256 -> the longest TTL among registries that list it.
    let mut listed: HashMap<String, Duration> = HashMap::new();
    let mut complete = true;
    for mut c in clients(layout)? {
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
                complete = false;
                events.warn("", format!("{}; its blobs are kept", chain(&e)));
            }
        }
    }
    let dir = layout.blob_cache();
    let mut lines = Vec::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    for entry in std::fs::read_dir(&dir).map_err(|e| {
        crate::daemon::fail(
            tonic::Code::Internal,
            "io",
            format!("cannot read {}: {e}", dir.display()),
            None,
        )
    })? {
        let Ok(entry) = entry else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        let reason = match listed.get(&name) {
            None if complete => "no registry lists it".to_string(),
            None => continue,
            Some(ttl) if age > *ttl => format!("older than its cache TTL ({}s)", ttl.as_secs()),
            Some(_) => continue,
        };
        count += 1;
        bytes += meta.len();
        let verb = if dry_run { "would remove" } else { "removed" };
        lines.push(format!("{verb} {name} ({} bytes): {reason}", meta.len()));
        if !dry_run && let Err(e) = std::fs::remove_file(entry.path()) {
            events.warn("", format!("cannot remove {}: {e}", entry.path().display()));
        }
    }
    lines.push(match (count, dry_run) {
        (0, _) => "nothing to prune in the blob cache".to_string(),
        (n, true) => format!(
            "would free {bytes} bytes in {n} blob{}",
            if n == 1 { "" } else { "s" }
        ),
        (n, false) => format!(
            "freed {bytes} bytes in {n} blob{}",
            if n == 1 { "" } else { "s" }
        ),
    });
    Ok(Summary {
        lines,
        counts: [("blobs".to_string(), count), ("bytes".to_string(), bytes)]
            .into_iter()
            .collect(),
        ..Default::default()
    })
}

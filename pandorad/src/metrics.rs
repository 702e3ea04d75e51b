//! `metrics`: what this machine did, from `log/events.log` (installs, activations, removals
//! and publishes per package and month) and the store (its size, and what each month added
//! that is still there), beside each registry's public counts (`/metrics.acl`: downloads,
//! installs reported by clients that opted in, publishes per version).

use std::collections::BTreeMap;

use pandora_common::acl;
use pandora_common::files::Pin;
use pandora_common::layout::Layout;
use pandora_proto::v1::{LocalCount, MetricsReply, RegistryCount, StoreMonth};

use crate::build::sbom::timestamp;
use crate::error::{Error, Result};
use crate::store::StoreView;

/// `YYYY-MM` of `epoch` seconds, UTC.
fn month(epoch: u64) -> String {
    timestamp(epoch)[..7].to_string()
}

pub(crate) fn metrics(
    layout: &Layout,
    store: &StoreView,
    name: &str,
    refresh: bool,
) -> Result<MetricsReply> {
    let wanted = |package: &str| name.is_empty() || package == name;
    let mut reply = MetricsReply::default();

    // The events log: `<seconds> <verb> <name@version> ...`.
    let mut local: BTreeMap<(String, String), LocalCount> = BTreeMap::new();
    let log = layout.events_log();
    // Line by line: the log grows for good, and a torn line must not spoil the rest.
    let file = match fs_err::File::open(&log) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read", &log)(e)),
    };
    let lines = file.into_iter().flat_map(|f| {
        use std::io::BufRead;
        std::io::BufReader::new(f)
            .split(b'\n')
            .map_while(std::result::Result::ok)
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    });
    for line in lines {
        let mut words = line.split_whitespace();
        let (Some(when), Some(verb), Some(what)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Ok(when), Ok(pin)) = (when.parse::<u64>(), Pin::parse(what)) else {
            continue;
        };
        if !wanted(&pin.name) {
            continue;
        }
        let entry = local
            .entry((month(when), pin.name.clone()))
            .or_insert_with(|| LocalCount {
                month: month(when),
                package: pin.name.clone(),
                ..Default::default()
            });
        match verb {
            "install" => entry.installs += 1,
            "activate" => entry.activations += 1,
            "remove" | "prune" => entry.removals += 1,
            "publish" => entry.publishes += 1,
            _ => {}
        }
    }
    reply.local = local
        .into_values()
        .filter(|c| c.installs + c.activations + c.removals + c.publishes > 0)
        .collect();

    // The store now, and the month each entry came in.
    let mut growth: BTreeMap<String, StoreMonth> = BTreeMap::new();
    for installed in store.entries.iter().filter(|i| wanted(&i.manifest.name)) {
        reply.store_entries += 1;
        reply.store_bytes += installed.size;
        let pin = installed.manifest.pin();
        let at = fs_err::metadata(crate::store::entry::manifest_path(
            &layout.store_entry(&pin.name, &pin.version),
        ))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
        let m = growth.entry(month(at)).or_insert_with(|| StoreMonth {
            month: month(at),
            ..Default::default()
        });
        m.entries += 1;
        m.bytes += installed.size;
    }
    reply.growth = growth.into_values().collect();

    // The registries' public counts.
    let clients = match crate::registries::clients(layout, refresh) {
        Ok(c) => c,
        Err(Error::NoRegistries) => Vec::new(),
        Err(e) => return Err(e),
    };
    for c in clients {
        let registry = c.config.name.clone();
        match c.public_metrics(refresh) {
            Ok(Some(text)) => match counts(&text, &registry) {
                Ok(rows) => reply
                    .registries
                    .extend(rows.into_iter().filter(|r| wanted(&r.package))),
                Err(e) => reply.notes.push(e),
            },
            Ok(None) => reply.notes.push(format!(
                "registry `{registry}` serves no counts (a file:// registry or a static web server)"
            )),
            Err(e) => reply.notes.push(pandora_common::error_chain(&e, ": ")),
        }
    }
    Ok(reply)
}

/// The rows of a registry's `/metrics.acl`.
fn counts(text: &str, registry: &str) -> std::result::Result<Vec<RegistryCount>, String> {
    let origin = format!("{registry}/metrics.acl");
    let doc = acl::parse_data(text, &origin).map_err(|e| e.to_string())?;
    let top = doc
        .block("Metrics")
        .ok_or_else(|| format!("{origin}: no `Metrics` block"))?;
    let mut rows = Vec::new();
    for p in top.children("Package") {
        let Some(package) = &p.label else { continue };
        for v in p.children("Version") {
            let Some(version) = &v.label else { continue };
            let n = |field: &str| {
                v.field(field)
                    .and_then(|f| f.value.as_int())
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0))
            };
            rows.push(RegistryCount {
                registry: registry.to_string(),
                package: package.as_str().to_string(),
                version: version.as_str().to_string(),
                downloads: n("downloads"),
                installs: n("installs"),
                publishes: n("publishes"),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc() {
        assert_eq!(month(0), "1970-01");
        assert_eq!(month(1_764_547_200), "2025-12");
    }

    #[test]
    fn registry_counts_are_read_per_version() {
        let rows = counts(
            "Metrics { Package \"a\" { Version \"1\" { int downloads = 3; int installs = 1; int publishes = 1; } } }",
            "main",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].downloads, rows[0].installs, rows[0].publishes),
            (3, 1, 1)
        );
        assert!(counts("Nope {}", "main").is_err());
    }
}

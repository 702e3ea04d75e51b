//! `pandora metrics [NAME]`: this machine's statistics beside the registries' public counts.

use std::process::ExitCode;

use pandora_proto::v1::MetricsRequest;

use crate::client::{self, status_failure};
use crate::daemon_cmd::table;
use crate::output::{Printer, human_size, quote};
use crate::{Outcome, print_out};

pub(crate) async fn metrics(
    p: &Printer,
    c: &mut client::Client,
    name: String,
    refresh: bool,
) -> Outcome {
    let m = c
        .metrics(MetricsRequest { name, refresh })
        .await
        .map_err(status_failure)?
        .into_inner();
    let mut out = String::new();
    if p.plain {
        for l in &m.local {
            out.push_str(&format!(
                "local month={} package={} installs={} activations={} removals={} publishes={}\n",
                l.month,
                quote(&l.package),
                l.installs,
                l.activations,
                l.removals,
                l.publishes
            ));
        }
        out.push_str(&format!(
            "store entries={} bytes={}\n",
            m.store_entries, m.store_bytes
        ));
        for g in &m.growth {
            out.push_str(&format!(
                "growth month={} entries={} bytes={}\n",
                g.month, g.entries, g.bytes
            ));
        }
        for r in &m.registries {
            out.push_str(&format!(
                "registry registry={} package={} version={} downloads={} installs={} publishes={}\n",
                quote(&r.registry),
                quote(&r.package),
                quote(&r.version),
                r.downloads,
                r.installs,
                r.publishes
            ));
        }
    } else {
        out.push_str(&p.bold("This machine (log/events.log)"));
        out.push('\n');
        if m.local.is_empty() {
            out.push_str("nothing recorded yet\n");
        } else {
            let rows: Vec<Vec<String>> = m
                .local
                .iter()
                .map(|l| {
                    vec![
                        l.month.clone(),
                        l.package.clone(),
                        l.installs.to_string(),
                        l.activations.to_string(),
                        l.removals.to_string(),
                        l.publishes.to_string(),
                    ]
                })
                .collect();
            out.push_str(&table(
                p,
                &[
                    "MONTH",
                    "PACKAGE",
                    "INSTALLS",
                    "ACTIVATIONS",
                    "REMOVALS",
                    "PUBLISHES",
                ],
                &rows,
            ));
        }
        out.push_str(&format!(
            "\n{}: {} entr{}, {}\n",
            p.bold("The store"),
            m.store_entries,
            if m.store_entries == 1 { "y" } else { "ies" },
            human_size(m.store_bytes)
        ));
        if !m.growth.is_empty() {
            let rows: Vec<Vec<String>> = m
                .growth
                .iter()
                .map(|g| vec![g.month.clone(), g.entries.to_string(), human_size(g.bytes)])
                .collect();
            out.push_str(&table(p, &["INSTALLED IN", "ENTRIES", "SIZE"], &rows));
        }
        out.push_str(&format!(
            "\n{}\n",
            p.bold("The registries (downloads; installs reported by clients that opted in)")
        ));
        if m.registries.is_empty() {
            out.push_str("no counts\n");
        } else {
            let rows: Vec<Vec<String>> = m
                .registries
                .iter()
                .map(|r| {
                    vec![
                        r.registry.clone(),
                        format!("{}@{}", r.package, r.version),
                        r.downloads.to_string(),
                        r.installs.to_string(),
                        r.publishes.to_string(),
                    ]
                })
                .collect();
            out.push_str(&table(
                p,
                &["REGISTRY", "PACKAGE", "DOWNLOADS", "INSTALLS", "PUBLISHES"],
                &rows,
            ));
        }
    }
    print_out(&out);
    for n in &m.notes {
        p.note(n);
    }
    Ok(ExitCode::SUCCESS)
}

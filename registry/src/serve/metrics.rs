//! Download, install and publish counts per `name@version`, kept in memory and persisted to
//! `.pandora-registry/metrics.acl` (temp file, fsync, rename) when they changed, so they
//! survive restarts, and served as `/metrics.acl`. Installs are what clients that opted in
//! (`report_installs`) reported. Also the server's own counters for Prometheus, `/metrics`
//! ([`Telemetry`]): requests by status, bytes, publishes, downloads, reported installs and a
//! latency histogram.
//!
//! ```text
//! Metrics { Package "name" { Version "1.0.0" { int downloads = 3; int installs = 1; int publishes = 1; } } }
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pandora_common::acl::{self, Block, Document, Value};
use pandora_common::files::Pin;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    downloads: u64,
    installs: u64,
    publishes: u64,
}

#[derive(Default)]
struct Inner {
    packages: BTreeMap<String, BTreeMap<String, Counts>>,
    dirty: bool,
}

/// The server's counters and where they are persisted.
pub(crate) struct Metrics {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// Serializes writers so an older text never replaces a newer one.
    writing: Mutex<()>,
}

impl Metrics {
    /// Loads `dir/metrics.acl`, or starts from zero when there is none. A damaged file is
    /// moved aside to `metrics.acl.damaged` rather than overwritten.
    pub(crate) fn load(dir: &Path) -> Metrics {
        let path = dir.join("metrics.acl");
        let mut inner = Inner::default();
        match fs_err::read_to_string(&path) {
            Ok(text) => match parse(&text, &path) {
                Ok(packages) => inner.packages = packages,
                Err(e) => {
                    tracing::warn!("{e}; starting the counts from zero");
                    let aside = dir.join("metrics.acl.damaged");
                    if let Err(e) = fs_err::rename(&path, &aside) {
                        tracing::warn!("{e}");
                    }
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("{e}; starting the counts from zero"),
        }
        Metrics {
            path,
            inner: Mutex::new(inner),
            writing: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self, pin: &Pin, f: impl FnOnce(&mut Counts)) {
        let mut inner = self.lock();
        let counts = inner
            .packages
            .entry(pin.name.clone())
            .or_default()
            .entry(pin.version.clone())
            .or_default();
        f(counts);
        inner.dirty = true;
    }

    /// Counts one download of `pin`.
    pub(crate) fn download(&self, pin: &Pin) {
        self.bump(pin, |c| c.downloads += 1);
    }

    /// Counts one publish of `pin`.
    pub(crate) fn publish(&self, pin: &Pin) {
        self.bump(pin, |c| c.publishes += 1);
    }

    /// Counts one install of `pin` that a client reported.
    pub(crate) fn install(&self, pin: &Pin) {
        self.bump(pin, |c| c.installs += 1);
    }

    /// The totals over every version: downloads, installs, publishes.
    pub(crate) fn totals(&self) -> (u64, u64, u64) {
        self.lock()
            .packages
            .values()
            .flat_map(|v| v.values())
            .fold((0, 0, 0), |(d, i, p), c| {
                (d + c.downloads, i + c.installs, p + c.publishes)
            })
    }

    /// The counts as ACL.
    pub(crate) fn to_source(&self) -> String {
        render(&self.lock().packages)
    }

    /// Writes the counts if they changed since the last write.
    pub(crate) fn persist(&self) -> io::Result<()> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let text = {
            let mut inner = self.lock();
            if !inner.dirty {
                return Ok(());
            }
            inner.dirty = false;
            render(&inner.packages)
        };
        let result = pandora_common::write_atomic(&self.path, text.as_bytes());
        if result.is_err() {
            self.lock().dirty = true;
        }
        result
    }
}

fn render(packages: &BTreeMap<String, BTreeMap<String, Counts>>) -> String {
    let mut top = Block::new("Metrics", None);
    for (name, versions) in packages {
        let mut package = Block::new("Package", Some(name.clone()));
        for (version, c) in versions {
            package.push_block(
                Block::new("Version", Some(version.clone()))
                    .with("downloads", Value::Int(saturating_i64(c.downloads)))
                    .with("installs", Value::Int(saturating_i64(c.installs)))
                    .with("publishes", Value::Int(saturating_i64(c.publishes))),
            );
        }
        top.push_block(package);
    }
    Document::new(vec![top]).to_source()
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn parse(text: &str, path: &Path) -> Result<BTreeMap<String, BTreeMap<String, Counts>>, String> {
    let origin = path.display().to_string();
    let doc = acl::parse(text, &origin).map_err(|e| e.to_string())?;
    let top = doc
        .block("Metrics")
        .ok_or_else(|| format!("{origin}: no `Metrics` block"))?;
    let mut packages = BTreeMap::new();
    for p in top.children("Package") {
        let Some(name) = &p.label else {
            return Err(format!("{origin}: a `Package` block has no name"));
        };
        let versions: &mut BTreeMap<String, Counts> =
            packages.entry(name.as_str().to_string()).or_default();
        for v in p.children("Version") {
            let Some(version) = &v.label else {
                return Err(format!(
                    "{origin}: a `Version` block of `{}` has no name",
                    name.as_str()
                ));
            };
            let count = |field: &str| {
                v.field(field)
                    .and_then(|f| f.value.as_int())
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0))
            };
            versions.insert(
                version.as_str().to_string(),
                Counts {
                    downloads: count("downloads"),
                    installs: count("installs"),
                    publishes: count("publishes"),
                },
            );
        }
    }
    Ok(packages)
}

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The server's own counters since it started, for Prometheus.
#[derive(Default)]
pub(crate) struct Telemetry {
    inner: Mutex<TelemetryInner>,
    /// Body bytes sent with `sendfile`, from the page cache to the socket.
    sendfile_bytes: AtomicU64,
    /// Connections handed to hyper, at a request the direct path does not answer.
    handed_over: AtomicU64,
}

#[derive(Default)]
struct TelemetryInner {
    by_status: BTreeMap<u16, u64>,
    bytes: u64,
    buckets: [u64; BUCKETS.len()],
    seconds: f64,
    count: u64,
}

impl Telemetry {
    /// Counts one answered request.
    pub(crate) fn request(&self, status: u16, bytes: u64, seconds: f64) {
        let mut t = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *t.by_status.entry(status).or_default() += 1;
        t.bytes += bytes;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                t.buckets[i] += 1;
            }
        }
        t.seconds += seconds;
        t.count += 1;
    }

    /// Counts `n` body bytes sent with `sendfile`.
    pub(crate) fn sent_from_file(&self, n: u64) {
        self.sendfile_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a connection handed to hyper.
    pub(crate) fn handed_over(&self) {
        self.handed_over.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4), with `metrics`' totals.
    pub(crate) fn render(&self, metrics: &Metrics) -> String {
        use std::fmt::Write as _;
        let t = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (downloads, installs, publishes) = metrics.totals();
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "pandora_registry_response_bytes_total",
            "Bytes of response bodies sent.",
            t.bytes,
        );
        counter(
            "pandora_registry_sendfile_bytes_total",
            "Bytes of file bodies sent with sendfile(2), without a copy through the server.",
            self.sendfile_bytes.load(Ordering::Relaxed),
        );
        counter(
            "pandora_registry_connections_handed_over_total",
            "Connections handed to the general HTTP/1 server at a request with a body, HTTP/1.0 or an upgrade.",
            self.handed_over.load(Ordering::Relaxed),
        );
        counter(
            "pandora_registry_downloads_total",
            "Package downloads, all versions, since the counts began.",
            downloads,
        );
        counter(
            "pandora_registry_installs_reported_total",
            "Installs reported by clients that opted in, since the counts began.",
            installs,
        );
        counter(
            "pandora_registry_publishes_total",
            "Packages published, since the counts began.",
            publishes,
        );
        let name = "pandora_registry_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP requests answered, by status code.\n# TYPE {name} counter"
        );
        for (status, n) in &t.by_status {
            let _ = writeln!(out, "{name}{{code=\"{status}\"}} {n}");
        }
        let name = "pandora_registry_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer a request, until its body starts.\n# TYPE {name} histogram"
        );
        for (le, n) in BUCKETS.iter().zip(t.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", t.count);
        let _ = writeln!(out, "{name}_sum {}", t.seconds);
        let _ = writeln!(out, "{name}_count {}", t.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::load(dir.path());
        let pin = Pin::parse("hello@1.0.0").unwrap();
        m.download(&pin);
        m.download(&pin);
        m.publish(&pin);
        m.persist().unwrap();
        let text = fs_err::read_to_string(dir.path().join("metrics.acl")).unwrap();
        assert_eq!(
            text,
            "Metrics {\n    Package \"hello\" {\n        Version \"1.0.0\" {\n            int downloads = 2;\n            int installs = 0;\n            int publishes = 1;\n        }\n    }\n}\n"
        );
        let again = Metrics::load(dir.path());
        assert_eq!(again.to_source(), text);
    }

    #[test]
    fn a_damaged_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("metrics.acl"), "Metrics {").unwrap();
        let m = Metrics::load(dir.path());
        assert_eq!(m.to_source(), "Metrics {}\n");
        assert!(dir.path().join("metrics.acl.damaged").exists());
    }
}

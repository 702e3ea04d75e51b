//! `registries.acl`: the user's registries and the trust settings only this file may set,
//! and the clients that read those registries.

use std::time::Duration;

use pandora_common::files::{RegistryConfig, RegistryList, validate_name};
use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::fetch::{RegistryClient, Stop};

/// The configured registries (none when the file does not exist yet).
pub(crate) fn load(layout: &Layout) -> Result<RegistryList> {
    let path = layout.registries();
    match fs_err::read_to_string(&path) {
        Ok(text) => RegistryList::parse(&text, &path.display().to_string()).map_err(|source| {
            Error::BadConfig {
                path,
                source: Box::new(source),
            }
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegistryList::default()),
        Err(e) => Err(Error::io("read", &path)(e)),
    }
}

/// Every configured registry's client, highest priority first; an error when there are
/// none. `refresh` revalidates each snapshot before its first use.
pub(crate) fn clients(layout: &Layout, refresh: bool) -> Result<Vec<RegistryClient>> {
    let list = load(layout)?;
    if list.registries.is_empty() {
        return Err(Error::NoRegistries);
    }
    Ok(list
        .by_priority()
        .into_iter()
        .map(|c| RegistryClient::new(layout, c.clone(), refresh))
        .collect())
}

/// Registry clients made on first use, so a request that needs no registry (everything in
/// the store, or a local file) works with none configured.
pub(crate) struct Lazy<'a> {
    layout: &'a Layout,
    refresh: bool,
    /// Given to each client ([`RegistryClient::stop_with`]).
    stop: Stop,
    clients: Option<Vec<RegistryClient>>,
}

impl<'a> Lazy<'a> {
    /// `stop`, a mutation's, ends the clients' waits for their registries.
    pub(crate) fn new(layout: &'a Layout, refresh: bool, stop: Stop) -> Lazy<'a> {
        Lazy {
            layout,
            refresh,
            stop,
            clients: None,
        }
    }

    /// The clients, made now if needed.
    pub(crate) fn get(&mut self) -> Result<&mut Vec<RegistryClient>> {
        if self.clients.is_none() {
            let mut made = clients(self.layout, self.refresh)?;
            for c in &mut made {
                c.stop_with(self.stop.clone());
            }
            self.clients = Some(made);
        }
        Ok(self.clients.as_mut().expect("set above"))
    }

    /// The clients made so far (none if no request needed them).
    pub(crate) fn made(&self) -> &[RegistryClient] {
        self.clients.as_deref().unwrap_or(&[])
    }
}

/// Keys to pin for a registry, and whether its signatures become required.
pub(crate) struct Pinned {
    pub(crate) keys: Vec<String>,
    pub(crate) required: bool,
}

/// Refuses a key that is not a minisign public key before the mutation is queued; returns
/// the keys as `RW…` lines (a whole `minisign.pub` file is accepted too).
pub(crate) fn check_keys(keys: &[String]) -> Result<Vec<String>> {
    keys.iter()
        .map(|k| {
            pandora_common::sign::TrustedKey::parse(k)
                .map(|k| k.text)
                .map_err(Error::BadKey)
        })
        .collect()
}

/// Refuses a name or URL before the mutation is queued.
pub(crate) fn check_new(name: &str, url: &str) -> Result<()> {
    if validate_name(name).is_err() {
        return Err(Error::BadRegistryName(name.to_string()));
    }
    check_url(url)
}

/// A registry URL: `https://HOST[:PORT]/…`, `http://HOST[:PORT]/…` or `file:///absolute/path`.
pub(crate) fn check_url(url: &str) -> Result<()> {
    let bad = |reason: &str| Error::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let usage = "use https://HOST/…, http://HOST/… or file:///path";
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(bad(
                "a file:// URL needs an absolute path, as in file:///srv/registry",
            ));
        }
        return Ok(());
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(bad(usage));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("{e}; {usage}")))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad(&format!("it names no host; {usage}")));
    }
    Ok(())
}

fn save(layout: &Layout, list: &RegistryList) -> Result<()> {
    let path = layout.registries();
    pandora_common::write_atomic(&path, list.to_source().as_bytes())
        .map_err(Error::io("write", &path))
}

fn summary(line: String) -> Summary {
    Summary {
        lines: vec![line],
        ..Default::default()
    }
}

/// Adds `name`, or replaces its URL and priority (keeping its trust settings unless keys
/// are pinned now: they replace the trusted keys, and set `require_signatures`).
pub(crate) fn add(
    layout: &Layout,
    name: &str,
    url: &str,
    priority: i64,
    pinned: Option<Pinned>,
    events: &Events,
) -> Outcome {
    let mut list = load(layout)?;
    let mut line = match list.registries.iter_mut().find(|r| r.name == name) {
        Some(r) => {
            r.url = url.to_string();
            r.priority = priority;
            events.info(format!(
                "registry `{name}` already existed; its URL and priority were replaced"
            ));
            format!("updated registry {name} {url} (priority {priority})")
        }
        None => {
            list.registries.push(RegistryConfig {
                name: name.to_string(),
                url: url.to_string(),
                priority,
                require_signatures: false,
                allow_publish: false,
                cache_ttl: Duration::from_secs(3600),
                trusted_keys: Vec::new(),
                report_installs: false,
                token_file: None,
                extra: Vec::new(),
            });
            format!("added registry {name} {url} (priority {priority})")
        }
    };
    if let Some(pinned) = pinned
        && let Some(r) = list.registries.iter_mut().find(|r| r.name == name)
    {
        let ids: Vec<String> = pinned
            .keys
            .iter()
            .filter_map(|k| pandora_common::sign::TrustedKey::parse(k).ok())
            .map(|k| k.id.to_string())
            .collect();
        r.trusted_keys = pinned.keys;
        r.require_signatures = pinned.required;
        line.push_str(&format!(
            "; pinned key{} {}; signatures {}",
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", "),
            if pinned.required {
                "required"
            } else {
                "checked when present"
            }
        ));
    }
    save(layout, &list)?;
    // A cache left by a registry of the same name (or the old URL) is not this registry's.
    remove_cache(layout, name)?;
    Ok(summary(line))
}

/// Removes `name` and its cached index.
pub(crate) fn remove(layout: &Layout, name: &str) -> Outcome {
    let mut list = load(layout)?;
    let before = list.registries.len();
    list.registries.retain(|r| r.name != name);
    if list.registries.len() == before {
        return Err(Error::NoSuchRegistry(name.to_string()));
    }
    save(layout, &list)?;
    remove_cache(layout, name)?;
    Ok(summary(format!("removed registry {name}")))
}

fn remove_cache(layout: &Layout, name: &str) -> Result<()> {
    let cache = layout.index_cache(name);
    match fs_err::remove_dir_all(&cache) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("remove the cache", &cache)(e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_when_added() {
        for ok in [
            "https://example.org/registry",
            "http://127.0.0.1:8080",
            "http://[::1]:8080/",
            "file:///srv/registry",
        ] {
            check_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "ftp://x",
            "http://",
            "http://[::1",
            "http://[::1]:99999",
            "file://relative",
            "example.org",
        ] {
            let e = check_url(bad).unwrap_err();
            assert_eq!(e.code(), crate::error::code::BAD_URL, "{bad}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert_eq!(
            check_new("Bad Name", "http://x").unwrap_err().code(),
            crate::error::code::BAD_NAME
        );
    }

    #[test]
    fn add_replace_and_remove_keep_one_entry_and_drop_the_cache() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        let events = Events::detached();
        add(&layout, "main", "http://127.0.0.1:1", 0, None, &events).unwrap();
        let cache = layout.index_cache("main");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("snapshot.acl"), "old").unwrap();
        let s = add(&layout, "main", "http://127.0.0.1:2", 5, None, &events).unwrap();
        assert_eq!(
            s.lines,
            ["updated registry main http://127.0.0.1:2 (priority 5)"]
        );
        assert!(!cache.exists(), "the old URL's cache is gone");
        let list = load(&layout).unwrap();
        assert_eq!(list.registries.len(), 1);
        assert_eq!(list.registries[0].priority, 5);
        std::fs::create_dir_all(&cache).unwrap();
        remove(&layout, "main").unwrap();
        assert!(!cache.exists());
        assert!(load(&layout).unwrap().registries.is_empty());
        assert_eq!(
            remove(&layout, "main").unwrap_err().code(),
            crate::error::code::NOT_FOUND
        );
    }

    #[test]
    fn a_damaged_registries_file_is_named_with_a_hint() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        std::fs::write(layout.registries(), "Registry \"x\" { string url = ; }").unwrap();
        let e = load(&layout).unwrap_err();
        assert_eq!(e.code(), crate::error::code::BAD_CONFIG);
        assert!(e.hint().unwrap().contains("registries.acl"));
    }
}

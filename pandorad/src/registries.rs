//! `registries.acl`: the user's registries and the trust settings only this file may set.

use std::time::Duration;

use pandora_common::files::{RegistryConfig, RegistryList, validate_name};
use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;
use tonic::{Code, Status};

use crate::daemon::fail;
use crate::engine::{Events, Outcome};
use pandora_common::write_atomic;

/// The configured registries (none when the file does not exist yet).
pub(crate) fn load(layout: &Layout) -> Result<RegistryList, Status> {
    let path = layout.registries();
    match std::fs::read_to_string(&path) {
        Ok(text) => RegistryList::parse(&text, &path.display().to_string()).map_err(|e| {
            fail(
                Code::FailedPrecondition,
                "bad-config",
                e.to_string(),
                Some(format!("fix {} by hand", path.display())),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegistryList::default()),
        Err(e) => Err(fail(
            Code::Internal,
            "io",
            format!("cannot read {}: {e}", path.display()),
            None,
        )),
    }
}

/// Refuses a name or URL before the mutation is queued.
pub(crate) fn check_new(name: &str, url: &str) -> Result<(), Status> {
    if validate_name(name).is_err() {
        return Err(fail(
            Code::InvalidArgument,
            "bad-name",
            format!(
                "`{name}` is not a valid registry name: use lowercase letters, digits and `._+-`"
            ),
            None,
        ));
    }
    if !["https://", "http://", "file://"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        return Err(fail(
            Code::InvalidArgument,
            "bad-url",
            format!("`{url}` is not a registry URL: use https://, http:// or file:///path"),
            None,
        ));
    }
    Ok(())
}

fn save(layout: &Layout, list: &RegistryList) -> Result<(), Status> {
    write_atomic(&layout.registries(), list.to_source().as_bytes())
        .map_err(|e| fail(Code::Internal, "io", e.to_string(), None))
}

/// Adds `name`, or replaces its URL and priority (keeping its trust settings).
pub(crate) fn add(
    layout: &Layout,
    name: &str,
    url: &str,
    priority: i64,
    events: &Events,
) -> Outcome {
    let mut list = load(layout)?;
    let line = match list.registries.iter_mut().find(|r| r.name == name) {
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
                token_file: None,
                extra: Vec::new(),
            });
            format!("added registry {name} {url} (priority {priority})")
        }
    };
    save(layout, &list)?;
    Ok(Summary {
        lines: vec![line],
        counts: Default::default(),
        ..Default::default()
    })
}

/// Removes `name`.
pub(crate) fn remove(layout: &Layout, name: &str) -> Outcome {
    let mut list = load(layout)?;
    let before = list.registries.len();
    list.registries.retain(|r| r.name != name);
    if list.registries.len() == before {
        return Err(fail(
            Code::NotFound,
            "not-found",
            format!("no registry is called `{name}`"),
            Some("pandora registry list".into()),
        ));
    }
    save(layout, &list)?;
    Ok(Summary {
        lines: vec![format!("removed registry {name}")],
        counts: Default::default(),
        ..Default::default()
    })
}

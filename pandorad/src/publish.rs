//! `publish`: upload a package to a registry whose entry in `registries.acl` allows it and
//! names a token file. The registry's answers become plain messages; a publish makes the
//! registry's cached snapshot stale, so the new version is visible at once.

use std::path::{Path, PathBuf};

use pandora_common::acl;
use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::Error;
use crate::{journal, pkgfile, registries};

/// Longest wait for the registry's answer, the upload included.
const PUBLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where `token_file` is: `~/…` under the user's home, a relative path under
/// `$PANDORA_HOME` (beside `registries.acl`, which names it), never the daemon's working
/// directory.
fn token_path(layout: &Layout, token_file: &str) -> PathBuf {
    if let Some(rest) = token_file.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
    {
        return PathBuf::from(home).join(rest);
    }
    let path = PathBuf::from(token_file);
    if path.is_absolute() {
        path
    } else {
        layout.home().join(path)
    }
}

pub(crate) fn publish(
    layout: &Layout,
    file: &Path,
    signature: Option<&Path>,
    registry: &str,
    events: &Events,
) -> Outcome {
    let list = registries::load(layout)?;
    let Some(reg) = list.registries.iter().find(|r| r.name == registry) else {
        return Err(Error::NoSuchRegistry(registry.to_string()));
    };
    let config = layout.registries();
    if !reg.allow_publish {
        return Err(Error::PublishDisabled {
            registry: registry.to_string(),
            config,
        });
    }
    let Some(token_file) = &reg.token_file else {
        return Err(Error::NoToken {
            registry: registry.to_string(),
            config,
        });
    };
    let token_file = token_path(layout, token_file);
    let token = fs_err::read_to_string(&token_file).map_err(|e| Error::TokenUnreadable {
        path: token_file.clone(),
        config: config.clone(),
        source: crate::error::os_error(e),
    })?;
    let token = token.lines().next().unwrap_or("").trim().to_string();
    if !(reg.url.starts_with("http://") || reg.url.starts_with("https://")) {
        return Err(Error::PublishNeedsServer {
            registry: registry.to_string(),
            url: reg.url.clone(),
        });
    }
    // Check the package here first: a bad one fails fast, with the same words as install.
    let found = pkgfile::inspect_file(file)?;
    let pin = found.manifest.pin();
    // The signature travels in a header: the .minisig text, base64.
    let signature = match signature {
        Some(path) => {
            let text = fs_err::read_to_string(path).map_err(Error::io("read", path))?;
            pandora_common::sign::Detached::parse(&text)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
            Some(pandora_common::sign::base64_encode(text.as_bytes()))
        }
        None => None,
    };
    // Streamed from the file: a package may be as large as the registry allows.
    let upload = fs_err::File::open(file).map_err(Error::io("read", file))?;
    let url = format!("{}/api/v1/publish", reg.url.trim_end_matches('/'));
    let task = events.task("upload", &pin.to_string(), found.compressed_size);
    let client = crate::fetch::http_client().map_err(Error::Internal)?;
    let mut post = client.post(&url);
    if let Some(sig) = &signature {
        post = post.header("x-pandora-signature", sig);
    }
    let resp = post
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        // The upload and the registry's checks may take a while; a stall still ends.
        .timeout(PUBLISH_TIMEOUT)
        .body(reqwest::blocking::Body::sized(
            upload.into_parts().0,
            found.compressed_size,
        ))
        .send()
        .map_err(|source| Error::Unreachable {
            registry: registry.to_string(),
            url: url.clone(),
            source,
        })?;
    drop(task);
    let status = resp.status().as_u16();
    let body = resp.text().unwrap_or_default();
    let field = |block: &str, name: &str| -> Option<String> {
        let doc = acl::parse(&body, "reply").ok()?;
        doc.block(block)?
            .field(name)?
            .value
            .as_str()
            .map(str::to_string)
    };
    if status != 200 {
        return Err(Error::PublishRefused {
            registry: registry.to_string(),
            pin,
            status,
            message: field("Error", "message").unwrap_or_else(|| body.trim().to_string()),
            token_file,
            config,
        });
    }
    crate::fetch::invalidate(layout, registry);
    let outcome = field("Published", "status").unwrap_or_else(|| "added".into());
    journal::record(
        layout,
        &format!(
            "publish {pin} sha256={} registry={registry} status={outcome}",
            found.sha256
        ),
    );
    let line = if outcome == "unchanged" {
        format!(
            "{pin} was already published to `{registry}` with these exact bytes; nothing changed"
        )
    } else if signature.is_some() {
        format!(
            "published {pin} to `{registry}` with its signature (sha256 {})",
            found.sha256
        )
    } else {
        format!("published {pin} to `{registry}` (sha256 {})", found.sha256)
    };
    Ok(Summary {
        lines: vec![line],
        ..Default::default()
    })
}

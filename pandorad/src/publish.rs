//! `publish`: upload a package to a registry whose entry in `registries.acl` allows it and
//! names a token file. The registry's answers become plain messages.

use std::path::Path;

use pandora_common::acl;
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, Limits};
use pandora_proto::v1::Summary;
use tonic::Code;

use crate::daemon::fail;
use crate::engine::{Events, Outcome};
use crate::reads::chain;
use crate::registries;

/// Longest wait for the registry's answer, the upload included.
const PUBLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

pub(crate) fn publish(layout: &Layout, file: &Path, registry: &str, events: &Events) -> Outcome {
    let list = registries::load(layout)?;
    let Some(reg) = list.registries.iter().find(|r| r.name == registry) else {
        return Err(fail(
            Code::NotFound,
            "not-found",
            format!("no registry is called `{registry}`"),
            Some("pandora registry list".into()),
        ));
    };
    let config_hint = Some(format!(
        "in {}, give Registry \"{registry}\" `bool allow_publish = true;` and `string token_file = \"/path/to/token\";`",
        layout.registries().display()
    ));
    if !reg.allow_publish {
        return Err(fail(
            Code::FailedPrecondition,
            "publish-disabled",
            format!("registry `{registry}` does not allow publishing"),
            config_hint,
        ));
    }
    let Some(token_file) = &reg.token_file else {
        return Err(fail(
            Code::FailedPrecondition,
            "no-token",
            format!("registry `{registry}` has no token_file"),
            config_hint,
        ));
    };
    let token = std::fs::read_to_string(token_file).map_err(|e| {
        fail(
            Code::FailedPrecondition,
            "no-token",
            format!("cannot read token file {token_file}: {e}"),
            config_hint.clone(),
        )
    })?;
    let token = token.lines().next().unwrap_or("").trim().to_string();
    if !(reg.url.starts_with("http://") || reg.url.starts_with("https://")) {
        return Err(fail(
            Code::FailedPrecondition,
            "bad-url",
            format!(
                "registry `{registry}` is {}; publishing needs an http(s) registry server",
                reg.url
            ),
            Some("on a registry directory, use: pandora-registry add DIR FILE.pkg".into()),
        ));
    }
    // Check the package here first: a bad one fails fast, with the same words as install.
    let f = std::fs::File::open(file).map_err(|e| {
        fail(
            Code::NotFound,
            "not-found",
            format!("cannot open {}: {e}", file.display()),
            None,
        )
    })?;
    let found = pkg::inspect(std::io::BufReader::new(f), &Limits::default()).map_err(|e| {
        fail(
            Code::InvalidArgument,
            "invalid-package",
            format!("{} is not a valid package: {}", file.display(), chain(&e)),
            None,
        )
    })?;
    let pin = found.manifest.pin();
    // Streamed from the file: a package may be as large as the registry allows.
    let upload = std::fs::File::open(file).map_err(|e| {
        fail(
            Code::Internal,
            "io",
            format!("cannot read {}: {e}", file.display()),
            None,
        )
    })?;
    let url = format!("{}/api/v1/publish", reg.url.trim_end_matches('/'));
    let task = events.task("upload", &pin.to_string(), found.compressed_size);
    let client = crate::fetch::http_client().map_err(|e| fail(Code::Internal, "tls", e, None))?;
    let resp = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        // The upload and the registry's checks may take a while; a stall still ends.
        .timeout(PUBLISH_TIMEOUT)
        .body(reqwest::blocking::Body::sized(
            upload,
            found.compressed_size,
        ))
        .send()
        .map_err(|e| {
            fail(
                Code::Unavailable,
                "fetch",
                format!("cannot reach registry `{registry}` at {url}: {e}"),
                None,
            )
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
    let message = field("Error", "message").unwrap_or_else(|| body.trim().to_string());
    match status {
        200 => {
            let outcome = field("Published", "status").unwrap_or_else(|| "added".into());
            crate::install::log_event(
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
            } else {
                format!("published {pin} to `{registry}` (sha256 {})", found.sha256)
            };
            Ok(Summary {
                lines: vec![line],
                counts: Default::default(),
                ..Default::default()
            })
        }
        401 => Err(fail(
            Code::Unauthenticated,
            "unauthenticated",
            format!("registry `{registry}` wants a token to publish {pin}: {message}"),
            config_hint,
        )),
        403 => Err(fail(
            Code::PermissionDenied,
            "forbidden",
            format!(
                "registry `{registry}` refused to publish {pin} with the token from {token_file}: {message}"
            ),
            Some("check the token with the registry's operator".into()),
        )),
        409 => Err(fail(
            Code::AlreadyExists,
            "conflict",
            format!("{pin} is already published to `{registry}` with other content: {message}"),
            Some(format!("publish a new version of {}", pin.name)),
        )),
        413 => Err(fail(
            Code::ResourceExhausted,
            "too-large",
            format!("registry `{registry}` refused {pin} as too large: {message}"),
            None,
        )),
        422 => Err(fail(
            Code::InvalidArgument,
            "invalid-package",
            format!("registry `{registry}` refused {pin}: {message}"),
            None,
        )),
        s => Err(fail(
            Code::Unavailable,
            "registry-error",
            format!("registry `{registry}` answered HTTP {s} to the publish of {pin}: {message}"),
            None,
        )),
    }
}

//! Request paths: decoded once, checked, and matched against the short list of things the
//! server answers. Anything outside that list is a 404; anything that tries to escape the
//! directory (dot segments, encoded separators, backslashes, NUL, empty segments) is a 400
//! before any file is looked at.

use pandora_common::files::validate_name;

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A static registry file.
    Static(StaticFile),
    /// `POST /api/v1/publish`.
    Publish,
    /// `GET /api/v1/search?q=`.
    Search,
    /// `GET /metrics.acl`.
    Metrics,
    /// `GET /metrics`: the server's counters for Prometheus.
    Prometheus,
    /// `POST /api/v1/installed`: an anonymous install report.
    Installed,
    /// Nothing the server serves.
    NotFound,
}

/// A static file of the registry layout, relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticFile {
    /// The path below the registry directory, `/`-separated.
    pub(crate) rel: String,
    /// What kind of file it is, which decides the headers.
    pub(crate) kind: Kind,
}

/// The kinds of static files, each with its own caching rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `config.acl`.
    Config,
    /// `snapshot.acl`.
    Snapshot,
    /// `snapshot.acl.minisig`, `keys/<n>.acl.minisig`.
    Signature,
    /// `keys/<n>.acl`, the key list after the n-th key rotation (never changes).
    Rotation,
    /// `blobs/sha256/<hex>.minisig`, a package's detached signature (never changes).
    BlobSignature,
    /// `index.acl` and `index/<name>.acl`.
    Index,
    /// `blobs/sha256/<hex>`, named by its content.
    Blob {
        /// Lowercase hex sha256, the file's name.
        sha256: String,
    },
}

impl Kind {
    /// The `Cache-Control` value.
    pub(crate) fn cache_control(&self) -> &'static str {
        match self {
            Kind::Config | Kind::Snapshot | Kind::Signature => "no-cache",
            Kind::Index => "max-age=60",
            Kind::Rotation => "public, max-age=31536000, immutable",
            // Signed again when the registry rotates its key.
            Kind::BlobSignature => "no-cache",
            Kind::Blob { .. } => "public, max-age=31536000, immutable",
        }
    }

    /// The `Content-Type` value.
    pub(crate) fn content_type(&self) -> &'static str {
        match self {
            Kind::Config | Kind::Snapshot | Kind::Index | Kind::Rotation => {
                "text/plain; charset=utf-8"
            }
            Kind::Signature | Kind::BlobSignature | Kind::Blob { .. } => "application/octet-stream",
        }
    }
}

/// Why a path is refused outright.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadPath(pub(crate) &'static str);

/// Decodes `raw` (the request target's path, without the query) once and says what it names.
pub(crate) fn route(raw: &str) -> Result<Route, BadPath> {
    let decoded = decode_path(raw)?;
    let segments: Vec<&str> = decoded[1..].split('/').collect();
    Ok(match segments.as_slice() {
        ["config.acl"] => static_file(&decoded, Kind::Config),
        ["snapshot.acl"] => static_file(&decoded, Kind::Snapshot),
        ["snapshot.acl.minisig"] => static_file(&decoded, Kind::Signature),
        ["index.acl"] => static_file(&decoded, Kind::Index),
        ["index", file] => match file.strip_suffix(".acl") {
            Some(name) if validate_name(name).is_ok() => static_file(&decoded, Kind::Index),
            _ => Route::NotFound,
        },
        ["keys", file] => match file.strip_suffix(".acl.minisig") {
            Some(n) if is_serial(n) => static_file(&decoded, Kind::Signature),
            _ => match file.strip_suffix(".acl") {
                Some(n) if is_serial(n) => static_file(&decoded, Kind::Rotation),
                _ => Route::NotFound,
            },
        },
        ["blobs", "sha256", file] if file.strip_suffix(".minisig").is_some_and(is_sha256_hex) => {
            static_file(&decoded, Kind::BlobSignature)
        }
        ["blobs", "sha256", hex] if is_sha256_hex(hex) => static_file(
            &decoded,
            Kind::Blob {
                sha256: (*hex).to_string(),
            },
        ),
        ["api", "v1", "publish"] => Route::Publish,
        ["api", "v1", "search"] => Route::Search,
        ["metrics.acl"] => Route::Metrics,
        ["metrics"] => Route::Prometheus,
        ["api", "v1", "installed"] => Route::Installed,
        _ => Route::NotFound,
    })
}

fn static_file(decoded: &str, kind: Kind) -> Route {
    Route::Static(StaticFile {
        rel: decoded[1..].to_string(),
        kind,
    })
}

/// A rotation number as the registry writes it: decimal, no leading zero.
fn is_serial(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Percent-decodes `raw` exactly once and refuses every shape that could name something
/// outside the directory, or name one file in two ways.
fn decode_path(raw: &str) -> Result<String, BadPath> {
    if !raw.starts_with('/') {
        return Err(BadPath("the path must start with `/`"));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(BadPath("a `%` escape is malformed"));
                };
                match hi << 4 | lo {
                    b'/' | b'\\' => return Err(BadPath("the path holds an encoded separator")),
                    b'%' => return Err(BadPath("the path is encoded twice")),
                    b => out.push(b),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| BadPath("the path is not UTF-8"))?;
    if decoded.contains('\\') {
        return Err(BadPath("the path holds a backslash"));
    }
    if decoded.chars().any(char::is_control) {
        return Err(BadPath("the path holds a control character"));
    }
    if decoded.contains("//") {
        return Err(BadPath("the path holds an empty segment"));
    }
    if decoded[1..].split('/').any(|s| s == "." || s == "..") {
        return Err(BadPath("the path holds a `.` or `..` segment"));
    }
    Ok(decoded)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The value of `key` in a query string, `+` read as a space and percent-decoded; `None` when
/// absent or not decodable.
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_form(k)? == key).then(|| decode_form(v)).flatten()
    })
}

fn decode_form(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelisted_paths_route_to_their_kind() {
        let hex = "ab".repeat(32);
        let cases = [
            ("/config.acl", Some(Kind::Config)),
            ("/snapshot.acl", Some(Kind::Snapshot)),
            ("/snapshot.acl.minisig", Some(Kind::Signature)),
            ("/keys/1.acl", Some(Kind::Rotation)),
            ("/keys/12.acl.minisig", Some(Kind::Signature)),
            (
                &format!("/blobs/sha256/{hex}.minisig"),
                Some(Kind::BlobSignature),
            ),
            ("/index.acl", Some(Kind::Index)),
            ("/index/hello.acl", Some(Kind::Index)),
            ("/index/lib%2b%2b.acl", Some(Kind::Index)),
            (
                &format!("/blobs/sha256/{hex}"),
                Some(Kind::Blob {
                    sha256: hex.clone(),
                }),
            ),
        ];
        for (raw, kind) in cases {
            match route(raw) {
                Ok(Route::Static(f)) => assert_eq!(Some(f.kind), kind, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
        for raw in [
            "/keys/01.acl",
            "/keys/x.acl",
            "/keys/1.minisig",
            "/blobs/sha256/ab.minisig",
        ] {
            assert_eq!(route(raw), Ok(Route::NotFound), "{raw}");
        }
        assert_eq!(
            route("/index/lib%2b%2b.acl"),
            Ok(Route::Static(StaticFile {
                rel: "index/lib++.acl".into(),
                kind: Kind::Index
            }))
        );
    }

    #[test]
    fn other_paths_are_not_found() {
        for raw in [
            "/",
            "/index/",
            "/index/Hello.acl",
            "/index/x.txt",
            "/index/.hidden.acl",
            "/blobs/sha256/ABAB",
            "/blobs/sha256/xyz",
            "/.pandora-registry/lock",
            "/.pandora-registry/metrics.acl",
            "/config.acl/",
            "/index/%252e%252e.acl",
        ] {
            assert!(
                matches!(route(raw), Ok(Route::NotFound) | Err(_)),
                "{raw}: {:?}",
                route(raw)
            );
        }
        assert_eq!(route("/index/a.acl.bak"), Ok(Route::NotFound));
    }

    #[test]
    fn escapes_are_refused() {
        for raw in [
            "/../secret",
            "/index/../config.acl",
            "/index/./a.acl",
            "/%2e%2e/secret",
            "/%2E%2E/secret",
            "/index%2fa.acl",
            "/index%2Fa.acl",
            "/index%5ca.acl",
            "/index\\a.acl",
            "/config.acl%00",
            "//etc/passwd",
            "/index//a.acl",
            "/%",
            "/%zz",
            "/%252e%252e/x",
            "/%ff",
            "relative",
        ] {
            assert!(route(raw).is_err(), "{raw}: {:?}", route(raw));
        }
    }

    #[test]
    fn query_params_decode_plus_and_escapes() {
        assert_eq!(
            query_param(Some("a=1&q=hello+w%C3%B6rld"), "q").as_deref(),
            Some("hello wörld")
        );
        assert_eq!(query_param(Some("q="), "q").as_deref(), Some(""));
        assert_eq!(query_param(Some("qq=1"), "q"), None);
        assert_eq!(query_param(None, "q"), None);
    }
}

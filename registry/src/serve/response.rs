//! Building responses: ACL bodies, ACL error documents and headers.

use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use pandora_common::acl::{Block, Document, Value};

use super::body::Body;

/// The `Content-Type` of every ACL document.
pub(crate) const ACL_TYPE: &str = "text/plain; charset=utf-8";

/// Sets `name: value` on `resp`; values the server builds are always valid header text.
pub(crate) fn set(resp: &mut Response<Body>, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            resp.headers_mut().insert(name, v);
        }
        Err(_) => debug_assert!(false, "invalid header value {value:?}"),
    }
}

/// A response with an ACL document as its body.
pub(crate) fn acl(status: StatusCode, text: String) -> Response<Body> {
    let mut resp = Response::new(Body::bytes(text));
    *resp.status_mut() = status;
    set(&mut resp, header::CONTENT_TYPE, ACL_TYPE);
    resp
}

/// An error response: `Error { string code; string message; }`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let doc = Document::new(vec![
        Block::new("Error", None)
            .with("code", Value::Str(code.to_string()))
            .with("message", Value::Str(message.to_string())),
    ]);
    let mut resp = acl(status, doc.to_source());
    set(&mut resp, header::CACHE_CONTROL, "no-store");
    resp
}

/// 405 with the methods the resource allows.
pub(crate) fn not_allowed(allow: &str) -> Response<Body> {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        &format!("this resource allows {allow}"),
    );
    set(&mut resp, header::ALLOW, allow);
    resp
}

/// 404.
pub(crate) fn not_found() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such file in this registry",
    )
}

/// 500, after logging `what`.
pub(crate) fn internal(what: &dyn std::fmt::Display) -> Response<Body> {
    tracing::error!("{what}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed; its log says why",
    )
}

/// An error and its causes, one sentence each, joined by `: `.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    pandora_common::error_chain(e, ": ")
}

//! `pandora-registry` end to end: the offline commands (`init`, `add`, `deprecate`, `check`)
//! in a temporary directory, and `serve` on 127.0.0.1:0 serving a registry made with them from
//! packages made with `pandora pack`, driven by a real HTTP client, raw HTTP/1.1 for what
//! clients would normalize, and nginx for comparison.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

mod connections;
mod metrics;
mod publish;
mod search;
mod static_files;
mod tools;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pandora_common::acl;
use pandora_common::files::Index;
use pandora_common::hash::sha256_hex;
use pandora_tests::http::{Nginx, RawResponse, Server, raw, raw_get};
use pandora_tests::{Context, ranged_package, registry_tool, repo_root};
use reqwest::StatusCode;
use reqwest::blocking::{Body, Client, Response};

const TOKEN: &str = "s3cret-token";

fn client() -> Client {
    // reqwest's TLS comes without a crypto provider in this workspace (pandorad installs
    // ring at start); plain HTTP still needs one installed to build a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A package tree with `payload` as its one file, packed to `ctx/pkgs/NAME-VERSION-TAG.pkg`.
struct Spec<'a> {
    name: &'a str,
    version: &'a str,
    description: Option<&'a str>,
    tags: &'a [&'a str],
    dependencies: &'a [&'a str],
    payload: &'a [u8],
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            name: "alpha",
            version: "1.0.0",
            description: None,
            tags: &[],
            dependencies: &[],
            payload: b"payload\n",
        }
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pack(ctx: &Context, spec: &Spec<'_>) -> PathBuf {
    let tag = &sha256_hex(spec.payload)[..8];
    let stem = format!("{}-{}-{tag}", spec.name, spec.version);
    let tree = ctx.path().join("trees").join(&stem);
    std::fs::create_dir_all(tree.join("files/share").join(spec.name)).unwrap();
    let description = spec
        .description
        .map(|d| format!("    string description = \"{d}\";\n"))
        .unwrap_or_default();
    let manifest = format!(
        "manifest {{\n    string name = \"{}\";\n    string version = \"{}\";\n    \
         string arch = \"x86_64\";\n    string[] authors = {{ \"Test <t@example.org>\" }};\n    \
         string license = \"MIT\";\n{description}    string[] tags = {{ {} }};\n    \
         string[] dependencies = {{ {} }};\n    string[] install_hooks = {{}};\n    \
         build_meta {{ builder = \"test\"; }}\n}}\n",
        spec.name,
        spec.version,
        quoted(spec.tags),
        quoted(spec.dependencies),
    );
    std::fs::write(tree.join("manifest.acl"), manifest).unwrap();
    std::fs::write(
        tree.join("files/share").join(spec.name).join("data"),
        spec.payload,
    )
    .unwrap();
    std::fs::create_dir_all(ctx.path().join("pkgs")).unwrap();
    let out = ctx.path().join("pkgs").join(format!("{stem}.pkg"));
    let r = ctx.run(&["pack", tree.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

fn pack_example(ctx: &Context, name: &str) -> PathBuf {
    let out = ctx.path().join(format!("{name}.pkg"));
    let r = ctx.run(&[
        "pack",
        repo_root().join("examples").join(name).to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

/// `pandora-registry init ctx/reg` and `add` of `pkgs`.
fn registry(ctx: &Context, pkgs: &[&Path]) -> PathBuf {
    let dir = ctx.path().join("reg");
    registry_tool(&[
        "init".as_ref(),
        dir.as_os_str(),
        "--name".as_ref(),
        "test".as_ref(),
    ]);
    if !pkgs.is_empty() {
        let mut args = vec!["add".as_ref(), dir.as_os_str()];
        args.extend(pkgs.iter().map(|p| p.as_os_str()));
        registry_tool(&args);
    }
    dir
}

fn serve(ctx: &Context, dir: &Path, extra: &[&str]) -> Server {
    ctx.serve_registry(dir, extra)
}

fn serve_with_token(ctx: &Context, dir: &Path, extra: &[&str]) -> Server {
    let token = ctx.write("token", &format!("{TOKEN}\nthe second line is ignored\n"));
    let mut args = vec!["--token-file", token.to_str().unwrap()];
    args.extend(extra);
    serve(ctx, dir, &args)
}

/// The text of `GET path` from `server`.
fn get_text(client: &Client, server: &Server, path: &str) -> String {
    client.get(server.url(path)).send().unwrap().text().unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {r:?}"))
        .to_str()
        .unwrap()
}

fn publish(client: &Client, server: &Server, token: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let r = client
        .post(server.url("/api/v1/publish"))
        .header("Authorization", format!("Bearer {token}"))
        .body(bytes)
        .send()
        .unwrap();
    let status = r.status();
    (status, r.text().unwrap())
}

/// The string field `field` of the first top-level block of an ACL response.
fn acl_field(text: &str, field: &str) -> String {
    let doc = acl::parse(text, "response").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let block = &doc.blocks()[0];
    block
        .field(field)
        .and_then(|f| f.value.as_str())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .to_string()
}

fn uploads_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join(".pandora-registry/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

//! Installing again, and from the caches, without the network.

use super::*;

#[test]
fn a_second_install_needs_no_network() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("libfoo", "1.0.0"),
            PkgSpec {
                deps: &["libfoo@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
            PkgSpec::new("tool", "1.0.0"),
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    assert_eq!(ctx.client(&["install", "app@1.0.0"]).code, 0);
    // `info` of a package not installed brings its blob into the cache.
    let r = ctx.plain(&["info", "tool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        ctx.cached_blobs()
            .contains(&indexed_sha(&reg, "tool", "1.0.0"))
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");

    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("already installed app@1.0.0"), "{r:?}");
    // A bare name resolves through the cached snapshot and index while their TTL lasts, and
    // the cached blob installs without the server.
    let r = ctx.plain(&["install", "tool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("tool is tool@1.0.0 (latest in registry `main`)"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("installed tool@1.0.0 (from main)"),
        "{r:?}"
    );
    let r = ctx.plain(&["install", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("already installed app@1.0.0"), "{r:?}");
    assert_eq!(
        ctx.store_entries(),
        ["app@1.0.0", "libfoo@1.0.0", "tool@1.0.0"]
    );
}

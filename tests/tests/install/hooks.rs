//! Install hooks.

use super::*;

#[test]
fn a_run_hook_is_refused_until_the_sandbox_exists() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            hook: Some("postinstall { action = \"run\"; command = {\"bin/hooked\"}; }"),
            ..PkgSpec::new("hooked", "1.0.0")
        }],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let r = ctx.client(&["install", "hooked@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("hooked@1.0.0 has a `run` hook"), "{r:?}");
    assert!(r.stderr.contains("not installed"), "{r:?}");
    assert!(ctx.store_entries().is_empty());
    assert!(ctx.tmp_entries().is_empty());
}

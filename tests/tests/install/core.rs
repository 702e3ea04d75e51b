//! The daemon's core (issue 7): stable error codes, typed plans and warnings, revalidation of
//! a cached snapshot before "not found", refused packages that keep their verified blob,
//! architecture checks, and `prune --cache` without registries.

use std::path::PathBuf;

use super::*;

/// Packs a package whose manifest and extra files are given, with `pandora pack`.
fn pack_custom(ctx: &Context, name: &str, arch: &str, hooks: &[(&str, &str)]) -> PathBuf {
    let src = ctx.path().join("custom-src").join(name);
    std::fs::create_dir_all(src.join("files/bin")).unwrap();
    std::fs::write(src.join("files/bin").join(name), "#!/bin/sh\necho hi\n").unwrap();
    let mut listed = Vec::new();
    for (rel, text) in hooks {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        listed.push(format!("\"{rel}\""));
    }
    std::fs::write(
        src.join("manifest.acl"),
        format!(
            "manifest {{\n    string name = \"{name}\";\n    string version = \"1.0.0\";\n    \
             string arch = \"{arch}\";\n    string[] authors = {{ \"T <t@example.org>\" }};\n    \
             string license = \"MIT\";\n    string[] dependencies = {{}};\n    \
             string[] install_hooks = {{ {} }};\n    build_meta {{ builder = \"test\"; }}\n}}\n",
            listed.join(", ")
        ),
    )
    .unwrap();
    let out = ctx.path().join(format!("{name}.pkg"));
    let r = ctx.run(&["pack", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

#[test]
fn issue7_a_version_published_after_the_snapshot_was_cached_is_found_at_once() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");

    // Published behind the daemon's back, inside the snapshot's one-hour TTL.
    let v2 = ctx.pack(&PkgSpec::new("app", "2.0.0"));
    let tool = ctx.pack(&PkgSpec::new("newtool", "1.0.0"));
    registry_tool(&[
        "add".as_ref(),
        reg.as_os_str(),
        v2.as_os_str(),
        tool.as_os_str(),
    ]);

    // A missing version or name revalidates the cached snapshot once before "not found".
    let r = ctx.plain(&["install", "app@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed app@2.0.0 (from main)"),
        "{r:?}"
    );
    let r = ctx.plain(&["info", "newtool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("package=newtool@1.0.0"), "{r:?}");

    // A name that is really missing is still reported as such, with its code.
    let r = ctx.plain(&["install", "ghost"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no registry has a package called `ghost` (asked `main`)"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: pandora search ghost"), "{r:?}");
    // A version that is missing: the registry's versions of the name are offered.
    let r = ctx.plain(&["install", "app@9.9.9"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("hint: did you mean `app@2.0.0` or `app@1.0.0`? pandora install app@2.0.0"),
        "{r:?}"
    );

    // --refresh revalidates before anything else: search sees the new version.
    let r = ctx.plain(&["search", "app"]);
    assert!(r.stdout.contains("version=2.0.0"), "{r:?}");
    let v3 = ctx.pack(&PkgSpec::new("app", "3.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), v3.as_os_str()]);
    let r = ctx.plain(&["search", "app"]);
    assert!(r.stdout.contains("version=2.0.0"), "cached: {r:?}");
    let r = ctx.plain(&["search", "app", "--refresh"]);
    assert!(r.stdout.contains("version=3.0.0"), "refreshed: {r:?}");
    // A search that matches nothing in the cached index asks the registry once more.
    let fresh = ctx.pack(&PkgSpec::new("brandnew", "1.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), fresh.as_os_str()]);
    let r = ctx.plain(&["search", "brandnew"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("name=brandnew version=1.0.0"), "{r:?}");
}

#[test]
fn issue7_publish_through_the_daemon_makes_the_new_version_visible() {
    let ctx = Context::new();
    let reg = ctx.registry_of("pub", &[PkgSpec::new("alpha", "1.0.0")]);
    let token = ctx.write("token", "s3cret\n");
    let server = ctx.serve_registry(&reg, &["--token-file", token.to_str().unwrap()]);
    ctx.write_registry("pub", &server.url(""), Some(&token));
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["search", "alpha"]);
    assert!(r.stdout.contains("version=1.0.0"), "{r:?}");
    let v2 = ctx.pack(&PkgSpec::new("alpha", "2.0.0"));
    let r = ctx.plain(&["publish", v2.to_str().unwrap(), "--registry", "pub"]);
    assert_eq!(r.code, 0, "{r:?}");
    // No --refresh: the publish itself made the cached snapshot stale.
    let r = ctx.plain(&["search", "alpha"]);
    assert!(r.stdout.contains("version=2.0.0"), "{r:?}");
}

#[test]
fn issue7_a_refused_package_keeps_its_verified_blob() {
    let ctx = Context::new();
    let pkg = pack_custom(
        &ctx,
        "hooked",
        "any",
        &[(
            "hooks/setup.acl",
            "preinstall { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"exit 3\" }; }\n",
        )],
    );
    let reg = ctx.path().join("main");
    registry_tool(&[
        "init".as_ref(),
        reg.as_os_str(),
        "--name".as_ref(),
        "main".as_ref(),
    ]);
    registry_tool(&["add".as_ref(), reg.as_os_str(), pkg.as_os_str()]);
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", "hooked@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[hook-failed]: hooked@1.0.0: its preinstall hook `/bin/sh -c 'exit 3'` exited with status 3; nothing was installed"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("damaged"), "the blob was fine: {r:?}");
    assert_eq!(
        ctx.cached_blobs().len(),
        1,
        "the verified blob stays cached"
    );
    assert!(ctx.store_entries().is_empty());
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
}

#[test]
fn issue7_a_package_for_another_architecture_is_refused() {
    let ctx = Context::new();
    let foreign = pack_custom(&ctx, "foreign", "sparc64", &[]);
    let anywhere = pack_custom(&ctx, "anywhere", "any", &[]);
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", foreign.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    let machine = std::env::consts::ARCH;
    assert!(
        r.stderr.contains(&format!(
            "error[wrong-arch]: foreign@1.0.0 is built for `sparc64`, and this machine is `{machine}`"
        )),
        "{r:?}"
    );
    assert!(ctx.store_entries().is_empty());
    let r = ctx.plain(&["install", anywhere.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.store_entries(), ["anywhere@1.0.0"]);
}

#[test]
fn issue7_plans_and_warnings_are_typed() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("lib", "1.0.0"),
            PkgSpec {
                deps: &["lib@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
        ],
    );
    registry_tool(&["deprecate".as_ref(), reg.as_os_str(), "lib@1.0.0".as_ref()]);
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    // Asked, and answered no: the plan is shown as key=value data and nothing is installed.
    let out = ctx.answering(&["--log", "plain", "install", "app"], "n\n");
    let stdout = &out.stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    // The activation that follows the install is part of the typed plan.
    assert_eq!(
        lines[2], "plan activate=app@1.0.0 profile=default replaces=\"\" generation=0",
        "{stdout}"
    );
    assert!(
        lines[0].starts_with("plan package=app@1.0.0 registry=main file=\"\" size="),
        "{stdout}"
    );
    assert!(
        lines[1].contains("needed_by=app@1.0.0 deprecated=true in_store=false"),
        "{stdout}"
    );
    assert!(ctx.store_entries().is_empty());

    let r = ctx.plain(&["install", "app", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("event=warning code=deprecated subject=lib@1.0.0 message="),
        "{r:?}"
    );
}

#[test]
fn issue7_prune_cache_without_registries_prunes_every_blob() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    assert_eq!(ctx.plain(&["install", "app@1.0.0"]).code, 0);
    assert_eq!(ctx.cached_blobs().len(), 1);
    let r = ctx.plain(&["registry", "remove", "main"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !ctx.pandora_home().join("cache/index/main").exists(),
        "the registry's cached index goes with it"
    );
    let r = ctx.plain(&["prune", "--cache"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("no registry lists it"), "{r:?}");
    assert!(ctx.cached_blobs().is_empty());
    assert_eq!(
        ctx.store_entries(),
        ["app@1.0.0"],
        "the store is not the cache"
    );
}

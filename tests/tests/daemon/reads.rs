//! Reads across registries: search, list --remote, info.

use super::*;

#[test]
fn search_list_and_info_across_registries() {
    let ctx = Context::new();
    let main = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                description: Some("the one"),
                ..PkgSpec::new("tool", "1.0.0")
            },
            PkgSpec {
                description: Some("the one"),
                ..PkgSpec::new("tool", "1.1.0")
            },
            PkgSpec {
                description: Some("a kit"),
                ..PkgSpec::new("toolkit", "1.0.0")
            },
            PkgSpec {
                description: Some("mine"),
                ..PkgSpec::new("mytool", "1.0.0")
            },
            PkgSpec {
                tags: &["tool"],
                description: Some("something else"),
                ..PkgSpec::new("other", "2.0.0")
            },
            PkgSpec::new("unrelated", "1.0.0"),
        ],
    );
    let extra = ctx.registry_of(
        "extra",
        &[
            PkgSpec::new("tool", "9.0.0"),
            PkgSpec {
                description: Some("a box of tools"),
                ..PkgSpec::new("toolbox", "0.1.0")
            },
            PkgSpec {
                description: Some("uses a tool"),
                ..PkgSpec::new("helper", "3.0.0")
            },
        ],
    );
    // Deprecating tool's newest version makes 1.0.0 its latest; mytool has only the one.
    for pin in ["tool@1.1.0", "mytool@1.0.0"] {
        registry_tool(&["deprecate".as_ref(), main.as_os_str(), pin.as_ref()]);
    }
    let (s1, s2) = (
        ctx.serve_registry(&main, &[]),
        ctx.serve_registry(&extra, &[]),
    );
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &s1.url(""), 10);
    ctx.add_registry("extra", &s2.url(""), 0);

    let r = ctx.plain(&["search", "tool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "name=tool version=1.0.0 rank=exact deprecated=false registry=main\n\
         name=toolbox version=0.1.0 rank=prefix deprecated=false registry=extra\n\
         name=toolkit version=1.0.0 rank=prefix deprecated=false registry=main\n\
         name=helper version=3.0.0 rank=substring deprecated=false registry=extra\n\
         name=mytool version=1.0.0 rank=substring deprecated=true registry=main\n\
         name=other version=2.0.0 rank=tag deprecated=false registry=main\n",
        "tool@9.0.0 of the lower-priority registry is hidden"
    );
    let r = ctx.client(&["--log", "human", "search", "tool"]);
    let mytool = r
        .stdout
        .lines()
        .find(|l| l.starts_with("mytool "))
        .unwrap_or("");
    assert!(mytool.ends_with("(deprecated) mine"), "{r:?}");
    assert!(
        r.stdout.lines().nth(1).unwrap_or("").starts_with("tool "),
        "{r:?}"
    );
    let r = ctx.client(&["--log", "human", "search", "nothing-like-it"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no package matches `nothing-like-it`"),
        "{r:?}"
    );

    let r = ctx.plain(&["list", "--remote"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "registry=main name=mytool latest=1.0.0 versions=1.0.0\n\
         registry=main name=other latest=2.0.0 versions=2.0.0\n\
         registry=main name=tool latest=1.0.0 versions=1.0.0,1.1.0\n\
         registry=main name=toolkit latest=1.0.0 versions=1.0.0\n\
         registry=main name=unrelated latest=1.0.0 versions=1.0.0\n\
         registry=extra name=helper latest=3.0.0 versions=3.0.0\n\
         registry=extra name=tool latest=9.0.0 versions=9.0.0\n\
         registry=extra name=toolbox latest=0.1.0 versions=0.1.0\n"
    );

    // info of a package not installed: read from its blob, which lands in the cache.
    let toolkit = indexed_sha(&main, "toolkit", "1.0.0");
    assert!(!ctx.cached_blobs().contains(&toolkit));
    let r = ctx.plain(&["info", "toolkit"]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "package=toolkit@1.0.0",
        "description=\"a kit\"",
        "license=MIT",
        "dependencies=none",
        &format!("sha256={toolkit}"),
        "registry=main",
        "in_store=no",
        "deprecated=no",
        "build=\"builder = test\"",
    ] {
        assert!(r.stdout.lines().any(|l| l == line), "{line}: {r:?}");
    }
    assert!(ctx.cached_blobs().contains(&toolkit));
    let r = ctx.plain(&["info", "tool@1.1.0"]);
    assert!(r.stdout.contains("deprecated=yes\n"), "{r:?}");
    let r = ctx.plain(&["info", "tool"]);
    assert!(
        r.stdout.contains("package=tool@1.0.0\n") && r.stdout.contains("deprecated=no\n"),
        "{r:?}"
    );
    // A deprecated version installs, with a warning.
    let r = ctx.plain(&["install", "tool@1.1.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("tool@1.1.0 is deprecated by its publisher; installing it anyway"),
        "{r:?}"
    );
    let r = ctx.plain(&["info", "helper"]);
    assert!(r.stdout.contains("registry=extra\n"), "{r:?}");

    // And once installed: from the store, the registry still named.
    let r = ctx.plain(&["install", "toolkit@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.plain(&["info", "toolkit@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("in_store=yes\n") && r.stdout.contains("registry=main\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains(&format!("sha256={toolkit}\n")), "{r:?}");
    let r = ctx.client(&["info", "ghost"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error[not-found]: no registry has a package called `ghost` (asked `main`, `extra`)"
        ),
        "{r:?}"
    );
}

//! `pandora graph` (issue 13): a tree with a shared subtree, a missing dependency (one a
//! registry offers, one none does) and a clash with what the profile holds, checked line by
//! line with the commands that fix them; Graphviz output that `dot` accepts; and a package
//! whose own dependencies need two versions of one name.

use super::*;

fn graph_registry(ctx: &Context) -> PathBuf {
    ctx.registry_of(
        "main",
        &[
            PkgSpec {
                deps: &["a@1.0.0", "b@1.0.0", "util@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
            PkgSpec {
                deps: &["base@1.0.0", "lib@2.0.0"],
                ..PkgSpec::new("a", "1.0.0")
            },
            PkgSpec {
                deps: &["base@1.0.0"],
                ..PkgSpec::new("b", "1.0.0")
            },
            PkgSpec {
                deps: &["core@1.0.0"],
                ..PkgSpec::new("base", "1.0.0")
            },
            PkgSpec::new("core", "1.0.0"),
            PkgSpec::new("lib", "1.0.0"),
            PkgSpec::new("lib", "2.0.0"),
            PkgSpec {
                deps: &["lib@1.0.0"],
                ..PkgSpec::new("other", "1.0.0")
            },
            // util needs a package no registry has.
            PkgSpec {
                deps: &["ghost@1.0.0"],
                ..PkgSpec::new("util", "1.0.0")
            },
            PkgSpec {
                deps: &["x@1.0.0", "y@1.0.0"],
                ..PkgSpec::new("torn", "1.0.0")
            },
            // An upgrade of what the profile holds: it replaces other@1.0.0's need of lib@1.
            PkgSpec {
                deps: &["lib@2.0.0"],
                ..PkgSpec::new("other", "2.0.0")
            },
            // A dependency both missing and clashing.
            PkgSpec {
                deps: &["lib@3.0.0"],
                ..PkgSpec::new("c", "1.0.0")
            },
            PkgSpec::new("lib", "3.0.0"),
            PkgSpec {
                deps: &["lib@1.0.0"],
                ..PkgSpec::new("second", "1.0.0")
            },
            PkgSpec {
                deps: &["lib@1.0.0"],
                ..PkgSpec::new("x", "1.0.0")
            },
            PkgSpec {
                deps: &["lib@2.0.0"],
                ..PkgSpec::new("y", "1.0.0")
            },
        ],
    )
}

#[test]
fn graph_shows_states_shared_subtrees_chains_and_fixes() {
    let ctx = Context::new();
    let reg = graph_registry(&ctx);
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    // The profile holds other@1.0.0 and, for it, lib@1.0.0; a and b are stored only.
    let r = ctx.client(&["install", "other@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.client(&["install", "a@1.0.0", "b@1.0.0", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");

    let r = ctx.client(&["--log", "human", "graph", "app@1.0.0"]);
    assert_eq!(r.code, 1, "problems make the exit code 1: {r:?}");
    let want = "\
app@1.0.0  [missing: registry `main` has it]
├── a@1.0.0  [in store]
│   ├── base@1.0.0  [in store]
│   │   └── core@1.0.0  [in store]
│   └── lib@2.0.0  [clashing: lib@1.0.0 is wanted too]
├── b@1.0.0  [in store]
│   └── base@1.0.0  [in store] (shown above)
└── util@1.0.0  [missing: registry `main` has it]
    └── ghost@1.0.0  [missing: no registry offers it]
(profile `default`)

problems:
  lib@2.0.0 ← a@1.0.0 ← app@1.0.0 would replace lib@1.0.0, active in profile `default` and needed there: lib@1.0.0 ← other@1.0.0
  ghost@1.0.0 ← util@1.0.0 ← app@1.0.0 is not in the store and no registry offers it
  not in the store: app@1.0.0; util@1.0.0 ← app@1.0.0

to fix:
  add a registry that has ghost@1.0.0: pandora registry add NAME URL
  pandora install app@1.0.0 util@1.0.0 --no-activate
  pandora deactivate other
  or keep them and use a profile of its own: pandora profile create app && pandora activate app@1.0.0 --profile app
  pandora activate app@1.0.0
";
    for (got, want) in r.stdout.lines().zip(want.lines()) {
        assert_eq!(got, want, "{}", r.stdout);
    }
    assert_eq!(
        r.stdout.lines().count(),
        want.lines().count(),
        "{}",
        r.stdout
    );

    // The solver's own errors explain themselves with the same chains and commands.
    let r = ctx.client(&["activate", "a@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error[version-clash]: lib@2.0.0 ← a@1.0.0 would replace lib@1.0.0 ← other@1.0.0: a profile holds one version per name; nothing was activated"
        ),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("hint: see the whole tree: pandora graph a@1.0.0; to keep both, give it a profile of its own: pandora profile create a && pandora activate a@1.0.0 --profile a"),
        "{r:?}"
    );
    let r = ctx.client(&["install", "app@1.0.0", "--no-activate"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("ghost@1.0.0, needed by util@1.0.0 ← app@1.0.0, is in no registry"),
        "{r:?}"
    );

    // info says where a version is active.
    let r = ctx.plain(&["info", "other@1.0.0"]);
    assert!(r.stdout.contains("\nactive_in=default\n"), "{r:?}");
    let r = ctx.plain(&["info", "a@1.0.0"]);
    assert!(r.stdout.contains("\nactive_in=\"\"\n"), "{r:?}");

    // Plain lines for scripts.
    let r = ctx.plain(&["graph", "b@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "profile=default\n\
         node=b@1.0.0 state=in-store detail=\"\" dependencies=base@1.0.0\n\
         node=base@1.0.0 state=in-store detail=\"\" dependencies=core@1.0.0\n\
         node=core@1.0.0 state=in-store detail=\"\" dependencies=\"\"\n\
         fix=\"pandora activate b@1.0.0\"\n"
    );
    // What is active has nothing to fix.
    let r = ctx.client(&["--log", "human", "graph", "other"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("other@1.0.0  [active]\n└── lib@1.0.0  [active]\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains("no problems"), "{r:?}");

    // A package whose dependencies need two versions of one name.
    let r = ctx.client(&["--log", "human", "graph", "torn@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains(
            "torn@1.0.0 needs two versions of `lib`: lib@1.0.0 ← x@1.0.0 ← torn@1.0.0 and lib@2.0.0 ← y@1.0.0 ← torn@1.0.0; a profile holds one version per name"
        ),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("ask the publisher of torn@1.0.0 for versions whose dependencies agree"),
        "{r:?}"
    );

    // An upgrade is no clash: other@2.0.0 replaces other@1.0.0, the only one needing lib@1.
    let r = ctx.plain(&["graph", "other@2.0.0"]);
    assert!(r.stdout.contains("node=lib@2.0.0 state=in-store"), "{r:?}");
    assert!(!r.stdout.contains("clashing"), "{r:?}");
    // Missing and clashing at once: still installed by the fix.
    let r = ctx.plain(&["graph", "c@1.0.0"]);
    assert!(r.stdout.contains("node=lib@3.0.0 state=clashing"), "{r:?}");
    assert!(
        r.stdout
            .contains("fix=\"pandora install c@1.0.0 lib@3.0.0 --no-activate\""),
        "{r:?}"
    );
    // Two packages in the way: one deactivate each.
    let r = ctx.client(&["install", "second@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.plain(&["graph", "a@1.0.0"]);
    assert!(
        r.stdout.contains("fix=\"pandora deactivate other\""),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("fix=\"pandora deactivate second\""),
        "{r:?}"
    );
    // A profile that does not exist is said so.
    let r = ctx.client(&["graph", "a@1.0.0", "--profile", "nope"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("nope"), "{r:?}");

    // A package nobody has is an error, not a tree.
    let r = ctx.client(&["graph", "nothere@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error[not-found]"), "{r:?}");

    // Graphviz that `dot` accepts, clash edge included.
    let r = ctx.client(&["graph", "app@1.0.0", "--dot"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.starts_with("digraph \"app@1.0.0\" {\n"), "{r:?}");
    assert!(
        r.stdout
            .contains("\"lib@2.0.0\" -> \"lib@1.0.0\" [style=dashed"),
        "{r:?}"
    );
    let svg = ctx.path().join("app.svg");
    // Graphviz's `dot` (Debian's `graphviz`; `.ci/run` installs it).
    let dot = pandora_tests::tool("dot", "graphviz");
    let out = pandora_tests::run_with_input(
        Command::new(&dot).args(["-Tsvg", "-o"]).arg(&svg),
        &r.stdout,
    );
    assert!(
        out.status.success(),
        "dot refused it: {out:?}\n{}",
        r.stdout
    );
    assert!(out.stderr.is_empty(), "dot warned: {out:?}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("<svg") && svg.contains("ghost@1.0.0"), "{svg}");
}

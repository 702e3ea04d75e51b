//! Activation on real packages in a temporary home, without a socket.

use super::*;
use crate::error::code;
use crate::testutil::{home, package};

fn install(layout: &Layout, pkgs: &[&std::path::Path]) {
    let packages: Vec<String> = pkgs.iter().map(|p| p.display().to_string()).collect();
    let request = crate::install::Request {
        packages: &packages,
        refresh: false,
        repair: false,
        mode: crate::install::Mode::Apply,
        activate: None,
    };
    crate::install::install(
        layout,
        &StoreView::load(layout),
        &request,
        &Events::detached(),
    )
    .unwrap();
}

fn activate_in(layout: &Layout, package: &str, strategy: &str) -> Outcome {
    let req = Request {
        package,
        profile: "",
        strategy,
    };
    activate(
        layout,
        &StoreView::load(layout),
        &req,
        None,
        &Events::detached(),
    )
}

#[test]
fn activate_switch_versions_and_deactivate() {
    let (t, layout) = home();
    let v1 = package(t.path(), "viewer", "1.0", "any", &["libv@1"], &[]);
    let v2 = package(t.path(), "viewer", "2.0", "any", &["libv@1"], &[]);
    let lib = package(
        t.path(),
        "libv",
        "1",
        "any",
        &[],
        &[("files/lib/libv.so", "so")],
    );
    install(&layout, &[&v1, &lib]);
    install(&layout, &[&v2]);
    // Its dependency is not in the store: nothing changes, and the command is named.
    let libdir = layout.store().join("libv");
    std::fs::rename(&libdir, t.path().join("aside")).unwrap();
    let e = activate_in(&layout, "viewer@1.0", "").unwrap_err();
    assert_eq!(e.code(), code::MISSING_DEPENDENCIES);
    assert_eq!(
        e.hint().as_deref(),
        Some("pandora install libv@1 --no-activate, then run the activation again")
    );
    assert!(profile::current(&layout, "default").is_none());
    std::fs::rename(t.path().join("aside"), &libdir).unwrap();

    activate_in(&layout, "viewer@1.0", "").unwrap();
    let bin = layout.vir().join("bin/viewer");
    assert_eq!(
        std::fs::read_to_string(&bin).unwrap(),
        "#!/bin/sh\necho viewer\n"
    );
    assert!(
        layout.vir().join("lib/libv.so").is_file(),
        "the dependency is active too"
    );
    let listed = list_installed(&layout, "").unwrap();
    let names: Vec<String> = listed
        .entries
        .iter()
        .map(|e| format!("{}@{} {}", e.name, e.version, e.requested))
        .collect();
    assert_eq!(names, ["libv@1 false", "viewer@1.0 true"]);
    let w = which(&layout, "viewer", "").unwrap();
    assert_eq!((w.name.as_str(), w.version.as_str()), ("viewer", "1.0"));

    // Bare name: the newest stored version replaces the active one.
    let s = activate_in(&layout, "viewer", "").unwrap();
    assert_eq!(s.lines[0], "replaced viewer@1.0");
    assert_eq!(which(&layout, "bin/viewer", "").unwrap().version, "2.0");
    assert_eq!(profile::current(&layout, "default"), Some(2));
    let lock = std::fs::read_to_string(layout.lockfile("default")).unwrap();
    assert!(
        lock.contains("\"viewer\"") && lock.contains("2.0"),
        "{lock}"
    );

    // The dependency is held by viewer.
    let e = deactivate(
        &layout,
        &StoreView::load(&layout),
        "libv",
        "",
        None,
        &Events::detached(),
    )
    .unwrap_err();
    assert_eq!(e.code(), code::DEPENDENTS);
    assert!(e.to_string().contains("viewer@2.0"), "{e}");
    deactivate(
        &layout,
        &StoreView::load(&layout),
        "viewer",
        "",
        None,
        &Events::detached(),
    )
    .unwrap();
    assert!(list_installed(&layout, "").unwrap().entries.is_empty());
    assert!(!bin.exists());
    assert!(std::fs::read_dir(layout.tmp()).unwrap().next().is_none());
}

#[test]
fn conflicts_are_explained_and_strategies_decide() {
    let (t, layout) = home();
    let a = package(
        t.path(),
        "conv-a",
        "1",
        "any",
        &[],
        &[("files/bin/convert", "a")],
    );
    let b = package(
        t.path(),
        "conv-b",
        "1",
        "any",
        &[],
        &[("files/bin/convert", "b")],
    );
    install(&layout, &[&a, &b]);
    activate_in(&layout, "conv-a", "").unwrap();
    let e = activate_in(&layout, "conv-b", "").unwrap_err();
    assert_eq!(e.code(), code::PATH_CONFLICT);
    assert!(e.to_string().contains("bin/convert"), "{e}");
    let hint = e.hint().unwrap();
    assert!(hint.contains("--strategy prefer-new"), "{hint}");
    assert!(
        hint.contains("pandora profile override bin/convert conv-b@1"),
        "{hint}"
    );
    assert_eq!(
        profile::current(&layout, "default"),
        Some(1),
        "nothing changed"
    );
    activate_in(&layout, "conv-b", "namespace").unwrap();
    assert_eq!(which(&layout, "convert", "").unwrap().name, "conv-a");
    assert_eq!(
        which(&layout, "bin/conv-b-1/convert", "").unwrap().name,
        "conv-b"
    );
    let e = activate_in(&layout, "conv-b", "sideways").unwrap_err();
    assert_eq!(e.code(), code::USAGE);
}

#[test]
fn home_links_are_made_once_and_never_replace_the_users_files() {
    let (t, layout) = home();
    let users = t.path().join("user");
    std::fs::create_dir_all(users.join("bin")).unwrap();
    std::fs::write(users.join("bin/mine"), "mine").unwrap();
    std::fs::create_dir_all(users.join("lib")).unwrap();
    let notes = home::ensure_links(&layout, &users);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("add"), "{notes:?}");
    assert_eq!(
        std::fs::read_to_string(users.join("bin/mine")).unwrap(),
        "mine"
    );
    assert!(
        std::fs::symlink_metadata(users.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(users.join("etcetera"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(home::ensure_links(&layout, &users).len() == 1, "idempotent");
}

//! Test helpers: real homes and real packages, made with the real packer.

use std::path::{Path, PathBuf};

use pandora_common::layout::Layout;
use pandora_common::pkg::{PackOptions, pack_to_dir};

/// A home with every directory the daemon makes at start.
pub(crate) fn home() -> (tempfile::TempDir, Layout) {
    let t = tempfile::tempdir().expect("a temp dir");
    let layout = Layout::new(t.path().join("pandora"));
    for d in layout.dirs() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    (t, layout)
}

/// A package built from a manifest's fields and extra files (`(path, text)`), packed into
/// `dir`; returns the .pkg path.
pub(crate) fn package(
    dir: &Path,
    name: &str,
    version: &str,
    arch: &str,
    deps: &[&str],
    files: &[(&str, &str)],
) -> PathBuf {
    let src = dir.join(format!("src-{name}-{version}"));
    std::fs::create_dir_all(src.join("files/bin")).expect("mkdir");
    std::fs::write(
        src.join("files/bin").join(name),
        format!("#!/bin/sh\necho {name}\n"),
    )
    .expect("write");
    let mut hooks = Vec::new();
    for (rel, text) in files {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        if rel.starts_with("hooks/") {
            hooks.push(format!("\"{rel}\""));
        }
    }
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
    std::fs::write(
        src.join("manifest.acl"),
        format!(
            "manifest {{\n  string name = \"{name}\";\n  string version = \"{version}\";\n  \
             string arch = \"{arch}\";\n  string[] authors = {{ \"T\" }};\n  string license = \"MIT\";\n  \
             string[] dependencies = {{ {} }};\n  string[] install_hooks = {{ {} }};\n  \
             build_meta {{ builder = \"test\"; }}\n}}\n",
            deps.join(", "),
            hooks.join(", ")
        ),
    )
    .expect("write");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    pack_to_dir(&src, &out, &PackOptions::default())
        .expect("the test package packs")
        .path
}

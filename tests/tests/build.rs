//! `pandora build`: the examples build in the sandbox to identical bytes whatever the host's
//! time, umask, working directory and scratch path; `--check` catches a recipe that embeds
//! the date; the SBOM validates with the reference SPDX tools; provenance names the exact
//! inputs; the build cache; URL sources verified before anything runs; build dependencies.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pandora_tests::test_server::{Answer, TestServer};
use pandora_tests::{Context, PkgSpec, Run, bin, file_url, repo_root, sha256_file};

fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// The reference SPDX validator: `$PYSPDXTOOLS`, `pyspdxtools` on PATH, or else installed
/// from PyPI (`spdx-tools`) into a virtual environment under `target/`.
fn pyspdxtools() -> PathBuf {
    if let Some(p) = std::env::var_os("PYSPDXTOOLS") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("pyspdxtools"))
        .find(|p| p.is_file())
    {
        return p;
    }
    pandora_tests::python_venv("spdx-tools", "spdx-tools==0.8.5").join("bin/pyspdxtools")
}

/// Unpacks one file of a `.pkg` (zstd tar) as text.
fn file_in(pkg: &Path, path: &str) -> String {
    let out = Command::new("tar")
        .arg("--zstd")
        .arg("-xOf")
        .arg(pkg)
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_c_example_builds_to_the_same_bytes_whatever_the_host_does() {
    // One home with a daemon the test starts...
    let one = Context::new();
    let _d = one.start_daemon(&[]);
    let out1 = one.path().join("out");
    std::fs::create_dir_all(&out1).unwrap();
    let r = one.plain(&[
        "build",
        example("hello-c").to_str().unwrap(),
        "-o",
        out1.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("hello-c@1.0.0 step 1: cc -O2 -o hello hello.c"),
        "{r:?}"
    );
    let pkg1 = out1.join("hello-c-1.0.0.pkg");

    // ... and another home, later, from another directory, with another umask, whose daemon
    // `pandora` starts itself (inheriting that umask).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let two = Context::new();
    let work = two.path().join("somewhere/else");
    std::fs::create_dir_all(&work).unwrap();
    let script = format!(
        "umask 077 && cd {} && exec {} --log plain build {} -o {}",
        work.display(),
        bin("pandora").display(),
        example("hello-c").display(),
        work.join("hello.pkg").display()
    );
    let r = Run::of(
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", two.path())
            .env("PANDORA_HOME", two.pandora_home())
            .env("TZ", "Pacific/Kiritimati")
            .env("LC_ALL", "C"),
    );
    let lock = two.pandora_home().join("run/lock");
    if let Ok(pid) = std::fs::read_to_string(&lock) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    assert_eq!(r.code, 0, "{r:?}");
    let pkg2 = work.join("hello.pkg");
    assert_eq!(
        std::fs::read(&pkg1).unwrap(),
        std::fs::read(&pkg2).unwrap(),
        "the same recipe and inputs give the same bytes"
    );

    // Provenance names the exact inputs; the SBOM validates.
    let provenance = file_in(&pkg1, "provenance.acl");
    let recipe_sha = sha256_file(&example("hello-c").join("mpt.acl"));
    assert!(
        provenance.contains(&format!("string recipe_sha256 = \"{recipe_sha}\";")),
        "{provenance}"
    );
    assert!(provenance.contains("Source \"src\" {"), "{provenance}");
    assert!(
        provenance.contains("string path = \"src\";"),
        "{provenance}"
    );
    let manifest = file_in(&pkg1, "manifest.acl");
    assert!(
        manifest.contains("builder = \"pandora build"),
        "build_meta is filled: {manifest}"
    );
    let sbom = one.path().join("sbom.spdx.json");
    std::fs::write(&sbom, file_in(&pkg1, "sbom.spdx.json")).unwrap();
    let check = Command::new(pyspdxtools())
        .arg("-i")
        .arg(&sbom)
        .output()
        .unwrap();
    assert!(
        check.status.success() && check.stdout.is_empty() && check.stderr.is_empty(),
        "pyspdxtools: {check:?}"
    );
    assert!(
        std::fs::read_to_string(&sbom)
            .unwrap()
            .contains("\"fileName\": \"./files/bin/hello-c\""),
        "the SBOM lists the files"
    );

    // The package installs and runs like any other.
    let r = one.plain(&["install", pkg1.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let run = Command::new(one.path().join("bin/hello-c"))
        .arg("tests")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "Hello from C, tests!\n"
    );
}

/// A recipe directory under `ctx` with `mpt.acl` and a `src/` holding one script.
fn recipe(ctx: &Context, name: &str, build: &str) -> PathBuf {
    let dir = ctx.path().join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/tool"), "#!/bin/sh\necho tool\n").unwrap();
    std::fs::write(
        dir.join("mpt.acl"),
        format!(
            "Package \"{name}\" {{ string version = \"1.0.0\"; string arch = \"any\"; \
             string[] authors = {{ \"T\" }}; string license = \"MIT\"; string[] dependencies = {{ }}; }}\n\
             Build {{ {build} }}\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn check_catches_a_recipe_that_embeds_the_date_and_the_cache_answers_repeats() {
    let ctx = Context::new();
    let _d = ctx.start_daemon(&[]);
    let dated = recipe(
        &ctx,
        "dated",
        "Source \"src\" { string path = \"src\"; } string[] steps = { \"mkdir -p /build/out/share\", \"date +%s%N > /build/out/share/stamp\" };",
    );
    let out = ctx.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let r = ctx.plain(&[
        "build",
        dated.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error[not-reproducible]: dated@1.0.0 is not reproducible: two builds differ in files/share/stamp"
        ),
        "{r:?}"
    );
    assert!(!out.join("dated-1.0.0.pkg").exists(), "nothing written");

    let steady = recipe(
        &ctx,
        "steady",
        "Source \"src\" { string path = \"src\"; } string[] steps = { \"mkdir -p /build/out/bin\", \"cp tool /build/out/bin/ && echo ran-the-steps\" };",
    );
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            steady.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        ctx.plain(&args)
    };
    let r = build(&["--check"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("steady@1.0.0 is reproducible"), "{r:?}");
    let sha = sha256_file(&out.join("steady-1.0.0.pkg"));
    let r = build(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("from the build cache"), "{r:?}");
    assert!(
        !r.stderr.contains("ran-the-steps"),
        "a cache hit runs nothing: {r:?}"
    );
    let r = build(&["--no-cache"]);
    assert!(r.stderr.contains("ran-the-steps"), "{r:?}");
    assert_eq!(sha256_file(&out.join("steady-1.0.0.pkg")), sha);

    // A failing step stops the build and says which.
    let failing = recipe(
        &ctx,
        "failing",
        "Source \"src\" { string path = \"src\"; } string[] steps = { \"echo first\", \"echo oops >&2; exit 4\", \"echo never\" };",
    );
    let r = ctx.plain(&[
        "build",
        failing.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error[build-failed]: building failing@1.0.0: step 2/3 `echo oops >&2; exit 4` exited with status 4"),
        "{r:?}"
    );
    assert!(r.stderr.contains("failing@1.0.0 step 2: oops"), "{r:?}");
    assert!(!r.stderr.contains("never"), "{r:?}");
}

#[test]
fn url_sources_are_verified_before_anything_runs_and_build_dependencies_are_on_path() {
    let ctx = Context::new();
    let served = ctx.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("data.txt"), "fetched bytes\n").unwrap();
    let sha = sha256_file(&served.join("data.txt"));
    let server = TestServer::start(&served, |_, _| Answer::Serve);
    // A build dependency in the store: `helper` provides bin/helper.
    let reg = ctx.registry_of("main", &[PkgSpec::new("helper", "1.0.0")]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    let out = ctx.path().join("out");
    std::fs::create_dir_all(&out).unwrap();

    let wrong = recipe(
        &ctx,
        "wrong",
        &format!(
            "Source \"data\" {{ string url = \"{}/data.txt\"; string sha256 = \"{}\"; }} string[] steps = {{ \"echo ran\" }};",
            server.url(),
            "0".repeat(64)
        ),
    );
    let r = ctx.plain(&[
        "build",
        wrong.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error[mismatch]: building wrong@1.0.0: source `data` ({}/data.txt) has sha256 {sha}, the recipe says {}; nothing was run",
            server.url(),
            "0".repeat(64)
        )),
        "{r:?}"
    );
    assert!(!r.stderr.contains("step 1"), "{r:?}");

    let good = recipe(
        &ctx,
        "good",
        &format!(
            "Source \"data\" {{ string url = \"{}/data.txt\"; string sha256 = \"{sha}\"; }} \
             Source \"src\" {{ string path = \"src\"; }} \
             string[] build_dependencies = {{ \"helper@1.0.0\" }}; \
             string[] steps = {{ \"mkdir -p /build/out/share && cp data/data.txt /build/out/share/ && helper\" }};",
            server.url()
        ),
    );
    let r = ctx.plain(&["build", good.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(
        r.code, 1,
        "the build dependency is not in the store yet: {r:?}"
    );
    assert!(
        r.stderr.contains("helper@1.0.0 (needed by good@1.0.0)"),
        "{r:?}"
    );
    assert_eq!(
        ctx.plain(&["install", "helper@1.0.0", "--no-activate"])
            .code,
        0
    );
    let r = ctx.plain(&["build", good.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("good@1.0.0 step 1: helper 1.0.0"),
        "{r:?}"
    );
    assert!(
        ctx.pandora_home()
            .join("cache/sources/sha256")
            .join(&sha)
            .is_file()
    );
    let pkg = out.join("good-1.0.0.pkg");
    assert_eq!(file_in(&pkg, "files/share/data.txt"), "fetched bytes\n");
    let provenance = file_in(&pkg, "provenance.acl");
    assert!(
        provenance.contains(&format!("string url = \"{}/data.txt\";", server.url())),
        "{provenance}"
    );
    assert!(
        provenance.contains(&format!("string sha256 = \"{sha}\";")),
        "{provenance}"
    );
    assert!(
        provenance.contains("BuildDependency \"helper\" {"),
        "{provenance}"
    );
    // `info` shows how it was made.
    let r = ctx.plain(&["info", pkg.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        format!(
            "provenance=\"source data: {}/data.txt sha256 {sha}\"",
            server.url()
        ),
        "provenance=\"build dependency helper@1.0.0: sha256 ".to_string(),
        "sbom=\"SPDX-2.3: 1 file, 4 packages, 5 relationships\"".to_string(),
    ] {
        assert!(r.stdout.contains(&line), "{line}: {r:?}");
    }
    // A second build uses the cached source: the server is not asked again.
    let asked = server.requests("/data.txt").len();
    let r = ctx.plain(&[
        "build",
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--no-cache",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(server.requests("/data.txt").len(), asked);
}

#[test]
fn the_build_cache_moves_to_another_home_and_a_forged_entry_is_refused() {
    let one = Context::new();
    let _d1 = one.start_daemon(&[]);
    let out = one.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let steady = recipe(
        &one,
        "steady",
        "Source \"src\" { string path = \"src\"; } string[] steps = { \"mkdir -p /build/out/bin\", \"cp tool /build/out/bin/ && echo ran-the-steps\" };",
    );
    let other = recipe(
        &one,
        "other",
        "Source \"src\" { string path = \"src\"; } string[] steps = { \"mkdir -p /build/out/share\", \"echo other > /build/out/share/x\" };",
    );
    for dir in [&steady, &other] {
        let r = one.plain(&["build", dir.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let export = one.path().join("cache.tar");
    let r = one.plain(&["cache", "export", export.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("exported 2 build cache entries"), "{r:?}");

    // Another home imports it; the same recipe there is a cache hit, byte for byte.
    let two = Context::new();
    let _d2 = two.start_daemon(&[]);
    let r = two.plain(&["cache", "import", export.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("imported steady@1.0.0"), "{r:?}");
    let out2 = two.path().join("out");
    std::fs::create_dir_all(&out2).unwrap();
    let r = two.plain(&[
        "build",
        steady.to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("from the build cache"), "{r:?}");
    assert!(!r.stderr.contains("ran-the-steps"), "{r:?}");
    assert_eq!(
        sha256_file(&out.join("steady-1.0.0.pkg")),
        sha256_file(&out2.join("steady-1.0.0.pkg"))
    );

    // An export whose entry for steady's key holds another package is refused whole.
    let cache = one.pandora_home().join("cache/build");
    let mut keys: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    keys.sort();
    let (a, b) = (keys[0].clone(), keys[1].clone());
    let bytes_b = std::fs::read(&b).unwrap();
    std::fs::write(&a, &bytes_b).unwrap();
    let forged = one.path().join("forged.tar");
    // The listing is written from the entries as they are, so only the key is wrong.
    let r = one.plain(&["cache", "export", forged.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let three = Context::new();
    let _d3 = three.start_daemon(&[]);
    let r = three.plain(&["cache", "import", forged.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error[mismatch]"), "{r:?}");
    assert!(
        r.stderr
            .contains("was built from other inputs: its provenance gives the key"),
        "{r:?}"
    );
    assert!(
        std::fs::read_dir(three.pandora_home().join("cache/build"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "nothing imported"
    );
}

//! Trust (issue 12): registries signed with minisign keys, clients that pin them, and every
//! lie a registry server on 127.0.0.1 can tell: a snapshot signed by an unpinned key, a
//! signature over other bytes, a rollback, a frozen snapshot replayed, an index file that does
//! not match the signed snapshot, a package signed by another registry's key, missing
//! signatures, and key rotations signed (or not) by the old key. Debian's `minisign` checks
//! what Pandora signs, and Pandora checks what `minisign` signs.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use pandora_common::files::{RegistryMeta, Snapshot};
use pandora_common::sign::TrustedKey;
use pandora_tests::test_server::{Answer, Overlap, TestServer};
use pandora_tests::{Context, Daemon, PkgSpec, Run, registry_tool, sha256_file};

/// The `minisign` tool (Debian's `minisign` package; `.ci/run` installs it).
fn minisign() -> Command {
    Command::new(pandora_tests::tool("minisign", "minisign"))
}

/// `minisign -S`: signs `file` with the secret key `secret` into `FILE.minisig`, with
/// `comment` as the trusted comment when given.
fn minisign_sign(file: &Path, secret: &Path, comment: Option<&str>) {
    let mut cmd = minisign();
    cmd.arg("-S").arg("-s").arg(secret).arg("-m").arg(file);
    if let Some(c) = comment {
        cmd.args(["-t", c]);
    }
    ok(&mut cmd);
}

/// Runs `cmd`, which must succeed.
fn ok(cmd: &mut Command) -> Run {
    let r = Run::of(cmd);
    assert_eq!(r.code, 0, "{cmd:?}: {r:?}");
    r
}

/// The registry's public keys, from its config.acl.
fn keys_of(reg: &Path) -> Vec<String> {
    RegistryMeta::parse(
        &std::fs::read_to_string(reg.join("config.acl")).unwrap(),
        "config.acl",
    )
    .unwrap()
    .keys
}

fn key_id(key: &str) -> String {
    TrustedKey::parse(key).unwrap().id.to_string()
}

/// Gives the registry at `reg` a new signing key kept at `<home>/keys/<file>`; returns its
/// public key.
fn keygen(ctx: &Context, reg: &Path, file: &str) -> String {
    let secret = ctx.path().join("keys").join(file);
    let r = registry_tool(&[
        "keygen".as_ref(),
        reg.as_os_str(),
        "--secret-key".as_ref(),
        secret.as_os_str(),
    ]);
    let public = keys_of(reg).remove(0);
    assert!(
        r.stdout.contains(&format!("public key: {public}\n")),
        "{r:?}"
    );
    public
}

/// A registry `name` holding `specs`, signed with a new key; returns it and its public key.
fn signed_registry(ctx: &Context, name: &str, specs: &[PkgSpec<'_>]) -> (PathBuf, String) {
    let reg = ctx.registry_of(name, specs);
    let key = keygen(ctx, &reg, &format!("{name}.key"));
    (reg, key)
}

/// A copy of the registry directory for a lying server to serve (never the private state).
fn copy_served(reg: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    ok(Command::new("cp").arg("-r").arg(reg).arg(to));
    let _ = std::fs::remove_dir_all(to.join(".pandora-registry"));
}

/// A server that serves `root` as it is, whatever the test writes there.
fn lying_server(root: &Path) -> TestServer {
    TestServer::start(root, |_, _| Answer::Serve)
}

/// `pandora registry add NAME URL --key KEY...`, which must succeed.
fn pin(ctx: &Context, name: &str, url: &str, keys: &[&str], extra: &[&str]) {
    let mut args = vec!["registry", "add", name, url];
    for k in keys {
        args.extend(["--key", k]);
    }
    args.extend(extra);
    let r = ctx.client(&args);
    assert_eq!(r.code, 0, "{r:?}");
}

/// A signed registry `main` holding `specs`, a lying server over a copy of it, and a daemon
/// whose registry `main` is that server, with the registry's key pinned.
struct Lying {
    reg: PathBuf,
    key: String,
    served: PathBuf,
    server: TestServer,
    _daemon: Daemon,
}

fn lying_signed(ctx: &Context, specs: &[PkgSpec<'_>]) -> Lying {
    let (reg, key) = signed_registry(ctx, "main", specs);
    let served = ctx.path().join("served");
    copy_served(&reg, &served);
    let server = lying_server(&served);
    let daemon = ctx.start_daemon(&[]);
    pin(ctx, "main", &server.url(), &[&key], &[]);
    Lying {
        reg,
        key,
        served,
        server,
        _daemon: daemon,
    }
}

/// An install that must be refused with `error[untrusted]` and a message containing `says`;
/// nothing reaches the store.
fn refused(ctx: &Context, args: &[&str], says: &str) -> Run {
    refused_as(ctx, args, "untrusted", says)
}

/// An install that must be refused with `error[CODE]` and a message containing `says`;
/// nothing reaches the store.
fn refused_as(ctx: &Context, args: &[&str], code: &str, says: &str) -> Run {
    let before = ctx.store_entries();
    let r = ctx.client(args);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains(&format!("error[{code}]: ")),
        "expected error[{code}] in {r:?}"
    );
    assert!(r.stderr.contains(says), "expected `{says}` in {r:?}");
    assert_eq!(ctx.store_entries(), before, "nothing is installed");
    r
}

fn info_trust(ctx: &Context, what: &str) -> Vec<String> {
    let r = ctx.plain(&["info", what]);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("trust="))
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

#[test]
fn a_signed_registry_installs_and_the_store_records_which_keys_vouched() {
    let ctx = Context::new();
    let (reg, key) = signed_registry(&ctx, "main", &[PkgSpec::new("app", "1.0.0")]);
    let id = key_id(&key);
    let check = registry_tool(&["check".as_ref(), reg.as_os_str()]);
    assert_eq!(
        check.stdout,
        "verified 3 index files, 1 blobs and 2 signatures: 0 problems\n"
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "main", &server.url(""), &[&key], &[]);
    let listed = ctx.plain(&["registry", "list"]);
    assert!(
        listed.stdout.contains("signatures=true keys=1"),
        "{listed:?}"
    );

    // Before install, info says what will be checked; after, what was.
    assert_eq!(
        info_trust(&ctx, "app@1.0.0"),
        [
            format!("index: registry `main`'s snapshot signed by key {id} (checked now)"),
            format!("package: signed by key {id} (checked now)"),
        ]
    );
    let r = ctx.client(&["install", "app@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        info_trust(&ctx, "app@1.0.0"),
        [
            format!("index: registry `main`'s snapshot signed by key {id} (verified at install)"),
            format!("package: signed by key {id} (verified at install)"),
        ]
    );
    let v = ctx.plain(&["verify", "app@1.0.0"]);
    assert_eq!(
        v.stdout,
        format!(
            "result=\"ok app@1.0.0 (checked: files, cached archive sha256, archive signature by key {id})\"\n"
        ),
        "{v:?}"
    );

    // The cached archive altered: verify names it.
    let sha = pandora_tests::indexed_sha(&reg, "app", "1.0.0");
    let cached = ctx.pandora_home().join("cache/blobs/sha256").join(&sha);
    let mut bytes = std::fs::read(&cached).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&cached, bytes).unwrap();
    let v = ctx.plain(&["verify", "app@1.0.0"]);
    assert_ne!(v.code, 0, "{v:?}");
    assert!(v.stderr.contains("the cached archive"), "{v:?}");
}

#[test]
fn minisign_checks_what_pandora_signs_and_pandora_checks_what_minisign_signs() {
    let ctx = Context::new();
    // Pandora signs: the snapshot, a package, a key rotation. minisign -V checks each.
    let (reg, key) = signed_registry(&ctx, "main", &[PkgSpec::new("app", "1.0.0")]);
    let pubfile = ctx.path().join("main.pub");
    std::fs::write(&pubfile, format!("untrusted comment: main\n{key}\n")).unwrap();
    let v = ok(minisign()
        .arg("-Vm")
        .arg(reg.join("snapshot.acl"))
        .arg("-p")
        .arg(&pubfile));
    let snap = Snapshot::parse(
        &std::fs::read_to_string(reg.join("snapshot.acl")).unwrap(),
        "s",
    )
    .unwrap();
    assert!(
        v.stdout.contains(&format!(
            "Trusted comment: registry=main serial={} expires={}",
            snap.serial, snap.expires
        )),
        "{v:?}"
    );
    let sha = pandora_tests::indexed_sha(&reg, "app", "1.0.0");
    ok(minisign()
        .arg("-Vm")
        .arg(reg.join("blobs/sha256").join(&sha))
        .arg("-P")
        .arg(&key));
    let secret2 = ctx.path().join("keys/main-2.key");
    registry_tool(&[
        "rotate-key".as_ref(),
        reg.as_os_str(),
        "--secret-key".as_ref(),
        secret2.as_os_str(),
    ]);
    ok(minisign()
        .arg("-Vm")
        .arg(reg.join("keys/1.acl"))
        .arg("-P")
        .arg(&key));

    // minisign signs: a key made by `minisign -G` becomes a registry's key, and a package
    // signed with `minisign -S` is accepted by the registry and verified by the client.
    let ms_pub = ctx.path().join("ms.pub");
    let ms_key = ctx.path().join("ms.key");
    ok(minisign()
        .args(["-G", "-W", "-p"])
        .arg(&ms_pub)
        .arg("-s")
        .arg(&ms_key));
    let ms_public = std::fs::read_to_string(&ms_pub).unwrap();
    let ms_public = ms_public.lines().nth(1).unwrap().to_string();
    let two = ctx.registry_of("two", &[]);
    registry_tool(&[
        "keygen".as_ref(),
        two.as_os_str(),
        "--import".as_ref(),
        "--secret-key".as_ref(),
        ms_key.as_os_str(),
    ]);
    assert_eq!(keys_of(&two), std::slice::from_ref(&ms_public));
    let pkg = ctx.pack(&PkgSpec::new("tool", "2.0.0"));
    minisign_sign(&pkg, &ms_key, Some("signed with minisign"));
    let sig = PathBuf::from(format!("{}.minisig", pkg.display()));
    registry_tool(&[
        "add".as_ref(),
        two.as_os_str(),
        pkg.as_os_str(),
        "--sig".as_ref(),
        sig.as_os_str(),
    ]);
    let pkg_sha = sha256_file(&pkg);
    assert_eq!(
        std::fs::read_to_string(two.join("blobs/sha256").join(format!("{pkg_sha}.minisig")))
            .unwrap(),
        std::fs::read_to_string(&sig).unwrap(),
        "the publisher's own signature is served"
    );
    // A package minisign signed with a key the registry does not list is refused.
    let other_pub = ctx.path().join("other.pub");
    let other_key = ctx.path().join("other.key");
    ok(minisign()
        .args(["-G", "-W", "-p"])
        .arg(&other_pub)
        .arg("-s")
        .arg(&other_key));
    let pkg3 = ctx.pack(&PkgSpec::new("tool", "3.0.0"));
    minisign_sign(&pkg3, &other_key, None);
    let r = Run::of(
        Command::new(pandora_tests::bin("pandora-registry"))
            .arg("add")
            .arg(&two)
            .arg(&pkg3)
            .arg("--sig")
            .arg(format!("{}.minisig", pkg3.display())),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("signature refused: signed by key"),
        "{r:?}"
    );

    // A snapshot signed by minisign itself (a registry's operator signing by hand) with the
    // right trusted comment is accepted too.
    let served = ctx.path().join("served-two");
    copy_served(&two, &served);
    let mut snap = Snapshot::parse(
        &std::fs::read_to_string(served.join("snapshot.acl")).unwrap(),
        "s",
    )
    .unwrap();
    snap.serial += 10;
    std::fs::write(served.join("snapshot.acl"), snap.to_source()).unwrap();
    minisign_sign(
        &served.join("snapshot.acl"),
        &ms_key,
        Some(&pandora_common::sign::snapshot_comment(
            "two",
            snap.serial,
            snap.expires,
        )),
    );
    let server = lying_server(&served);
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "two", &server.url(), &[&ms_public], &[]);
    let r = ctx.client(&["install", "tool@2.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = key_id(&ms_public);
    assert_eq!(
        info_trust(&ctx, "tool@2.0.0"),
        [
            format!("index: registry `two`'s snapshot signed by key {id} (verified at install)"),
            format!("package: signed by key {id} (verified at install)"),
        ]
    );
}

#[test]
fn a_snapshot_signed_by_an_unpinned_key_or_over_other_bytes_is_refused() {
    let ctx = Context::new();
    let (reg, key) = signed_registry(&ctx, "main", &[PkgSpec::new("app", "1.0.0")]);
    let (_, other_key) = signed_registry(&ctx, "other", &[]);
    let served = ctx.path().join("served");
    copy_served(&reg, &served);
    let server = lying_server(&served);
    let _d = ctx.start_daemon(&[]);

    // The user pinned another registry's key.
    pin(&ctx, "main", &server.url(), &[&other_key], &[]);
    let r = refused(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        &format!(
            "signed by key {}, which is not trusted (trusted: {})",
            key_id(&key),
            key_id(&other_key)
        ),
    );
    assert!(r.stderr.contains("error[untrusted]"), "{r:?}");
    assert!(r.stderr.contains("hint: "), "{r:?}");

    // The right key, but the snapshot's bytes changed after signing.
    pin(&ctx, "main", &server.url(), &[&key], &[]);
    let text = std::fs::read_to_string(served.join("snapshot.acl")).unwrap();
    let mut snap = Snapshot::parse(&text, "s").unwrap();
    snap.generated += 1;
    std::fs::write(served.join("snapshot.acl"), snap.to_source()).unwrap();
    refused(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        "does not match these bytes",
    );

    // Put back, it installs.
    std::fs::write(served.join("snapshot.acl"), text).unwrap();
    let r = ctx.client(&["install", "app@1.0.0", "--yes", "--refresh"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn missing_signatures_are_refused_when_required_and_bad_ones_always() {
    let ctx = Context::new();
    let Lying {
        reg,
        key,
        served,
        server,
        _daemon,
    } = lying_signed(
        &ctx,
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("lib", "1.0.0")],
    );

    // No snapshot signature, signatures required.
    std::fs::rename(
        served.join("snapshot.acl.minisig"),
        ctx.path().join("snapshot.minisig"),
    )
    .unwrap();
    refused(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        "snapshot.acl.minisig: missing",
    );
    // A malformed one.
    std::fs::write(
        served.join("snapshot.acl.minisig"),
        "untrusted comment: x\nnope\n",
    )
    .unwrap();
    refused(&ctx, &["install", "app@1.0.0", "--yes"], "malformed");
    std::fs::rename(
        ctx.path().join("snapshot.minisig"),
        served.join("snapshot.acl.minisig"),
    )
    .unwrap();

    // The package's signature file missing, though the signed index names it.
    let sha = pandora_tests::indexed_sha(&reg, "app", "1.0.0");
    let sig = served.join("blobs/sha256").join(format!("{sha}.minisig"));
    std::fs::remove_file(&sig).unwrap();
    refused(
        &ctx,
        &["install", "app@1.0.0", "--yes", "--refresh"],
        "but the registry does not serve it",
    );

    // Signatures not required, only checked when present: an unsigned snapshot passes, a
    // package signature over other bytes still refuses the package.
    pin(
        &ctx,
        "main",
        &server.url(),
        &[&key],
        &["--optional-signatures"],
    );
    std::fs::remove_file(served.join("snapshot.acl.minisig")).unwrap();
    let lib_sha = pandora_tests::indexed_sha(&reg, "lib", "1.0.0");
    std::fs::copy(
        reg.join("blobs/sha256").join(format!("{lib_sha}.minisig")),
        &sig,
    )
    .unwrap();
    refused(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        "does not match these bytes",
    );
    let r = ctx.client(&["install", "lib@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        info_trust(&ctx, "lib@1.0.0"),
        [format!(
            "package: signed by key {} (verified at install)",
            key_id(&key)
        )],
        "the snapshot was not signed, the package was"
    );
}

#[test]
fn rollbacks_and_frozen_snapshots_are_refused() {
    let ctx = Context::new();
    let Lying {
        reg,
        key,
        served,
        server: _server,
        _daemon,
    } = lying_signed(&ctx, &[PkgSpec::new("app", "1.0.0")]);
    let old = ctx.path().join("old");
    copy_served(&reg, &old);

    // The client sees serial N+1 ...
    let pkg = ctx.pack(&PkgSpec::new("app", "2.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), pkg.as_os_str()]);
    copy_served(&reg, &served);
    let r = ctx.client(&["install", "app@2.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    // ... then the server replays serial N, validly signed.
    for f in [
        "snapshot.acl",
        "snapshot.acl.minisig",
        "index.acl",
        "index/app.acl",
    ] {
        std::fs::copy(old.join(f), served.join(f)).unwrap();
    }
    refused(
        &ctx,
        &["install", "app@1.0.0", "--yes", "--refresh"],
        "older than the",
    );

    // A frozen snapshot: validly signed with the registry's own key, but expired. A new
    // client, which has seen no serial, still refuses it.
    let ctx2 = Context::new();
    let frozen = ctx2.path().join("frozen");
    copy_served(&reg, &frozen);
    let mut snap = Snapshot::parse(
        &std::fs::read_to_string(frozen.join("snapshot.acl")).unwrap(),
        "s",
    )
    .unwrap();
    snap.generated -= 200 * 86400;
    snap.expires = snap.generated + 90 * 86400;
    std::fs::write(frozen.join("snapshot.acl"), snap.to_source()).unwrap();
    std::fs::remove_file(frozen.join("snapshot.acl.minisig")).unwrap();
    minisign_sign(
        &frozen.join("snapshot.acl"),
        &ctx.path().join("keys/main.key"),
        Some(&pandora_common::sign::snapshot_comment(
            "main",
            snap.serial,
            snap.expires,
        )),
    );
    let server2 = lying_server(&frozen);
    let _d2 = ctx2.start_daemon(&[]);
    pin(&ctx2, "main", &server2.url(), &[&key], &[]);
    let r = ctx2.client(&["install", "app@1.0.0", "--yes"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("its snapshot expired"), "{r:?}");
    assert!(r.stderr.starts_with("error[untrusted]"), "{r:?}");
    assert!(ctx2.store_entries().is_empty());

    // A signature whose trusted comment does not match the snapshot it signs.
    std::fs::remove_file(frozen.join("snapshot.acl.minisig")).unwrap();
    let mut fresh = snap.clone();
    fresh.expires = fresh.generated + 400 * 86400;
    std::fs::write(frozen.join("snapshot.acl"), fresh.to_source()).unwrap();
    minisign_sign(
        &frozen.join("snapshot.acl"),
        &ctx.path().join("keys/main.key"),
        Some(&format!("registry=main serial={} expires=1", fresh.serial)),
    );
    refused(
        &ctx2,
        &["install", "app@1.0.0", "--yes", "--refresh"],
        "its signed comment says",
    );
}

#[test]
fn an_index_file_that_does_not_match_the_signed_snapshot_is_refused() {
    let ctx = Context::new();
    let Lying {
        reg,
        served,
        server: _server,
        _daemon,
        ..
    } = lying_signed(
        &ctx,
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("evil", "6.6.6")],
    );
    // Mix and match: app's index entry now points at evil's blob.
    let app = std::fs::read_to_string(served.join("index/app.acl")).unwrap();
    let app_sha = pandora_tests::indexed_sha(&reg, "app", "1.0.0");
    let evil_sha = pandora_tests::indexed_sha(&reg, "evil", "6.6.6");
    std::fs::write(
        served.join("index/app.acl"),
        app.replace(&app_sha, &evil_sha),
    )
    .unwrap();
    refused_as(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        "unavailable",
        "index/app.acl does not match its snapshot",
    );
}

#[test]
fn a_package_signed_by_another_registrys_key_is_refused() {
    let ctx = Context::new();
    let pkg = ctx.pack(&PkgSpec::new("app", "1.0.0"));
    let mine = ctx.registry_of("main", &[]);
    let theirs = ctx.registry_of("other", &[]);
    let key = keygen(&ctx, &mine, "main.key");
    keygen(&ctx, &theirs, "other.key");
    for reg in [&mine, &theirs] {
        registry_tool(&["add".as_ref(), reg.as_os_str(), pkg.as_os_str()]);
    }
    let sha = sha256_file(&pkg);
    let served = ctx.path().join("served");
    copy_served(&mine, &served);
    // The same blob, with the other registry's (valid) signature of it.
    let sig = format!("blobs/sha256/{sha}.minisig");
    std::fs::copy(theirs.join(&sig), served.join(&sig)).unwrap();
    let server = lying_server(&served);
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "main", &server.url(), &[&key], &[]);
    let r = refused(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        "the signature of app@1.0.0: refused: signed by key",
    );
    assert!(
        r.stderr
            .contains("a package signed by another registry's key is refused"),
        "{r:?}"
    );
    // Nor does the refused download stay in the cache.
    assert!(
        !ctx.pandora_home()
            .join("cache/blobs/sha256")
            .join(&sha)
            .exists()
    );
}

#[test]
fn a_rotation_signed_by_the_old_key_is_followed_and_one_that_is_not_is_refused() {
    let ctx = Context::new();
    let (reg, old_key) = signed_registry(&ctx, "main", &[PkgSpec::new("app", "1.0.0")]);
    let served = ctx.path().join("served");
    // A forged registry: someone without the old key makes a new one and "rotates" to a
    // third, signing the rotation with their own key.
    let forged = ctx.path().join("forged");
    ok(Command::new("cp").arg("-r").arg(&reg).arg(&forged));
    std::fs::remove_file(forged.join(".pandora-registry/signing.acl")).unwrap();
    keygen(&ctx, &forged, "forger.key");
    let forged_key2 = ctx.path().join("keys/forger-2.key");
    registry_tool(&[
        "rotate-key".as_ref(),
        forged.as_os_str(),
        "--secret-key".as_ref(),
        forged_key2.as_os_str(),
    ]);
    copy_served(&forged, &served);
    let server = lying_server(&served);
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "main", &server.url(), &[&old_key], &[]);
    refused(
        &ctx,
        &["install", "app@1.0.0", "--yes"],
        "which is not trusted",
    );
    let registries = ctx.pandora_home().join("registries.acl");
    assert!(
        std::fs::read_to_string(&registries)
            .unwrap()
            .contains(&old_key)
    );

    // The real rotation, signed by the old key, with --drop-old: the client follows it and
    // pins the new key in registries.acl.
    let new_secret = ctx.path().join("keys/main-2.key");
    registry_tool(&[
        "rotate-key".as_ref(),
        reg.as_os_str(),
        "--secret-key".as_ref(),
        new_secret.as_os_str(),
        "--drop-old".as_ref(),
    ]);
    let new_key = keys_of(&reg).remove(0);
    assert_eq!(keys_of(&reg), std::slice::from_ref(&new_key));
    copy_served(&reg, &served);
    let r = ctx.client(&["install", "app@1.0.0", "--yes", "--refresh"]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&registries).unwrap();
    assert!(
        text.contains(&new_key) && !text.contains(&old_key),
        "{text}"
    );
    let id = key_id(&new_key);
    assert_eq!(
        info_trust(&ctx, "app@1.0.0"),
        [
            format!("index: registry `main`'s snapshot signed by key {id} (verified at install)"),
            format!("package: signed by key {id} (verified at install)"),
        ]
    );
    let check = registry_tool(&["check".as_ref(), reg.as_os_str()]);
    assert!(check.stdout.ends_with(": 0 problems\n"), "{check:?}");
}

#[test]
fn publish_uploads_the_signature_and_the_registry_checks_it() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[]);
    let ms_pub = ctx.path().join("ms.pub");
    let ms_key = ctx.path().join("ms.key");
    ok(minisign()
        .args(["-G", "-W", "-p"])
        .arg(&ms_pub)
        .arg("-s")
        .arg(&ms_key));
    registry_tool(&[
        "keygen".as_ref(),
        reg.as_os_str(),
        "--import".as_ref(),
        "--secret-key".as_ref(),
        ms_key.as_os_str(),
    ]);
    let key = keys_of(&reg).remove(0);
    let token = ctx.write("token", "t0ken\n");
    let server = ctx.serve_registry(&reg, &["--token-file", token.to_str().unwrap()]);
    ctx.write_registry("main", &server.url(""), Some(&token));
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "main", &server.url(""), &[&key], &[]);

    // FILE.pkg.minisig beside the package is uploaded with it.
    let pkg = ctx.pack(&PkgSpec::new("app", "1.0.0"));
    minisign_sign(&pkg, &ms_key, Some("by the publisher"));
    let r = ctx.client(&["publish", pkg.to_str().unwrap(), "--registry", "main"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("with its signature"), "{r:?}");
    let sha = sha256_file(&pkg);
    let stored =
        std::fs::read_to_string(reg.join("blobs/sha256").join(format!("{sha}.minisig"))).unwrap();
    assert!(
        stored.contains("trusted comment: by the publisher"),
        "{stored}"
    );
    let r = ctx.client(&["install", "app@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");

    // A signature over other bytes is refused by the registry, and nothing is published.
    let pkg2 = ctx.pack(&PkgSpec::new("app", "2.0.0"));
    let wrong = ctx.path().join("wrong.minisig");
    std::fs::copy(format!("{}.minisig", pkg.display()), &wrong).unwrap();
    let r = ctx.client(&[
        "publish",
        pkg2.to_str().unwrap(),
        "--registry",
        "main",
        "--sig",
        wrong.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("signature refused"), "{r:?}");
    assert!(
        !std::fs::read_to_string(reg.join("index.acl"))
            .unwrap()
            .contains("2.0.0")
    );
}

#[test]
fn bad_keys_and_locked_secret_keys_get_clear_errors() {
    let ctx = Context::new();
    let _d = ctx.start_daemon(&[]);
    let r = ctx.client(&[
        "registry",
        "add",
        "main",
        "http://127.0.0.1:1",
        "--key",
        "RWnope",
    ]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("error[bad-key]") && r.stderr.contains("is not a minisign public key"),
        "{r:?}"
    );
    assert!(!ctx.pandora_home().join("registries.acl").exists());

    // A password-protected secret key: updates need the password, and never go unsigned.
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let password = ctx.write("password", "correct horse\n");
    let secret = ctx.path().join("keys/main.key");
    registry_tool(&[
        "keygen".as_ref(),
        reg.as_os_str(),
        "--secret-key".as_ref(),
        secret.as_os_str(),
        "--password-file".as_ref(),
        password.as_os_str(),
    ]);
    let serial = |reg: &Path| {
        Snapshot::parse(
            &std::fs::read_to_string(reg.join("snapshot.acl")).unwrap(),
            "s",
        )
        .unwrap()
        .serial
    };
    let before = serial(&reg);
    let pkg = ctx.pack(&PkgSpec::new("app", "2.0.0"));
    let r = Run::of(
        Command::new(pandora_tests::bin("pandora-registry"))
            .arg("add")
            .arg(&reg)
            .arg(&pkg)
            .env_remove("PANDORA_REGISTRY_PASSWORD_FILE"),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("pass --password-file FILE"), "{r:?}");
    assert_eq!(serial(&reg), before, "nothing changed");
    registry_tool(&[
        "add".as_ref(),
        reg.as_os_str(),
        pkg.as_os_str(),
        "--password-file".as_ref(),
        password.as_os_str(),
    ]);
    assert_eq!(serial(&reg), before + 1);
    let check = registry_tool(&["check".as_ref(), reg.as_os_str()]);
    assert!(
        check.stdout.contains("and 3 signatures: 0 problems"),
        "{check:?}"
    );
    // The secret key stays outside the served directory.
    let inside = reg.join("k.key");
    let r = Run::of(
        Command::new(pandora_tests::bin("pandora-registry"))
            .arg("rotate-key")
            .arg(&reg)
            .arg("--secret-key")
            .arg(&inside)
            .arg("--password-file")
            .arg(&password),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("which is served to everyone"), "{r:?}");
    assert!(!inside.exists());
}

#[test]
fn a_registry_sharing_a_key_cannot_pass_off_its_snapshot_as_another() {
    let ctx = Context::new();
    // One operator, one key, two registries.
    let shared = ctx.path().join("keys/shared.key");
    let main = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let beta = ctx.registry_of(
        "beta",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("app", "9.9.9")],
    );
    registry_tool(&[
        "keygen".as_ref(),
        main.as_os_str(),
        "--secret-key".as_ref(),
        shared.as_os_str(),
    ]);
    registry_tool(&[
        "keygen".as_ref(),
        beta.as_os_str(),
        "--import".as_ref(),
        "--secret-key".as_ref(),
        shared.as_os_str(),
    ]);
    let key = keys_of(&main).remove(0);
    assert_eq!(keys_of(&beta), std::slice::from_ref(&key));
    // The server for `main` serves beta's signed files.
    let served = ctx.path().join("served");
    copy_served(&beta, &served);
    let server = lying_server(&served);
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "main", &server.url(), &[&key], &[]);
    let r = refused(
        &ctx,
        &["install", "app@9.9.9", "--yes"],
        "it is registry `beta`'s snapshot, but you added this URL as `main`",
    );
    assert!(r.stderr.contains("pandora registry add beta URL"), "{r:?}");
    // `info` refuses it too, rather than moving on.
    let r = ctx.client(&["info", "app@9.9.9"]);
    assert!(r.stderr.starts_with("error[untrusted]"), "{r:?}");
    // The real one, and a signed file:// registry, are fine.
    copy_served(&main, &served);
    let r = ctx.client(&["install", "app@1.0.0", "--yes", "--refresh"]);
    assert_eq!(r.code, 0, "{r:?}");
    pin(&ctx, "beta", &pandora_tests::file_url(&beta), &[&key], &[]);
    let r = ctx.client(&["install", "app@9.9.9", "--yes", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        info_trust(&ctx, "app@9.9.9"),
        [
            format!(
                "index: registry `beta`'s snapshot signed by key {} (verified at install)",
                key_id(&key)
            ),
            format!(
                "package: signed by key {} (verified at install)",
                key_id(&key)
            ),
        ]
    );
}

#[test]
fn cached_signatures_serve_offline_and_a_key_pinned_by_hand_is_honoured_at_once() {
    let ctx = Context::new();
    let (reg, key) = signed_registry(&ctx, "main", &[PkgSpec::new("app", "1.0.0")]);
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    // First without a key: nothing is checked, the snapshot is cached without its signature.
    ctx.add_registry("main", &server.url(""), 0);
    let r = ctx.client(&["install", "app@1.0.0", "--yes", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        info_trust(&ctx, "app@1.0.0"),
        ["no signature was verified: registry `main` has no pinned key, or served no signature"]
    );
    // The user pins the key by editing registries.acl. The cached snapshot has no signature
    // to show, and the registry answers 304 to its ETag: Pandora fetches it all again.
    let path = ctx.pandora_home().join("registries.acl");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "bool require_signatures = false;",
            "bool require_signatures = true;",
        )
        .replace(
            "string[] trusted_keys = {};",
            &format!("string[] trusted_keys = {{\"{key}\"}};"),
        );
    assert!(text.contains(&key), "{text}");
    std::fs::write(&path, text).unwrap();
    let r = ctx.client(&["remove", "app@1.0.0", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.client(&[
        "install",
        "app@1.0.0",
        "--yes",
        "--no-activate",
        "--refresh",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = key_id(&key);
    assert_eq!(
        info_trust(&ctx, "app@1.0.0"),
        [
            format!("index: registry `main`'s snapshot signed by key {id} (verified at install)"),
            format!("package: signed by key {id} (verified at install)"),
        ]
    );
    // Offline: the registry is gone, the cached blob and its cached signature are enough.
    drop(server);
    let r = ctx.client(&["remove", "app@1.0.0", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.client(&["install", "app@1.0.0", "--yes", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        info_trust(&ctx, "app@1.0.0")[1],
        format!("package: signed by key {id} (verified at install)")
    );
}

#[test]
fn package_signatures_are_fetched_together_before_the_downloads() {
    // Each package's signature used to cost a round trip before its own download; they are
    // now all asked for before the first download, several at once, and each is still
    // checked (and asked for once).
    let ctx = Context::new();
    let names = ["s1", "s2", "s3", "s4", "s5", "s6"];
    let specs: Vec<PkgSpec> = names.iter().map(|n| PkgSpec::new(n, "1.0.0")).collect();
    let (reg, key) = signed_registry(&ctx, "main", &specs);
    let overlap = Overlap::default();
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let (held, a) = (overlap.clone(), asked.clone());
    let server = TestServer::start(&reg, move |req, _| {
        if req.path.starts_with("/blobs/") && !req.path.ends_with(".minisig") {
            a.lock().unwrap().push("blob".to_string());
        }
        if req.path.ends_with(".minisig") && !req.path.ends_with("snapshot.acl.minisig") {
            a.lock().unwrap().push(req.path.clone());
            held.hold(std::time::Duration::from_millis(300));
        }
        Answer::Serve
    });
    let _d = ctx.start_daemon(&[]);
    pin(&ctx, "main", &server.url(), &[&key], &[]);

    let r = ctx.plain(&["install", "s1", "s2", "s3", "s4", "s5", "s6"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = key_id(&key);
    for n in names {
        let trust = info_trust(&ctx, &format!("{n}@1.0.0"));
        assert!(
            trust.contains(&format!(
                "package: signed by key {id} (verified at install)"
            )),
            "{n}: {trust:?}"
        );
    }
    let order = asked.lock().unwrap().clone();
    let first_blob = order
        .iter()
        .position(|p| p == "blob")
        .unwrap_or(order.len());
    let mut asked: Vec<String> = order.iter().filter(|p| *p != "blob").cloned().collect();
    assert!(
        asked.iter().all(|s| order[..first_blob].contains(s)),
        "a download started before every signature was asked for: {order:?}"
    );
    asked.sort();
    let once = asked.len();
    asked.dedup();
    assert_eq!(
        (once, asked.len()),
        (6, 6),
        "each signature once: {asked:?}"
    );
    assert!(overlap.most() >= 2, "never two signature requests at once");
}

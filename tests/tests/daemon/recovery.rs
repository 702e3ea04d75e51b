//! A daemon that dies mid-install leaves nothing half-done, and the next start cleans up.

use super::*;

#[test]
fn a_crash_before_the_store_rename_leaves_no_trace() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let mut d = ctx.start_daemon(&[("PANDORA_FAILPOINT", "install-before-rename")]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_ne!(r.code, 0, "the daemon died mid-install: {r:?}");
    let _ = d.child.wait();
    assert!(ctx.store_entries().is_empty(), "nothing half-installed");
    assert!(
        !ctx.tmp_entries().is_empty(),
        "the staging is still there until the next start"
    );
    // Restart: recovery clears tmp/ and says so; the install then succeeds.
    let d2 = ctx.start_daemon(&[]);
    assert!(ctx.tmp_entries().is_empty());
    assert!(
        d2.log().contains("recovery: removed interrupted staging"),
        "{}",
        d2.log()
    );
    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.store_entries(), ["app@1.0.0"]);
}

#[test]
fn kill_9_mid_unpack_then_restart_leaves_no_trace() {
    let ctx = Context::new();
    // Thousands of small files: unpacking takes long enough to be caught in the middle.
    let src = ctx.path().join("src-big");
    std::fs::create_dir_all(src.join("files/share")).unwrap();
    for i in 0..4000 {
        std::fs::write(
            src.join(format!("files/share/f{i:05}")),
            format!("{i} {}\n", "data ".repeat(40 + i % 50)),
        )
        .unwrap();
    }
    std::fs::write(
        src.join("manifest.acl"),
        "manifest { name = \"big\"; version = \"1.0.0\"; arch = \"any\"; authors = {\"T\"}; license = \"MIT\"; string[] dependencies = {}; string[] install_hooks = {}; build_meta { builder = \"test\"; } }",
    )
    .unwrap();
    let pkg = ctx.path().join("big.pkg");
    assert_eq!(
        ctx.run(&["pack", src.to_str().unwrap(), "-o", pkg.to_str().unwrap()])
            .code,
        0
    );
    let reg = ctx.registry_of("main", &[]);
    registry_tool(&["add".as_ref(), reg.as_os_str(), pkg.as_os_str()]);
    let mut d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let mut client = ctx.spawn_logged(
        ctx.pandora()
            .env("PANDORA_NO_AUTOSTART", "1")
            .args(["install", "big@1.0.0"]),
        "pandora install big@1.0.0",
    );
    // Wait until the staging directory has files in it, then kill the daemon outright.
    let tmp = ctx.pandora_home().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut caught = false;
    while Instant::now() < deadline {
        let staging = std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("unpack-"));
        if let Some(s) = staging
            && std::fs::read_dir(s.path().join("files/share"))
                .map(|d| d.count() > 10)
                .unwrap_or(false)
        {
            caught = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = Command::new("kill")
        .arg("-9")
        .arg(d.child.id().to_string())
        .status();
    let _ = d.child.wait();
    let _ = client.wait();
    assert!(caught, "the unpack was caught in the middle");
    assert!(
        ctx.store_entries().is_empty(),
        "nothing half-installed in the store"
    );
    // Restart: recovery removes the half-unpacked staging; installing again works.
    let d2 = ctx.start_daemon(&[]);
    assert!(ctx.tmp_entries().is_empty());
    assert!(
        d2.log().contains("recovery: removed interrupted staging"),
        "{}",
        d2.log()
    );
    let r = ctx.client(&["install", "big@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.store_entries(), ["big@1.0.0"]);
    assert_eq!(ctx.client(&["verify", "big@1.0.0"]).code, 0);
}

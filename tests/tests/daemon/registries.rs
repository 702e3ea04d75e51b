//! `pandora registry add|list|remove` and `registries.acl`.

use super::*;

#[test]
fn registries_are_configured_in_registries_acl() {
    let ctx = Context::new();
    let _d = ctx.start_daemon(&[]);
    assert_eq!(
        ctx.client(&[
            "registry",
            "add",
            "main",
            "https://pkgs.example.org",
            "--priority",
            "5"
        ])
        .code,
        0
    );
    assert_eq!(
        ctx.client(&[
            "registry",
            "add",
            "local",
            "file:///srv/reg",
            "--priority",
            "50"
        ])
        .code,
        0
    );
    let r = ctx.client(&["--log", "plain", "registry", "list"]);
    let names: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["name=local", "name=main"], "highest priority first");
    let text = std::fs::read_to_string(ctx.pandora_home().join("registries.acl")).unwrap();
    assert!(pandora_common::files::RegistryList::parse(&text, "registries.acl").is_ok());
    let r = ctx.client(&["registry", "add", "bad", "ftp://x"]);
    assert_eq!(r.code, 2, "a usage error: {r:?}");
    assert!(
        r.stderr.contains("`ftp://x` is not a registry URL"),
        "{r:?}"
    );
    assert_eq!(ctx.client(&["registry", "remove", "main"]).code, 0);
    let r = ctx.client(&["registry", "remove", "main"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("hint: pandora registry list"), "{r:?}");
}

//! `pandora publish`: every answer a registry can give, said clearly.

use super::*;

/// One entry of `registries.acl`, written by hand for what `pandora registry add` does not set.
struct RegistryEntry<'a> {
    name: &'a str,
    url: String,
    priority: i64,
    allow_publish: bool,
    token_file: Option<&'a Path>,
}

fn write_registries(ctx: &Context, entries: &[RegistryEntry<'_>]) {
    let mut text = String::new();
    for e in entries {
        text.push_str(&format!(
            "Registry \"{}\" {{\n    string url = \"{}\";\n    int priority = {};\n    \
             bool allow_publish = {};\n    string cache_policy = \"ttl=3600\";\n",
            e.name, e.url, e.priority, e.allow_publish
        ));
        if let Some(t) = e.token_file {
            text.push_str(&format!("    string token_file = \"{}\";\n", t.display()));
        }
        text.push_str("}\n");
    }
    std::fs::create_dir_all(ctx.pandora_home()).unwrap();
    std::fs::write(ctx.pandora_home().join("registries.acl"), text).unwrap();
}

fn publish(ctx: &Context, file: &Path, registry: &str) -> Run {
    ctx.client(&["publish", file.to_str().unwrap(), "--registry", registry])
}

#[test]
fn publish_reports_each_registry_answer() {
    let ctx = Context::new();
    let reg = ctx.registry_of("pub", &[]);
    let token = ctx.write("token", "s3cret\n");
    let wrong = ctx.write("wrong-token", "guess\n");
    let server = ctx.serve_registry(&reg, &["--token-file", token.to_str().unwrap()]);
    let small = ctx.serve_registry(
        &reg,
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--max-body",
            "4096",
        ],
    );
    // A registry that answers 422 to a package both the daemon and pandora-registry accept.
    let odd = TestServer::start(&reg, |req, _| {
        if req.method == "POST" {
            Answer::Canned(
                422,
                "Error {\n    code = \"invalid-package\";\n    message = \"the registry's own policy refuses it\";\n}\n"
                    .into(),
            )
        } else {
            Answer::Serve
        }
    });
    let entry = |name, url: String, allow_publish, token_file| RegistryEntry {
        name,
        url,
        priority: 0,
        allow_publish,
        token_file,
    };
    write_registries(
        &ctx,
        &[
            entry("pub", server.url(""), true, Some(&token)),
            entry("badtoken", server.url(""), true, Some(&wrong)),
            entry("small", small.url(""), true, Some(&token)),
            entry("odd", odd.url(), true, Some(&token)),
            entry("closed", server.url(""), false, Some(&token)),
            entry("notoken", server.url(""), true, None),
        ],
    );
    let _d = ctx.start_daemon(&[]);
    let alpha = ctx.pack(&PkgSpec::new("alpha", "1.0.0"));
    let alpha_sha = sha256_file(&alpha);

    // 200 added.
    let r = publish(&ctx, &alpha, "pub");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        format!("result=\"published alpha@1.0.0 to `pub` (sha256 {alpha_sha})\"\n")
    );
    assert_eq!(indexed_sha(&reg, "alpha", "1.0.0"), alpha_sha);
    let index = std::fs::read(reg.join("index.acl")).unwrap();
    // 200 unchanged.
    let r = publish(&ctx, &alpha, "pub");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"alpha@1.0.0 was already published to `pub` with these exact bytes; nothing changed\"\n"
    );
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains(&format!(
            "publish alpha@1.0.0 sha256={alpha_sha} registry=pub status=added"
        )) && events.contains("status=unchanged"),
        "{events}"
    );

    let failures: Vec<(&str, PathBuf, &str)> = vec![
        // 403: wrong token.
        (
            "badtoken",
            alpha.clone(),
            "registry `badtoken` refused to publish alpha@1.0.0 with the token from",
        ),
        // 409: other bytes under a published version.
        (
            "pub",
            ctx.pack(&PkgSpec {
                payload: "# other bytes\n",
                ..PkgSpec::new("alpha", "1.0.0")
            }),
            "alpha@1.0.0 is already published to `pub` with other content",
        ),
        // 413: larger than --max-body.
        (
            "small",
            ctx.pack(&PkgSpec {
                payload: &noise("big", 32 << 10),
                ..PkgSpec::new("big", "1.0.0")
            }),
            "registry `small` refused big@1.0.0 as too large: the package is",
        ),
        // 422 from the registry.
        (
            "odd",
            ctx.pack(&PkgSpec::new("beta", "1.0.0")),
            "registry `odd` refused beta@1.0.0: the registry's own policy refuses it",
        ),
        // Refused locally: publishing is off, or there is no token.
        (
            "closed",
            ctx.pack(&PkgSpec::new("gamma", "1.0.0")),
            "registry `closed` does not allow publishing",
        ),
        (
            "notoken",
            ctx.pack(&PkgSpec::new("gamma", "1.0.0")),
            "registry `notoken` has no token_file",
        ),
        ("nowhere", alpha.clone(), "no registry is called `nowhere`"),
    ];
    for (registry, file, want) in &failures {
        let r = publish(&ctx, file, registry);
        assert_eq!(r.code, 1, "{registry}: {r:?}");
        let err = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error["))
            .unwrap_or("");
        assert!(err.contains(want), "{registry}: want {want:?} in {r:?}");
        assert_eq!(r.stdout, "", "{registry}: {r:?}");
    }
    // An invalid package never leaves this machine.
    let before = server.log();
    let r = publish(&ctx, &ranged_package(&ctx), "pub");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("ranged.pkg is not a valid package") && r.stderr.contains(">=1.0"),
        "{r:?}"
    );
    assert_eq!(
        server.log().matches("method=POST").count(),
        before.matches("method=POST").count()
    );
    // None of the refusals changed the registry.
    assert_eq!(std::fs::read(reg.join("index.acl")).unwrap(), index);
    assert!(!reg.join("index/big.acl").exists() && !reg.join("index/gamma.acl").exists());
}

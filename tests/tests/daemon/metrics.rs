//! `pandora metrics` (issue 13): local counts from the events log and the store beside the
//! registry's public counts; the registry counts an install only from a client that opted
//! in (`report_installs`); and `/metrics` in Prometheus' text format, read by Prometheus'
//! own parser (`prometheus_client`, from PyPI).

use super::*;

fn get(server: &pandora_tests::http::Server, path: &str) -> String {
    let r = pandora_tests::http::raw_get(server.addr(), path);
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    String::from_utf8(r.body).unwrap()
}

/// `installs = N;` of `version` in a registry's `/metrics.acl`.
fn reported(metrics: &str, version: &str) -> i64 {
    let doc = pandora_common::acl::parse(metrics, "metrics.acl").unwrap();
    doc.block("Metrics")
        .unwrap()
        .children("Package")
        .flat_map(|p| p.children("Version"))
        .find(|v| v.label.as_ref().is_some_and(|l| l.as_str() == version))
        .and_then(|v| v.field("installs"))
        .and_then(|f| f.value.as_int())
        .unwrap_or(-1)
}

#[test]
fn installs_reach_the_registry_only_with_opt_in_and_metrics_shows_both_sides() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("app", "2.0.0")],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    // Not opted in (the default): the registry sees the download, no install report.
    let r = ctx.client(&["install", "app@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let m = get(&server, "/metrics.acl");
    assert_eq!(reported(&m, "1.0.0"), 0, "{m}");
    assert!(
        !server.log().contains("/api/v1/installed"),
        "nothing was sent"
    );

    // Opted in: one anonymous report, and the registry's counter moves.
    let path = ctx.pandora_home().join("registries.acl");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("{\n", "{\n    bool report_installs = true;\n", 1);
    std::fs::write(&path, text).unwrap();
    let r = ctx.client(&["install", "app@2.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let m = get(&server, "/metrics.acl");
    assert_eq!(reported(&m, "2.0.0"), 1, "{m}");
    assert_eq!(reported(&m, "1.0.0"), 0, "{m}");
    // A report for a version the registry does not hold counts nothing.
    let r = pandora_tests::http::raw(
        server.addr(),
        b"POST /api/v1/installed HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nConnection: close\r\n\r\nghost@1.0",
    );
    assert_eq!(r.status, 404);

    // The local side: installs and activations per package and month, the store, and the
    // registry's counts beside them.
    let r = ctx.plain(&["metrics", "--refresh"]);
    assert_eq!(r.code, 0, "{r:?}");
    let month = {
        let out = Command::new("date")
            .args(["-u", "+%Y-%m"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert!(
        r.stdout.contains(&format!(
            "local month={month} package=app installs=2 activations=2 removals=0 publishes=0\n"
        )),
        "{r:?}"
    );
    assert!(r.stdout.contains("store entries=2 bytes="), "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("growth month={month} entries=2 bytes=")),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "registry registry=main package=app version=2.0.0 downloads=1 installs=1 publishes=0\n"
        ),
        "{r:?}"
    );
    // One package only, and a removal counted.
    let r = ctx.client(&["prune", "--generations", "--keep", "1"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.client(&["remove", "app@1.0.0", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.plain(&["metrics", "app"]);
    assert!(r.stdout.contains("removals=1"), "{r:?}");
    let r = ctx.plain(&["metrics", "other"]);
    assert!(!r.stdout.contains("local "), "{r:?}");
    assert!(r.stdout.contains("store entries=0 bytes=0\n"), "{r:?}");
    let r = ctx.plain(&["metrics", "app"]);
    assert!(r.stdout.contains("store entries=1 bytes="), "{r:?}");

    // Prometheus' own parser reads /metrics.
    let text = get(&server, "/metrics");
    let venv = pandora_tests::python_venv("prometheus-client", "prometheus_client==0.26.0");
    let script = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}\n\
        req = fams['pandora_registry_requests']\n\
        assert req.type == 'counter', req.type\n\
        codes = {s.labels['code'] for s in req.samples if s.name.endswith('_total')}\n\
        assert '200' in codes, codes\n\
        lat = fams['pandora_registry_request_duration_seconds']\n\
        assert lat.type == 'histogram', lat.type\n\
        count = [s.value for s in lat.samples if s.name.endswith('_count')][0]\n\
        inf = [s.value for s in lat.samples if s.labels.get('le') == '+Inf'][0]\n\
        assert count == inf and count > 0, (count, inf)\n\
        buckets = [s.value for s in lat.samples if s.name.endswith('_bucket')]\n\
        assert buckets == sorted(buckets), buckets\n\
        inst = fams['pandora_registry_installs_reported']\n\
        assert [s.value for s in inst.samples if s.name.endswith('_total')] == [1.0]\n\
        sent = fams['pandora_registry_sendfile_bytes']\n\
        assert sent.type == 'counter' and sent.samples[0].value > 0, sent\n\
        print(len(fams))\n";
    let out = pandora_tests::run_with_input(
        Command::new(venv.join("bin/python")).args(["-c", script]),
        &text,
    );
    assert!(
        out.status.success(),
        "the parser refused it: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "8", "{text}");
}

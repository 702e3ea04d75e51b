//! `GET /api/v1/search`.

use super::*;

fn search(client: &Client, server: &Server, query: &str) -> Vec<(String, i64)> {
    let r = client
        .get(server.url(&format!("/api/v1/search?{query}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    let doc = acl::parse(&text, "search").unwrap();
    let results = doc.block("Results").expect("a Results block");
    results
        .children("Hit")
        .map(|h| {
            assert!(h.field("version").is_some() && h.field("deprecated").is_some());
            (
                h.label.as_ref().unwrap().as_str().to_string(),
                h.field("rank").unwrap().value.as_int().unwrap(),
            )
        })
        .collect()
}

#[test]
fn search_ranks_exact_prefix_substring_then_tag() {
    let ctx = Context::new();
    let specs = [
        ("other", Some("something else"), &["tool"][..]),
        ("mytool", Some("mine"), &[][..]),
        ("toolkit", Some("a kit"), &[][..]),
        ("tool", Some("the one"), &[][..]),
        ("unrelated", Some("nothing"), &["misc"][..]),
    ];
    let pkgs: Vec<PathBuf> = specs
        .iter()
        .map(|(name, description, tags)| {
            pack(
                &ctx,
                &Spec {
                    name,
                    description: *description,
                    tags,
                    ..Spec::default()
                },
            )
        })
        .collect();
    let refs: Vec<&Path> = pkgs.iter().map(PathBuf::as_path).collect();
    let dir = registry(&ctx, &refs);
    let server = serve(&ctx, &dir, &[]);
    let client = client();
    let want = vec![
        ("tool".to_string(), 0),
        ("toolkit".to_string(), 1),
        ("mytool".to_string(), 2),
        ("other".to_string(), 3),
    ];
    assert_eq!(search(&client, &server, "q=tool"), want);
    assert_eq!(
        search(&client, &server, "q=%74ool"),
        want,
        "percent-decoded"
    );
    assert_eq!(search(&client, &server, "q=+tool+"), want, "`+` is a space");
    assert_eq!(search(&client, &server, "q=nope"), vec![]);
    let r = client.get(server.url("/api/v1/search")).send().unwrap();
    assert_eq!(r.status(), 400);

    // An update while serving shows up in the next search.
    let toolbox = pack(
        &ctx,
        &Spec {
            name: "toolbox",
            ..Spec::default()
        },
    );
    registry_tool(&["add".as_ref(), dir.as_os_str(), toolbox.as_os_str()]);
    let names: Vec<String> = search(&client, &server, "q=tool")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["tool", "toolbox", "toolkit", "mytool", "other"]);
}

//! ACL rules, one table row per case: every rule of ACL.md with a passing and a failing case,
//! errors checked for keyword, line and column.

use pandora_acl::{self as acl, Value};

/// Parses `src` and compares its dump with `want` (lines joined by `\n`).
#[track_caller]
fn ok(src: &str, want: &str) {
    match acl::parse(src, "t.acl") {
        Ok(doc) => {
            let got = doc.dump();
            let want: String = want
                .lines()
                .map(|l| format!("{}\n", l.trim_start()))
                .collect();
            assert_eq!(got, want, "dump of {src:?}");
        }
        Err(e) => panic!("{src:?} should parse, got:\n{e}"),
    }
}

/// Parses `src` and expects the error `keyword` at `line:col`.
#[track_caller]
fn err(src: &str, keyword: &str, line: u32, col: u32) {
    match acl::parse(src, "t.acl") {
        Ok(doc) => panic!("{src:?} should fail with {keyword}, got:\n{}", doc.dump()),
        Err(e) => {
            assert_eq!(
                (e.kind.keyword(), e.pos.line, e.pos.col),
                (keyword, line, col),
                "error for {src:?}:\n{e}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("t.acl:{line}:{col}: {keyword}: ")),
                "{e}"
            );
        }
    }
}

#[test]
fn lexical_bom_lines_columns() {
    ok("\u{feff}A { x = 1; }", "A.x = int:1");
    // Columns count characters: `é` is one column, a tab is one column.
    err("A { s = \"é\"; @ }", "unexpected-char", 1, 14);
    err("A {\n\tx = 1 }", "missing-semicolon", 2, 8);
    err("\u{feff}A { # }", "unexpected-char", 1, 5);
}

#[test]
fn lexical_comments() {
    ok(
        "// head\nA { /* in */ x /* between */ = 1; // tail\n}",
        "A.x = int:1",
    );
    ok(
        "A { s = \"// not a comment /* nor this\"; }",
        "A.s = string:\"// not a comment /* nor this\"",
    );
    err(
        "A { x = 1; }\n  /* never closed",
        "unterminated-comment",
        2,
        3,
    );
    err("A { x = 1; /* /* nested */ */ }", "syntax", 1, 28);
}

#[test]
fn lexical_identifiers_and_reserved_words() {
    ok(
        "A { x = 1; X = 2; _y9 = 3; }",
        "A.x = int:1\nA.X = int:2\nA._y9 = int:3",
    );
    err("A { int = 5; }", "syntax", 1, 9);
    err("A { string true = \"x\"; }", "syntax", 1, 12);
    err("9A { }", "bad-number", 1, 1);
}

#[test]
fn lexical_integers() {
    ok(
        "A { x = 0042; y = 9223372036854775807; z = -9223372036854775808; }",
        "A.x = int:42\nA.y = int:9223372036854775807\nA.z = int:-9223372036854775808",
    );
    err("A { x = 9223372036854775808; }", "int-overflow", 1, 9);
    err("A { x = 99999999999999999999999; }", "int-overflow", 1, 9);
}

#[test]
fn lexical_floats() {
    ok(
        "A { f = 3.25; g = 384.0; h = 0.1; }",
        "A.f = float:3.25\nA.g = float:384.0\nA.h = float:0.1",
    );
    err("A { f = 1.; }", "bad-number", 1, 9);
    err("A { f = 2.5e3; }", "bad-number", 1, 9);
    err("A { f = 12abc; }", "bad-number", 1, 9);
    err("A { f = 1.2.3; }", "bad-number", 1, 9);
    err("A { f = .5; }", "syntax", 1, 9);
    err("A { f = 0x10; }", "bad-number", 1, 9);
}

#[test]
fn lexical_minus_is_an_operator() {
    ok(
        "A { a = -5; b = - 5; x = 2; c = -(x); d = -2.5; e = 3 - -2; }",
        "A.a = int:-5\nA.b = int:-5\nA.x = int:2\nA.c = int:-2\nA.d = float:-2.5\nA.e = int:5",
    );
}

#[test]
fn lexical_strings() {
    ok(
        r#"A { s = "a\nb\tc\rd\\e\"f\'g\0h"; }"#,
        r#"A.s = string:"a\nb\tc\rd\\e\"f'g\0h""#,
    );
    ok("A { s = \"$ ^ <@> ünï\"; }", "A.s = string:\"$ ^ <@> ünï\"");
    err(r#"A { s = "bad \q escape"; }"#, "bad-escape", 1, 14);
    err("A { s = \"no end\n\"; }", "unterminated-string", 1, 9);
    err("A { s = \"no end", "unterminated-string", 1, 9);
}

#[test]
fn lexical_stray_characters() {
    err("A { c = 'x'; }", "unexpected-char", 1, 9);
    err("A { # x }", "unexpected-char", 1, 5);
    err("A { x = a@b; }", "unexpected-char", 1, 10);
    err("A { x = true & false; }", "unexpected-char", 1, 14);
    err("A { x = true | false; }", "unexpected-char", 1, 14);
}

#[test]
fn structure_blocks() {
    ok("", "");
    ok("  // only a comment\n", "");
    ok("A {}\nB \"lbl\" { }", "A = block:{}\nB[\"lbl\"] = block:{}");
    ok("A { B { C { x = 1; } } }", "A.B.C.x = int:1");
    err("x = 1;", "syntax", 1, 1);
    err("string x = \"a\";", "syntax", 1, 1);
    err("A \"a\" \"b\" { }", "syntax", 1, 7);
    err("A { };", "syntax", 1, 6);
    err("A { x = 1;", "syntax", 1, 11);
    err("A { B }", "syntax", 1, 7);
}

#[test]
fn structure_fields() {
    ok(
        "A { int i = 1; float f = 2.0; bool b = true; string s = \"x\"; string[] l = {\"a\", \"b\"}; }",
        "A.i = int:1\nA.f = float:2.0\nA.b = bool:true\nA.s = string:\"x\"\nA.l = string[]:[\"a\",\"b\"]",
    );
    err("A { ref[] r = $.x; x = 1; }", "syntax", 1, 8);
    err("A { int x 1; }", "syntax", 1, 11);
    err("A { x = 1 y = 2; }", "missing-semicolon", 1, 11);
    err("A { string s = \"x\"\n}", "missing-semicolon", 2, 1);
    err("A { x = 1 + ; }", "syntax", 1, 13);
}

#[test]
fn structure_arrays() {
    ok(
        "A { int[] e = {}; l = {1, 2, 3}; }",
        "A.e = int[]:[]\nA.l = int[]:[1,2,3]",
    );
    ok(
        "A { n = 2; l = {n, n * 2, $.n + 1}; }",
        "A.n = int:2\nA.l = int[]:[2,4,3]",
    );
    err("A { l = {1, 2,}; }", "syntax", 1, 15);
    err("A { l = {1, {2}}; }", "syntax", 1, 13);
    err("A { m = {a = 1}; }", "syntax", 1, 12);
    err("A { x = 1 + {2}; }", "syntax", 1, 13);
}

#[test]
fn types_declared_are_enforced() {
    ok(
        "A { float f = 3; float[] g = {1, 2.5}; }",
        "A.f = float:3.0\nA.g = float[]:[1.0,2.5]",
    );
    err("A { string m = 42; }", "type-mismatch", 1, 16);
    err("A { float version = \"1.0\"; }", "type-mismatch", 1, 21);
    err("A { int i = 1.5; }", "type-mismatch", 1, 13);
    err("A { bool b = 1; }", "type-mismatch", 1, 14);
    err("A { string[] l = {\"a\", 2}; }", "type-mismatch", 1, 24);
    err("A { int x = (1.5 + 1); }", "type-mismatch", 1, 13);
}

#[test]
fn types_scalar_array_mismatch() {
    err("A { int[] x = 5; }", "type-mismatch", 1, 15);
    err("A { int x = {1}; }", "type-mismatch", 1, 13);
    err("A { l = {1}; int x = $.l; }", "type-mismatch", 1, 22);
    ok(
        "A { l = {1, 2}; float[] f = $.l; }",
        "A.l = int[]:[1,2]\nA.f = float[]:[1.0,2.0]",
    );
}

#[test]
fn types_inferred_arrays() {
    ok(
        "A { m = {1, 2.5}; s = {\"a\"}; b = {true, false}; }",
        "A.m = float[]:[1.0,2.5]\nA.s = string[]:[\"a\"]\nA.b = bool[]:[true,false]",
    );
    err("A { m = {1, 2.5, \"x\"}; }", "type-mismatch", 1, 18);
    err("A { m = {\"x\", 1}; }", "type-mismatch", 1, 15);
    err("A { e = {}; }", "empty-array-type", 1, 9);
    err("A { l = {1}; m = {$.l}; }", "type-mismatch", 1, 19);
}

#[test]
fn types_ref_alias() {
    ok(
        "A { int n = 4; ref r = $.n; ref q = n; }",
        "A.n = int:4\nA.r = int:4\nA.q = int:4",
    );
    ok(
        "A { l = {\"a\"}; ref r = $.l; }",
        "A.l = string[]:[\"a\"]\nA.r = string[]:[\"a\"]",
    );
    err("A { ref r = 1; }", "type-mismatch", 1, 13);
    err("A { n = 1; ref r = $.n + 1; }", "type-mismatch", 1, 20);
}

#[test]
fn references_forms() {
    ok(
        "G { v = 1; } A { x = $G.v; B { y = ^x; C { z = ^^x + $.w; w = 10; } } }",
        "G.v = int:1\nA.x = int:1\nA.B.y = int:1\nA.B.C.z = int:11\nA.B.C.w = int:10",
    );
    ok("A { x = $B.y; } B { y = 2; }", "A.x = int:2\nB.y = int:2");
}

#[test]
fn references_labels_and_first_child() {
    let src = "Net { mirror \"default\" { url = \"a\"; } mirror \"eu\" { url = \"b\"; } }\n\
               U { d = $Net.mirror.url; e = $Net.mirror[\"eu\"].url; }\n\
               Tier \"gold\" { x = 1; } Tier \"free\" { x = 2; } T { g = $Tier[\"free\"].x; }";
    ok(
        src,
        "Net.mirror[\"default\"].url = string:\"a\"\nNet.mirror[\"eu\"].url = string:\"b\"\n\
             U.d = string:\"a\"\nU.e = string:\"b\"\nTier[\"gold\"].x = int:1\nTier[\"free\"].x = int:2\nT.g = int:2",
    );
}

#[test]
fn references_numeric_index_is_syntax() {
    err("A { l = {1}; x = $.l[0]; }", "syntax", 1, 22);
    err("A { B {} x = $A[\"a\"][\"b\"].y; }", "syntax", 1, 21);
}

#[test]
fn references_bare_identifiers() {
    ok(
        "A { name = \"W\"; greet = \"Hi \" + name; }",
        "A.name = string:\"W\"\nA.greet = string:\"Hi W\"",
    );
    err(
        "A { greet = \"Hi \" + nobody; }",
        "unresolved-reference",
        1,
        21,
    );
}

#[test]
fn references_unresolved() {
    err("A { x = $Nope.y; }", "unresolved-reference", 1, 9);
    err("A { x = $.nope; }", "unresolved-reference", 1, 9);
    err(
        "A { B \"l\" { y = 1; } x = $A.B[\"m\"].y; }",
        "unresolved-reference",
        1,
        26,
    );
    err("A { B { y = 1; } x = $.B; }", "unresolved-reference", 1, 22);
    err("A { x = ^^y; }", "unresolved-reference", 1, 9);
    err("A { x = $A; }", "unresolved-reference", 1, 9);
    // Every reference must resolve, even in a branch that is never evaluated.
    err(
        "A { x = true ? 1 : $.missing; }",
        "unresolved-reference",
        1,
        20,
    );
}

#[test]
fn references_final_value_and_own_block() {
    // The target's final value after conversion; refs inside the target resolve in its block.
    ok(
        "A { float f = 2; g = $.f; } B { v = 5; w = $.v * 2; } C { v = 100; r = $B.w; }",
        "A.f = float:2.0\nA.g = float:2.0\nB.v = int:5\nB.w = int:10\nC.v = int:100\nC.r = int:10",
    );
}

#[test]
fn references_cycles() {
    err("A { a = $.b; b = $.c; c = $.a; }", "reference-cycle", 1, 9);
    err(
        "A { x = 1; a = $.b + 1; b = 2 * $.a; }",
        "reference-cycle",
        1,
        16,
    );
    err("A { ref r = $.r; }", "reference-cycle", 1, 13);
    // A cycle only through a branch that is never taken is not evaluated.
    ok(
        "A { a = false ? $.b : 1; b = $.a; }",
        "A.a = int:1\nA.b = int:1",
    );
}

#[test]
fn expressions_precedence() {
    ok(
        "A { a = 1 + 2 * 3; b = (1 + 2) * 3; c = 10 - 4 - 3; d = true || false && false; \
        e = 1 < 2 == true; f = !false && true; g = 2 * -3; }",
        "A.a = int:7\nA.b = int:9\nA.c = int:3\nA.d = bool:true\nA.e = bool:true\nA.f = bool:true\nA.g = int:-6",
    );
    ok(
        "A { t = false ? 1 : true ? 2 : 3; u = 1 + 1 == 2 ? \"y\" : \"n\"; }",
        "A.t = int:2\nA.u = string:\"y\"",
    );
}

#[test]
fn expressions_arithmetic() {
    ok(
        "A { a = 7 / 2; b = -7 / 2; c = -7 % 3; d = 7 % -3; e = 7.0 / 2; f = 1 + 0.5; }",
        "A.a = int:3\nA.b = int:-3\nA.c = int:-1\nA.d = int:1\nA.e = float:3.5\nA.f = float:1.5",
    );
    err("A { x = 9223372036854775807 + 1; }", "int-overflow", 1, 29);
    err(
        "A { x = -9223372036854775808 * -1; }",
        "int-overflow",
        1,
        30,
    );
    err(
        "A { m = -9223372036854775808; x = -$.m; }",
        "int-overflow",
        1,
        35,
    );
    err("A { x = 1 / 0; }", "division-by-zero", 1, 11);
    err("A { x = 1 % 0; }", "division-by-zero", 1, 11);
    err("A { x = 1.0 / 0.0; }", "division-by-zero", 1, 13);
    err("A { x = 1.5 % 2; }", "type-mismatch", 1, 13);
    err(
        "A { big = 99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999.0; x = $.big * $.big; }",
        "float-overflow",
        1,
        327,
    );
}

#[test]
fn expressions_concatenation() {
    ok(
        "A { a = 1 + 2 + \"x\"; b = \"x\" + 1 + 2; c = \"v\" + 1.0; d = \"b\" + true; }",
        "A.a = string:\"3x\"\nA.b = string:\"x12\"\nA.c = string:\"v1.0\"\nA.d = string:\"btrue\"",
    );
}

#[test]
fn expressions_operand_rules() {
    ok(
        "A { a = 1 == 1.0; b = \"a\" != \"b\"; c = true == false; d = 2.5 >= 2; }",
        "A.a = bool:true\nA.b = bool:true\nA.c = bool:false\nA.d = bool:true",
    );
    err("A { x = \"a\" < \"b\"; }", "type-mismatch", 1, 13);
    err("A { x = 1 == \"1\"; }", "type-mismatch", 1, 11);
    err("A { x = 1 && true; }", "type-mismatch", 1, 11);
    err("A { x = !1; }", "type-mismatch", 1, 9);
    err("A { x = -\"s\"; }", "type-mismatch", 1, 9);
    err("A { x = 1 ? 2 : 3; }", "type-mismatch", 1, 11);
    err("A { x = true + 1; }", "type-mismatch", 1, 14);
    // Short-circuit: the right side is not evaluated.
    ok(
        "A { a = false && 1 / 0 == 1; b = true || 1 / 0 == 1; }",
        "A.a = bool:false\nA.b = bool:true",
    );
}

#[test]
fn expressions_casts_values() {
    ok(
        "A { a = (float)7 / 2; b = (int)3.9; c = (int)-3.9; d = (int)true; e = (int)\"42\"; \
        f = (float)\"2.5\"; g = (bool)0; h = (bool)\"true\"; i = (string)1.5; j = (string)7 + \"x\"; k = (int)\"-12\"; }",
        "A.a = float:3.5\nA.b = int:3\nA.c = int:-3\nA.d = int:1\nA.e = int:42\nA.f = float:2.5\nA.g = bool:false\n\
        A.h = bool:true\nA.i = string:\"1.5\"\nA.j = string:\"7x\"\nA.k = int:-12",
    );
    err("A { x = (int)\"4x\"; }", "bad-cast", 1, 9);
    err("A { x = (float)\"1e5\"; }", "bad-cast", 1, 9);
    err("A { x = (bool)\"yes\"; }", "bad-cast", 1, 9);
    err(
        "A { x = (int)99999999999999999999.0; }",
        "int-overflow",
        1,
        9,
    );
    err("A { l = {1}; x = (string)$.l; }", "type-mismatch", 1, 18);
    err("A { x = (ref)1; }", "syntax", 1, 10);
}

#[test]
fn expressions_array_operands() {
    err("A { l = {1}; x = $.l + 1; }", "type-mismatch", 1, 22);
    err("A { l = {true}; x = !$.l; }", "type-mismatch", 1, 21);
}

#[test]
fn duplicates() {
    err("A { x = 1; x = 2; }", "duplicate-field", 1, 12);
    err("A { x = 1; x { } }", "duplicate-field", 1, 12);
    err("A { x { } x = 1; }", "duplicate-field", 1, 11);
    // A typed field's error points at its name, not at its type keyword.
    err("A { int x = 1; int x = 2; }", "duplicate-field", 1, 20);
    err(
        "A { string[] s = {}; string[] s = {}; }",
        "duplicate-field",
        1,
        31,
    );
    err("A { x { } int x = 1; }", "duplicate-field", 1, 15);
    err(
        "A {\n    int x = 1;\n    float x = 2.0;\n}",
        "duplicate-field",
        3,
        11,
    );
    // Past 16 items the rules run through a map; the position is the same.
    let many: String = (0..20).map(|i| format!("f{i} = {i}; ")).collect();
    let src = format!("A {{ {many}int f3 = 1; }}");
    let col = src.find("f3 = 1").expect("the duplicate") as u32 + 1;
    err(&src, "duplicate-field", 1, col);
    err("A \"a\" { } A \"a\" { }", "duplicate-block", 1, 11);
    err("A { B \"b\" { } B \"b\" { } }", "duplicate-block", 1, 15);
    ok(
        "A { } A { } A \"a\" { } A \"b\" { x = 1; }",
        "A[0] = block:{}\nA[1] = block:{}\nA[\"a\"] = block:{}\nA[\"b\"].x = int:1",
    );
}

#[test]
fn earliest_semantic_error_wins() {
    // `a` is evaluated first and pulls in `c`'s error, but `b`'s error comes earlier in the file.
    err(
        "A { a = $.c; b = 1 / 0; c = \"x\" - 1; }",
        "division-by-zero",
        1,
        20,
    );
    // A syntax error stops parsing, whatever comes before it semantically.
    err("A { x = 1 / 0; y = ; }", "syntax", 1, 20);
}

#[test]
fn lookup_paths() {
    let doc = acl::parse(
        "Registry { Package \"mytool\" { latest = \"1.0.0\"; Version \"1.0.0\" { string[] d = {\"a@1\", \"b@2\"}; } } }\n\
         R { } R { n = 3; f = 2; }",
        "t.acl",
    )
    .unwrap();
    let get = |p: &str| doc.get(p).unwrap();
    assert_eq!(
        get("Registry.Package[\"mytool\"].latest"),
        Some(Value::Str("1.0.0".into()))
    );
    assert_eq!(
        get("Registry.Package.latest"),
        Some(Value::Str("1.0.0".into()))
    );
    assert_eq!(
        get("Registry.Package[\"mytool\"].Version[\"1.0.0\"].d[1]"),
        Some(Value::Str("b@2".into()))
    );
    assert_eq!(
        get("Registry.Package[0].Version[0].d[0]"),
        Some(Value::Str("a@1".into()))
    );
    assert_eq!(get("R[1].n"), Some(Value::Int(3)));
    assert_eq!(get("R.n"), None);
    assert_eq!(get("Registry.Package[\"other\"].latest"), None);
    assert_eq!(
        get("Registry.Package[\"mytool\"].Version[\"1.0.0\"].d[5]"),
        None
    );
    assert_eq!(get("Registry.Package"), None);
    assert_eq!(doc.get("R[1].f").unwrap().unwrap().as_float(), Some(2.0));
    assert!(doc.get("Registry..x").is_err());
    assert!(doc.get("$Registry.x").is_err());
    assert!(doc.get("R[x].n").is_err());
}

#[test]
fn dump_format_values() {
    ok(
        "A { s = \"q\\\"\\\\ \\t\"; f = 1.0; g = 0.30000000000000004; n = -3; e = {1.5, 2}; }",
        "A.s = string:\"q\\\"\\\\ \\t\"\nA.f = float:1.0\nA.g = float:0.30000000000000004\nA.n = int:-3\nA.e = float[]:[1.5,2.0]",
    );
    ok(
        "B { C {} C { x = 1; } C \"l\" {} D {} }",
        "B.C[0] = block:{}\nB.C[1].x = int:1\nB.C[\"l\"] = block:{}\nB.D = block:{}",
    );
}

#[test]
fn error_display_has_source_line_and_caret() {
    let e = acl::parse("A {\n\tstring s = 42;\n}", "dir/m.acl").unwrap_err();
    assert_eq!(
        e.to_string(),
        "dir/m.acl:2:13: type-mismatch: expected string, found int\n\tstring s = 42;\n\t           ^"
    );
}

#[test]
fn issue9_a_long_line_is_shown_around_the_error_only() {
    // One 200,000-character line with a type error in its middle.
    let pad = "x".repeat(100_000);
    let src = format!("A {{ string a = \"{pad}\"; int n = \"oops\"; string b = \"{pad}\"; }}");
    let e = acl::parse(&src, "long.acl").unwrap_err();
    let col = src.find("\"oops\"").unwrap() + 1;
    assert!(
        e.headline()
            .starts_with(&format!("long.acl:1:{col}: type-mismatch")),
        "the headline keeps the true column: {}",
        e.headline()
    );
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].chars().count() <= 162,
        "{} chars shown",
        lines[1].len()
    );
    assert!(
        lines[1].starts_with('…') && lines[1].ends_with('…'),
        "{}",
        lines[1]
    );
    // The caret stands under the start of the offending value in the excerpt.
    let caret = lines[2].chars().count() - 1;
    let under: String = lines[1].chars().skip(caret).take(6).collect();
    assert_eq!(under, "\"oops\"", "{text}");
}

#[test]
fn atlaslinux_index_shape() {
    let src = "Registry {\n    string url = \"https://atlaslinux.github.io/AtlasLinux/pandora/index.acl\";\n    int priority = 100;\n    bool require_signatures = false;\n    string cache_policy = \"ttl=3600\";\n\n    /* mytool package */\n    Package \"mytool\" {\n        string[] versions = { \"1.0.0\" };\n        string latest = \"1.0.0\";\n        string pkg_base_url = \"\";\n\n        Version \"1.0.0\" {\n            string manifest_url = \"https://atlaslinux.github.io/x/manifest.acl\";\n            string pkg_url = \"https://atlaslinux.github.io/releases/download/mytool-1.0.0/mytool-1.0.0.pkg\";\n            string sha256 = \"b6dc229457732c0d0fe018961825d89704fd6ff49a2774d7c63a933765f84f91\";\n            bool deprecated = false;\n        }\n\n    }\n\n}\n";
    let doc = acl::parse(src, "index.acl").unwrap();
    assert_eq!(
        doc.get("Registry.Package[\"mytool\"].Version[\"1.0.0\"].sha256")
            .unwrap(),
        Some(Value::Str(
            "b6dc229457732c0d0fe018961825d89704fd6ff49a2774d7c63a933765f84f91".into()
        ))
    );
}

#[test]
fn atlaslinux_manifest_and_hook_shapes() {
    let manifest = "manifest {\n    string name = \"mytool\";\n    string version = \"3.0.0\";\n    string arch = \"x86_64\";\n    string[] authors = { \"CI Builder <ci@example.com>\" };\n    string license = \"MIT\";\n    string[] dependencies = { \"libfoo@1.0.0\" };\n    string[] install_hooks = { \"hooks/preinstall.acl\", \"hooks/postinstall.acl\" };\n    build_meta {\n        builder = \"mpt\";\n        commit = \"abcdef0123456789\";\n        date = \"2025-10-12\";\n    }\n    string archive_sha256 = \"03909b5b\";\n    string pkg_format = \"pandora-v1\";\n}";
    let doc = acl::parse(manifest, "manifest.acl").unwrap();
    assert_eq!(
        doc.get("manifest.build_meta.builder").unwrap(),
        Some(Value::Str("mpt".into()))
    );
    let hook = "preinstall {\n    string action = \"warn\";\n    string msg = \"Backing up config before installing mytool\";\n}";
    let doc = acl::parse(hook, "hooks/preinstall.acl").unwrap();
    assert_eq!(
        doc.get("preinstall.action").unwrap(),
        Some(Value::Str("warn".into()))
    );
}

#[test]
fn atlaslinux_conf_with_expressions() {
    // The shapes of atlas `src/conf/*.acl` and the language README: labels with dots and
    // slashes, bare identifiers, `$`/`^` references, expressions, trailing comments, no final
    // newline.
    let src = "System \"atlas/core.v1\" {\n    string hostname = \"atlas\"; // the machine\n    int cores = 2;\n    Service \"net.d\" {\n        bool enabled = true;\n        int workers = ^cores * 2;\n        string banner = \"Hi \" + ^hostname + \" <@> $HOME\";\n    }\n}\nUser { name = \"w\"; greeting = \"Hi \" + name; limit = $System[\"atlas/core.v1\"].Service[\"net.d\"].workers > 3 ? \"big\" : \"small\"; }";
    ok(
        src,
        "System[\"atlas/core.v1\"].hostname = string:\"atlas\"\nSystem[\"atlas/core.v1\"].cores = int:2\n\
             System[\"atlas/core.v1\"].Service[\"net.d\"].enabled = bool:true\n\
             System[\"atlas/core.v1\"].Service[\"net.d\"].workers = int:4\n\
             System[\"atlas/core.v1\"].Service[\"net.d\"].banner = string:\"Hi atlas <@> $HOME\"\n\
             User.name = string:\"w\"\nUser.greeting = string:\"Hi w\"\nUser.limit = string:\"big\"",
    );
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let src = format!("A {{ x = {}1{}; }}", "(".repeat(5000), ")".repeat(5000));
    let e = acl::parse(&src, "t.acl").unwrap_err();
    assert_eq!(e.kind.keyword(), "syntax");
    let src = format!("{}{}", "A { ".repeat(5000), "}".repeat(5000));
    assert_eq!(
        acl::parse(&src, "t.acl").unwrap_err().kind.keyword(),
        "syntax"
    );
    let src = format!("A {{ x = {}1; }}", "-".repeat(5000));
    assert_eq!(
        acl::parse(&src, "t.acl").unwrap_err().kind.keyword(),
        "syntax"
    );
}

/// Expects `src` to fail with `keyword` through every entry point that evaluates it or prints
/// it (check, dump and fmt in the CLI), without overflowing the stack.
#[track_caller]
fn refused_everywhere(src: &str, keyword: &str) -> acl::Error {
    let e = acl::parse(src, "t.acl").expect_err("parse must refuse");
    assert_eq!(e.kind.keyword(), keyword, "{}", e.headline());
    let t = acl::parse_with_tree(src, "t.acl").expect_err("the tree path must refuse");
    assert_eq!(t.headline(), e.headline());
    let f = acl::format(src, "t.acl").expect_err("format must refuse");
    assert_eq!(f.headline(), e.headline());
    e
}

#[test]
fn doubling_strings_hits_the_value_cap() {
    // 1 KB of source that would compute 2^41 bytes.
    let mut src = String::from("R {\n    x0 = \"ab\";\n");
    for i in 1..=40 {
        src.push_str(&format!("    x{i} = x{} + x{};\n", i - 1, i - 1));
    }
    src.push('}');
    assert!(src.len() < 1200);
    // x20 would be 2 MiB long; it is on line 22, its `+` in column 15.
    let e = refused_everywhere(&src, "value-too-large");
    assert_eq!((e.pos.line, e.pos.col), (22, 15), "{e}");
    assert!(e.message.contains("2097152 bytes"), "{e}");
}

#[test]
fn long_operator_chains_are_too_deep_not_a_stack_overflow() {
    let chain = |terms: usize| format!("A {{ x = 1{}; }}", " + 1".repeat(terms - 1));
    // 256 operators are fine; the 257th `+` is refused where it stands.
    ok(&chain(257), "A.x = int:257");
    let e = refused_everywhere(&chain(20_000), "too-deep");
    assert_eq!((e.pos.line, e.pos.col), (1, 4 * 257 + 7), "{e}");
    assert!(acl::format_syntax(&chain(20_000), "t.acl").is_err());
    // With references the document takes the tree path; the cap is the same.
    let src = format!("A {{ y = 1; x = y{}; }}", " + y".repeat(20_000));
    refused_everywhere(&src, "too-deep");
    // Parentheses do not reset the count.
    let mut e = format!("1{}", " * 1".repeat(200));
    for _ in 0..3 {
        e = format!("({e}){}", " - 1".repeat(200));
    }
    refused_everywhere(&format!("A {{ x = {e}; }}"), "too-deep");
    // Nor do ternaries, unary operators or casts around a deep operand.
    let deep = format!("1{}", " + 1".repeat(200));
    let more = " + 1".repeat(60);
    for wrapped in [
        format!("-({deep})"),
        format!("(int)({deep})"),
        format!("(true ? 0 : ({deep}))"),
        format!("!({deep} > 0)"),
    ] {
        refused_everywhere(&format!("A {{ x = {wrapped}{more}; }}"), "too-deep");
    }
}

#[test]
fn references_copying_too_much_hit_the_budget() {
    // Each `big` copies 512 KiB; the 129th copy passes the 64 MiB budget.
    let mut src = format!("R {{\n    big = \"{}\";\n", "a".repeat(512 << 10));
    for i in 0..200 {
        src.push_str(&format!("    x{i} = big;\n"));
    }
    src.push('}');
    let e = acl::parse(&src, "t.acl").expect_err("over budget");
    assert_eq!(
        (e.kind.keyword(), e.pos.line, e.pos.col),
        ("budget-exceeded", 131, 12),
        "{}",
        e.headline()
    );
    // Concatenations count too.
    let mut src = format!("R {{\n    big = \"{}\";\n", "a".repeat(512 << 10));
    for i in 0..200 {
        src.push_str(&format!(
            "    string x{i} = \"{i}\" + \"{}\";\n",
            "b".repeat(400 << 10)
        ));
    }
    src.push('}');
    assert_eq!(
        acl::parse(&src, "t.acl").unwrap_err().kind.keyword(),
        "budget-exceeded"
    );
}

#[test]
fn many_references_resolve_in_linear_time() {
    let start = std::time::Instant::now();
    let mut src = String::from("R {\n    y = 1;\n");
    for i in 0..40_000 {
        src.push_str(&format!("    x{i} = $.y;\n"));
    }
    src.push('}');
    let doc = acl::parse(&src, "t.acl").expect("parse");
    assert_eq!(doc.get("R.x39999").unwrap(), Some(Value::Int(1)));

    let mut src = String::from("B0 { x = 1; }\n");
    for i in 1..100_000 {
        src.push_str(&format!("B{i} {{ x = $B{}.x + 1; }}\n", i - 1));
    }
    let doc = acl::parse(&src, "t.acl").expect("parse");
    assert_eq!(doc.get("B99999.x").unwrap(), Some(Value::Int(100_000)));
    // Quadratic resolution took close to a minute here; linear takes well under a second.
    let elapsed = start.elapsed();
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
}

#[test]
fn data_files_take_literals_only() {
    let doc = acl::parse_data(
        "A { x = -1; string[] y = { \"a\", \"b\" }; z = -2.5; b = true; float f = 3; e = {}; }",
        "t.acl",
    );
    // `e = {}` has no type to infer; everything else is a literal.
    assert_eq!(doc.unwrap_err().kind.keyword(), "empty-array-type");
    let doc = acl::parse_data(
        "A { x = -1; string[] y = { \"a\", \"b\" }; z = -2.5; b = true; float f = 3; int[] e = {}; }",
        "t.acl",
    )
    .expect("literals");
    assert_eq!(doc.get("A.f").unwrap(), Some(Value::Float(3.0)));
    for (src, col) in [
        ("A { x = \"a\" + \"b\"; }", 9),
        ("A { x = (1); }", 9),
        ("A { x = (int)\"1\"; }", 9),
        ("A { x = !true; }", 9),
        ("A { x = +1; }", 9),
        ("A { x = $.y; y = 1; }", 9),
        ("A { y = 1; x = y; }", 16),
        ("A { x = true ? 1 : 2; }", 9),
        ("A { int[] x = { 1, 1 + 1 }; }", 20),
    ] {
        let e = acl::parse_data(src, "t.acl").expect_err(src);
        assert_eq!(
            (e.kind.keyword(), e.pos.line, e.pos.col),
            ("expression-not-allowed", 1, col),
            "{src}: {}",
            e.headline()
        );
        assert!(acl::parse(src, "t.acl").is_ok(), "{src}");
    }
}

#[test]
fn deep_expressions_chained_through_references_are_too_deep() {
    // Each field's reference sits under 250 operators, and leads to the next field: a chain
    // of references multiplies the parser's per-expression bound.
    let ops = " + 1".repeat(250);
    let mut src = String::from("R {\n");
    for i in 0..150 {
        src.push_str(&format!("    x{i} = x{}{ops};\n", i + 1));
    }
    src.push_str("    x150 = 1;\n}");
    let e = acl::parse(&src, "t.acl").expect_err("too deep");
    assert_eq!(e.kind.keyword(), "too-deep", "{}", e.headline());
    // A long chain of plain references still works, in any order.
    let mut src = String::from("R {\n");
    for i in 0..190 {
        src.push_str(&format!("    x{i} = x{} + 1;\n", i + 1));
    }
    src.push_str("    x190 = 0;\n}");
    let doc = acl::parse(&src, "t.acl").expect("a chain of 190 references");
    assert_eq!(doc.get("R.x0").unwrap(), Some(Value::Int(190)));
    // The reference limit itself, with the deepest stack per level: a bare reference under
    // a cast, a ternary and parentheses.
    let chain = |n: usize| {
        let mut src = String::from("R {\n");
        for i in 0..n {
            src.push_str(&format!("    x{i} = true ? ((int)(x{})) : 0;\n", i + 1));
        }
        src.push_str(&format!("    x{n} = 7;\n}}"));
        src
    };
    let e = acl::parse(&chain(300), "t.acl").expect_err("too long a chain");
    assert!(
        ["reference-cycle", "too-deep"].contains(&e.kind.keyword()),
        "{}",
        e.headline()
    );
    let doc = acl::parse(&chain(70), "t.acl").expect("a chain of 70 references");
    assert_eq!(doc.get("R.x0").unwrap(), Some(Value::Int(7)));
}

//! Property tests of the ACL implementation: the canonical printer round trip, and an
//! arbitrary-input harness for the parser (the stable-Rust stand-in for a fuzz target; CI runs
//! a bounded number of cases).

use pandora_acl as acl;
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("name"),
        Just("x_1"),
        Just("Z")
    ]
    .prop_map(String::from)
}

fn string_lit() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a".to_string()),
            Just("é".to_string()),
            Just(" ".to_string()),
            Just("\\n".to_string()),
            Just("\\\"".to_string()),
            Just("\\\\".to_string()),
            Just("\\t".to_string()),
            Just("\\0".to_string()),
            Just("\\'".to_string()),
            Just("$x".to_string()),
            Just("// no comment".to_string()),
            Just("/*".to_string()),
        ],
        0..5,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..1000).prop_map(|n| n.to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        (0u32..1000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
        string_lit(),
        Just("true".to_string()),
        Just("false".to_string()),
        ident(),
        ident().prop_map(|i| format!("$.{i}")),
        ident().prop_map(|i| format!("^{i}")),
        ident().prop_map(|i| format!("$Top.{i}")),
        ident().prop_map(|i| format!("$Top.Inner[\"l\"].{i}")),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    atom().prop_recursive(4, 24, 3, |inner| {
        let op = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("=="),
            Just("!="),
            Just("<"),
            Just(">"),
            Just("<="),
            Just(">="),
            Just("&&"),
            Just("||")
        ];
        let cast = prop_oneof![Just("int"), Just("float"), Just("bool"), Just("string")];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            (inner.clone(), op_free_space(), inner.clone())
                .prop_map(|(a, s, b)| format!("{a}{s}-{s}{b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("!{a}")),
            inner.clone().prop_map(|a| format!("+ {a}")),
            (cast, inner.clone()).prop_map(|(c, a)| format!("({c}){a}")),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| format!("{c} ? {a} : {b}")),
        ]
    })
}

fn op_free_space() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("  /* c */ ")]
}

fn field() -> impl Strategy<Value = String> {
    let ty = prop_oneof![
        Just(""),
        Just("int "),
        Just("float "),
        Just("bool "),
        Just("string "),
        Just("int[] "),
        Just("float[] "),
        Just("string[] "),
        Just("ref ")
    ];
    let value = prop_oneof![
        3 => expr(),
        1 => proptest::collection::vec(expr(), 0..4).prop_map(|v| format!("{{{}}}", v.join(", "))),
    ];
    let comment = prop_oneof![Just(""), Just(" // trailing"), Just(" /* after */")];
    (ty, ident(), value, comment).prop_map(|(t, n, v, c)| format!("{t}{n} = {v};{c}"))
}

fn block(depth: u32) -> BoxedStrategy<String> {
    let label = prop_oneof![
        Just(String::new()),
        Just(" \"l\"".to_string()),
        Just(" \"a.b/c\"".to_string())
    ];
    let name = prop_oneof![Just("Inner"), Just("Sub"), Just("Version")];
    let leaf = proptest::collection::vec(field(), 0..4);
    let items: BoxedStrategy<Vec<String>> = if depth == 0 {
        leaf.boxed()
    } else {
        proptest::collection::vec(prop_oneof![3 => field(), 1 => block(depth - 1)], 0..5).boxed()
    };
    let lead = prop_oneof![
        Just(""),
        Just("// lead\n"),
        Just("\n/* block\n comment */\n")
    ];
    (lead, name, label, items)
        .prop_map(|(lead, n, l, items)| format!("{lead}{n}{l} {{\n{}\n}}", items.join("\n")))
        .boxed()
}

fn document() -> impl Strategy<Value = String> {
    (
        block(2),
        proptest::collection::vec(block(1), 0..3),
        prop_oneof![Just(""), Just("\n// end")],
    )
        .prop_map(|(top, rest, tail)| {
            // The first block is `Top` so that `$Top...` references can resolve.
            let top = top
                .replacen("Inner", "Top", 1)
                .replacen("Sub", "Top", 1)
                .replacen("Version", "Top", 1);
            format!("{top}\n{}{tail}", rest.join("\n\n"))
        })
}

/// Well-typed expressions, so that most generated documents are valid and the round trip is
/// checked on resolved values too. `$Top...` references point into the fixed preamble.
fn typed_expr(ty: u8) -> BoxedStrategy<String> {
    let leaf: BoxedStrategy<String> = match ty {
        0 => prop_oneof![
            (0i64..60).prop_map(|n| n.to_string()),
            Just("$Top.i".to_string()),
            Just("$Top.Inner[\"l\"].j".to_string()),
            Just("-9223372036854775808 + 5".to_string())
        ]
        .boxed(),
        1 => prop_oneof![
            (0u32..100, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
            Just("$Top.f".to_string())
        ]
        .boxed(),
        2 => prop_oneof![
            Just("true".to_string()),
            Just("false".to_string()),
            Just("$Top.b".to_string())
        ]
        .boxed(),
        _ => prop_oneof![string_lit(), Just("$Top.s".to_string())].boxed(),
    };
    leaf.prop_recursive(3, 16, 2, move |_| {
        let i = || typed_expr_flat(0);
        let f = || typed_expr_flat(1);
        let b = || typed_expr_flat(2);
        let st = || typed_expr_flat(3);
        match ty {
            0 => prop_oneof![
                (
                    i(),
                    prop_oneof![Just("+"), Just("-"), Just("*"), Just("%")],
                    i()
                )
                    .prop_map(|(a, o, c)| format!("{a} {o} ({c} + 1)")),
                i().prop_map(|a| format!("-({a})")),
                f().prop_map(|a| format!("(int){a}")),
                (b(), i(), i()).prop_map(|(c, a, d)| format!("{c} ? {a} : {d}")),
            ]
            .boxed(),
            1 => prop_oneof![
                (f(), prop_oneof![Just("+"), Just("-"), Just("*")], i())
                    .prop_map(|(a, o, c)| format!("{a} {o} {c}")),
                i().prop_map(|a| format!("(float){a} / 4")),
                f().prop_map(|a| format!("-{a}")),
            ]
            .boxed(),
            2 => prop_oneof![
                (
                    i(),
                    prop_oneof![Just("<"), Just(">="), Just("=="), Just("!=")],
                    f()
                )
                    .prop_map(|(a, o, c)| format!("{a} {o} {c}")),
                (b(), prop_oneof![Just("&&"), Just("||"), Just("==")], b())
                    .prop_map(|(a, o, c)| format!("{a} {o} {c}")),
                b().prop_map(|a| format!("!({a})")),
                (st(), st()).prop_map(|(a, c)| format!("{a} != {c}")),
            ]
            .boxed(),
            _ => prop_oneof![
                (st(), i()).prop_map(|(a, c)| format!("{a} + {c}")),
                (i(), f(), st()).prop_map(|(a, c, d)| format!("{a} + {c} + {d}")),
                b().prop_map(|a| format!("(string)({a})")),
            ]
            .boxed(),
        }
    })
    .boxed()
}

/// One level of typed expression, without further recursion.
fn typed_expr_flat(ty: u8) -> BoxedStrategy<String> {
    match ty {
        0 => prop_oneof![
            (0i64..60).prop_map(|n| n.to_string()),
            Just("$Top.i".to_string())
        ]
        .boxed(),
        1 => prop_oneof![
            (0u32..100, 1u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
            Just("$Top.f".to_string())
        ]
        .boxed(),
        2 => prop_oneof![
            Just("true".to_string()),
            Just("$Top.b".to_string()),
            Just("1 < 2".to_string())
        ]
        .boxed(),
        _ => prop_oneof![string_lit(), Just("$Top.s".to_string())].boxed(),
    }
}

fn typed_field(n: usize) -> impl Strategy<Value = String> {
    let names = ["int", "float", "bool", "string"];
    (
        0u8..4,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(""), Just(" // t")],
    )
        .prop_flat_map(move |(ty, declared, array, c)| {
            let decl = if declared {
                format!("{}{} ", names[ty as usize], if array { "[]" } else { "" })
            } else {
                String::new()
            };
            let value = if array {
                proptest::collection::vec(typed_expr(ty), 1..4)
                    .prop_map(|v| format!("{{{}}}", v.join(", ")))
                    .boxed()
            } else {
                typed_expr(ty)
            };
            value.prop_map(move |v| format!("{decl}f{n} = {v};{c}"))
        })
}

fn typed_block(depth: u32, idx: usize) -> BoxedStrategy<String> {
    let fields = (0usize..5).prop_flat_map(|k| (0..k).map(typed_field).collect::<Vec<_>>());
    let children: BoxedStrategy<Vec<String>> = if depth == 0 {
        Just(Vec::new()).boxed()
    } else {
        (0usize..3)
            .prop_flat_map(move |k| {
                (0..k)
                    .map(|i| typed_block(depth - 1, i))
                    .collect::<Vec<_>>()
            })
            .boxed()
    };
    let label = prop_oneof![
        Just(format!(" \"b{idx}\"")),
        Just(format!(" \"x.{idx}/y\""))
    ];
    (fields, children, label)
        .prop_map(|(f, c, l)| format!("Block{l} {{\n{}\n{}\n}}", f.join("\n"), c.join("\n\n")))
        .boxed()
}

fn typed_document() -> impl Strategy<Value = String> {
    proptest::collection::vec((0usize..1000).prop_flat_map(|i| typed_block(2, i)), 0..3).prop_map(|blocks| {
        let preamble = "Top { int i = 3; float f = 1.5; string s = \"s\"; bool b = true; Inner \"l\" { int j = 4; } }";
        let mut seen = std::collections::HashSet::new();
        let blocks: Vec<String> = blocks.into_iter().filter(|b| seen.insert(b.lines().next().map(String::from))).collect();
        format!("{preamble}\n\n{}", blocks.join("\n"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Printing then parsing gives the same document, and printing is a fixpoint.
    #[test]
    fn canonical_printer_round_trip(src in prop_oneof![document(), typed_document()]) {
        let syntax_ok = acl::format_syntax(&src, "p.acl");
        let parsed = acl::parse(&src, "p.acl");
        match syntax_ok {
            Err(e) => {
                // A syntax error: the full parser reports the same error.
                prop_assert_eq!(parsed.unwrap_err(), e);
            }
            Ok(printed) => {
                let again = acl::format_syntax(&printed, "p.acl").expect("printed text parses");
                prop_assert_eq!(&again, &printed, "printing is not a fixpoint for {}", src);
                let reparsed = acl::parse(&printed, "p.acl");
                match (parsed, reparsed) {
                    (Ok(a), Ok(b)) => {
                        prop_assert_eq!(a.dump(), b.dump());
                        // Resolved documents print as typed literals and read back the same.
                        let c = acl::parse(&a.to_source(), "p.acl").expect("to_source parses");
                        prop_assert_eq!(a.dump(), c.dump());
                        // They are data: Pandora reads the files it writes without evaluating.
                        let d = acl::parse_data(&a.to_source(), "p.acl").expect("to_source is data");
                        prop_assert_eq!(a.dump(), d.dump());
                        prop_assert_eq!(acl::format(&src, "p.acl").unwrap(), printed);
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a.kind, b.kind),
                    (a, b) => prop_assert!(false, "validity changed by printing: {:?} vs {:?}\n{}\n---\n{}", a.err(), b.err(), src, printed),
                }
            }
        }
    }

    /// The direct builder (documents without references) and the syntax tree agree on every
    /// document: the same dump, or the same error.
    #[test]
    fn direct_and_tree_paths_agree(src in prop_oneof![document(), typed_document()]) {
        let direct = acl::parse(&src, "p.acl").map(|d| d.dump());
        let tree = acl::parse_with_tree(&src, "p.acl").map(|d| d.dump());
        prop_assert_eq!(direct, tree);
        // The same document with the preamble's references replaced by their values, so that
        // typed documents take the direct path.
        let plain = src
            .replace("$Top.Inner[\"l\"].j", "4")
            .replace("$Top.i", "3")
            .replace("$Top.f", "1.5")
            .replace("$Top.s", "\"s\"")
            .replace("$Top.b", "true");
        let direct = acl::parse(&plain, "p.acl").map(|d| d.dump());
        let tree = acl::parse_with_tree(&plain, "p.acl").map(|d| d.dump());
        prop_assert_eq!(direct, tree);
    }

    /// Arbitrary text never panics the parser, and every error points inside the text.
    #[test]
    fn parser_survives_arbitrary_input(src in proptest::collection::vec(
        prop_oneof![
            Just("A"), Just("{"), Just("}"), Just(" "), Just("\n"), Just("="), Just(";"), Just("x"), Just("\""),
            Just("\\"), Just("1"), Just("."), Just("2.5"), Just("$"), Just("^"), Just("["), Just("]"), Just("("),
            Just(")"), Just("int"), Just("ref"), Just("[]"), Just("/*"), Just("*/"), Just("//"), Just("-"),
            Just("+"), Just("?"), Just(":"), Just("&&"), Just("é"), Just("\t"), Just("'"), Just(","), Just("!"),
            Just("9999999999999999999"), Just("\"l\"")
        ], 0..60).prop_map(|v| v.concat()))
    {
        match acl::parse(&src, "f.acl") {
            Ok(doc) => {
                let _ = doc.dump();
            }
            Err(e) => {
                let lines = src.split('\n').count() as u32;
                prop_assert!(e.pos.line >= 1 && e.pos.line <= lines, "{e}");
                prop_assert!(e.pos.col >= 1);
                let _ = e.to_string();
            }
        }
    }

    /// Random bytes, not just tokens.
    #[test]
    fn parser_survives_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let src = String::from_utf8_lossy(&bytes);
        let _ = acl::parse(&src, "f.acl").map(|d| d.dump());
    }
}

//! `pandora graph`: a package's dependency tree for a profile, as a tree for people (shared
//! subtrees drawn once, then referred to), as `key=value` lines, or as Graphviz (`--dot`);
//! then the problems and the commands that fix them.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::ExitCode;

use owo_colors::OwoColorize;
use pandora_proto::v1::{GraphNode, GraphReply, GraphRequest};

use crate::client::{self, status_failure};
use crate::output::{Printer, clean, quote};
use crate::{Outcome, print_out};

/// What `pandora graph` was asked.
pub(crate) struct GraphArgs {
    pub(crate) package: String,
    pub(crate) profile: String,
    pub(crate) refresh: bool,
    pub(crate) dot: bool,
}

pub(crate) async fn graph(p: &Printer, c: &mut client::Client, args: GraphArgs) -> Outcome {
    let reply = c
        .graph(GraphRequest {
            package: args.package,
            profile: args.profile,
            refresh: args.refresh,
        })
        .await
        .map_err(status_failure)?
        .into_inner();
    let text = if args.dot {
        dot(&reply)
    } else if p.plain {
        plain(&reply)
    } else {
        tree(&reply, p.color_out)
    };
    print_out(&text);
    Ok(if reply.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn pin(n: &GraphNode) -> String {
    format!("{}@{}", n.name, n.version)
}

/// How a node's state reads, with its detail.
fn label(n: &GraphNode) -> String {
    let state = match n.state.as_str() {
        "in-store" => "in store",
        other => other,
    };
    if n.detail.is_empty() {
        state.to_string()
    } else {
        format!("{state}: {}", n.detail)
    }
}

fn paint_state(state: &str, text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    match state {
        "active" => text.green().to_string(),
        "in-store" => text.blue().to_string(),
        "missing" => text.red().bold().to_string(),
        "clashing" => text.yellow().bold().to_string(),
        _ => text.to_string(),
    }
}

/// The tree: each node once with its subtree; a later mention says `(shown above)`.
pub(crate) fn tree(g: &GraphReply, color: bool) -> String {
    let mut out = String::new();
    if g.nodes.is_empty() {
        return out;
    }
    let mut shown = HashSet::new();
    let root = &g.nodes[0];
    let _ = writeln!(
        out,
        "{}  {}",
        clean(&pin(root)),
        paint_state(&root.state, &format!("[{}]", clean(&label(root))), color)
    );
    shown.insert(0usize);
    walk(g, 0, "", &mut shown, color, &mut out);
    let _ = writeln!(out, "(profile `{}`)", clean(&g.profile));
    if g.problems.is_empty() {
        let _ = writeln!(out, "\nno problems");
    } else {
        let _ = writeln!(out, "\nproblems:");
        for problem in &g.problems {
            let _ = writeln!(out, "  {}", clean(problem));
        }
    }
    if !g.fixes.is_empty() {
        let _ = writeln!(out, "\nto fix:");
        for fix in &g.fixes {
            let text = clean(fix);
            let text = if color { text.bold().to_string() } else { text };
            let _ = writeln!(out, "  {text}");
        }
    }
    out
}

fn walk(
    g: &GraphReply,
    at: usize,
    prefix: &str,
    shown: &mut HashSet<usize>,
    color: bool,
    out: &mut String,
) {
    let deps = &g.nodes[at].dependencies;
    for (k, &d) in deps.iter().enumerate() {
        let d = d as usize;
        let Some(n) = g.nodes.get(d) else { continue };
        let last = k + 1 == deps.len();
        let (branch, more) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let seen = !shown.insert(d);
        let tail = if seen && !n.dependencies.is_empty() {
            " (shown above)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{prefix}{branch}{}  {}{tail}",
            clean(&pin(n)),
            paint_state(&n.state, &format!("[{}]", clean(&label(n))), color)
        );
        if !seen {
            walk(g, d, &format!("{prefix}{more}"), shown, color, out);
        }
    }
}

/// One line per node, edge, problem and fix.
fn plain(g: &GraphReply) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "profile={}", quote(&g.profile));
    for n in &g.nodes {
        let deps: Vec<String> = n
            .dependencies
            .iter()
            .filter_map(|&d| g.nodes.get(d as usize))
            .map(pin)
            .collect();
        let _ = writeln!(
            out,
            "node={} state={} detail={} dependencies={}",
            quote(&pin(n)),
            n.state,
            quote(&n.detail),
            quote(&deps.join(","))
        );
    }
    for problem in &g.problems {
        let _ = writeln!(out, "problem={}", quote(problem));
    }
    for fix in &g.fixes {
        let _ = writeln!(out, "fix={}", quote(fix));
    }
    out
}

/// A Graphviz string literal.
fn dq(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Graphviz: a box per node, filled by state, an arrow per dependency, and a dashed red edge
/// between the two sides of a clash.
pub(crate) fn dot(g: &GraphReply) -> String {
    let mut out = String::new();
    let title = g.nodes.first().map(pin).unwrap_or_default();
    let _ = writeln!(out, "digraph {} {{", dq(&title));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\"];"
    );
    let _ = writeln!(out, "  edge [fontname=\"sans-serif\"];");
    let mut extra: Vec<String> = Vec::new();
    for n in &g.nodes {
        let fill = match n.state.as_str() {
            "active" => "#d9f2d9",
            "in-store" => "#d9e6f7",
            "missing" => "#f7d9d9",
            "clashing" => "#f7efc6",
            _ => "#eeeeee",
        };
        let _ = writeln!(
            out,
            "  {} [label={}, fillcolor=\"{fill}\"];",
            dq(&pin(n)),
            dq(&format!("{}\n{}", pin(n), label(n)))
        );
    }
    for n in &g.nodes {
        for &d in &n.dependencies {
            if let Some(m) = g.nodes.get(d as usize) {
                let _ = writeln!(out, "  {} -> {};", dq(&pin(n)), dq(&pin(m)));
            }
        }
        if n.state == "clashing"
            && let Some(other) = n.detail.strip_suffix(" is wanted too")
        {
            let known = g.nodes.iter().any(|m| pin(m) == other);
            if !known && !extra.contains(&other.to_string()) {
                extra.push(other.to_string());
            }
            // One edge per pair.
            if !known || pin(n).as_str() < other {
                let _ = writeln!(
                    out,
                    "  {} -> {} [style=dashed, color=red, dir=none, label=\"clash\"];",
                    dq(&pin(n)),
                    dq(other)
                );
            }
        }
    }
    for other in extra {
        let _ = writeln!(
            out,
            "  {} [label={}, fillcolor=\"#f7efc6\"];",
            dq(&other),
            dq(&format!("{other}\nactive in the profile"))
        );
    }
    let _ = writeln!(out, "}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, state: &str, deps: &[u32], detail: &str) -> GraphNode {
        GraphNode {
            name: name.into(),
            version: "1".into(),
            state: state.into(),
            dependencies: deps.to_vec(),
            detail: detail.into(),
            dependencies_known: true,
        }
    }

    #[test]
    fn a_shared_subtree_is_drawn_once() {
        let g = GraphReply {
            profile: "default".into(),
            nodes: vec![
                node("app", "in-store", &[1, 2], ""),
                node("a", "active", &[3], ""),
                node("b", "active", &[3], ""),
                node("base", "active", &[4], ""),
                node("leaf", "active", &[], ""),
            ],
            problems: vec![],
            fixes: vec!["pandora activate app@1".into()],
        };
        assert_eq!(
            tree(&g, false),
            "app@1  [in store]\n\
             ├── a@1  [active]\n\
             │   └── base@1  [active]\n\
             │       └── leaf@1  [active]\n\
             └── b@1  [active]\n\
             \u{20}   └── base@1  [active] (shown above)\n\
             (profile `default`)\n\nno problems\n\nto fix:\n  pandora activate app@1\n"
        );
    }

    #[test]
    fn dot_quotes_and_marks_clashes() {
        let g = GraphReply {
            profile: "default".into(),
            nodes: vec![
                node("app", "in-store", &[1], ""),
                node("lib\"x", "clashing", &[], "lib@0 is wanted too"),
            ],
            problems: vec!["p".into()],
            fixes: vec![],
        };
        let d = dot(&g);
        assert!(d.contains("\"lib\\\"x@1\""), "{d}");
        assert!(d.contains("-> \"lib@0\" [style=dashed"), "{d}");
        assert!(
            d.contains("\"lib@0\" [label=\"lib@0\\nactive in the profile\""),
            "{d}"
        );
    }
}

//! The canonical printer. `fmt` prints a syntax tree, keeping comments, expressions and
//! references; `Document::to_source` prints resolved values as typed fields. Either output
//! parses back to the same document.

use crate::ast::*;
use crate::document::{Block, Document, Item};
use crate::lexer::Comment;
use crate::value::{Value, escape, quoted};

const INDENT: &str = "    ";

/// Prints a syntax tree in canonical form.
pub(crate) fn print_tree(tree: &Tree) -> String {
    let mut out = String::new();
    for (i, b) in tree.blocks.iter().enumerate() {
        if i > 0 && b.notes.blank_before {
            out.push('\n');
        }
        print_block(b, 0, &mut out);
    }
    if !tree.trailing.is_empty() {
        if !tree.blocks.is_empty() {
            out.push('\n');
        }
        for c in &tree.trailing {
            line(&mut out, 0, c.text);
        }
    }
    out
}

fn line(out: &mut String, depth: usize, text: &str) {
    for _ in 0..depth {
        out.push_str(INDENT);
    }
    out.push_str(text);
    out.push('\n');
}

fn leading(out: &mut String, depth: usize, comments: &[Comment]) {
    for c in comments {
        line(out, depth, c.text);
    }
}

fn with_trailing(mut text: String, trailing: &Option<Comment>) -> String {
    if let Some(c) = trailing {
        text.push(' ');
        text.push_str(c.text);
    }
    text
}

fn block_head(name: &str, label: Option<&str>) -> String {
    match label {
        Some(l) => format!("{name} {}", quoted(l)),
        None => name.to_string(),
    }
}

fn print_block(b: &BlockNode, depth: usize, out: &mut String) {
    leading(out, depth, &b.notes.get().leading);
    let head = block_head(b.name, b.label.as_deref());
    if b.items.is_empty() && b.notes.get().inner_trailing.is_empty() {
        line(
            out,
            depth,
            &with_trailing(format!("{head} {{}}"), &b.notes.get().trailing),
        );
        return;
    }
    line(out, depth, &format!("{head} {{"));
    for (i, item) in b.items.iter().enumerate() {
        match item {
            ItemNode::Field(f) => {
                if i > 0 && f.notes.blank_before {
                    out.push('\n');
                }
                leading(out, depth + 1, &f.notes.get().leading);
                line(
                    out,
                    depth + 1,
                    &with_trailing(field_text(f), &f.notes.get().trailing),
                );
            }
            ItemNode::Block(c) => {
                if i > 0 && c.notes.blank_before {
                    out.push('\n');
                }
                print_block(c, depth + 1, out);
            }
        }
    }
    leading(out, depth + 1, &b.notes.get().inner_trailing);
    line(
        out,
        depth,
        &with_trailing("}".to_string(), &b.notes.get().trailing),
    );
}

fn field_text(f: &FieldNode) -> String {
    let mut s = String::new();
    match f.decl {
        Some(Decl::Scalar(t)) => {
            s.push_str(t.keyword());
            s.push(' ');
        }
        Some(Decl::Array(t)) => {
            s.push_str(t.keyword());
            s.push_str("[] ");
        }
        Some(Decl::Ref) => s.push_str("ref "),
        None => {}
    }
    s.push_str(f.name);
    s.push_str(" = ");
    match &f.value {
        ValueNode::Array { elems, .. } => {
            s.push('{');
            for (i, e) in elems.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                expr(e, 0, &mut s);
            }
            s.push('}');
        }
        ValueNode::Expr(e) => expr(e, 0, &mut s),
    }
    s.push(';');
    s
}

/// Float literal text that the lexer reads back: digits, a point, digits, never an exponent.
fn float_literal(f: f64) -> String {
    let s = format!("{}", f.abs());
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn level(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Ternary(..) => 0,
        ExprKind::Binary(op, ..) => op.level(),
        ExprKind::Unary(..) | ExprKind::Cast(..) => 7,
        ExprKind::Int(n) if *n < 0 => 7,
        ExprKind::Float(f) if f.is_sign_negative() => 7,
        _ => 8,
    }
}

/// Prints `e`, wrapping it in parentheses when its binding is looser than `min`.
fn expr(e: &Expr, min: u8, out: &mut String) {
    if level(e) < min {
        out.push('(');
        expr(e, 0, out);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Int(n) => out.push_str(&n.to_string()),
        ExprKind::Float(f) => {
            if f.is_sign_negative() {
                out.push('-');
            }
            out.push_str(&float_literal(*f));
        }
        ExprKind::Str(s) => {
            out.push('"');
            escape(s, out);
            out.push('"');
        }
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Ref(r) => ref_path(r, out),
        ExprKind::Paren(x) => {
            out.push('(');
            expr(x, 0, out);
            out.push(')');
        }
        ExprKind::Unary(op, x) => {
            out.push(match op {
                UnOp::Not => '!',
                UnOp::Neg => '-',
                UnOp::Plus => '+',
            });
            let mut inner = String::new();
            expr(x, 7, &mut inner);
            // `- -5` and `+ +x` must not glue into one token or a comment.
            if inner.starts_with(['-', '+', '!']) {
                out.push(' ');
            }
            out.push_str(&inner);
        }
        ExprKind::Cast(t, x) => {
            out.push('(');
            out.push_str(t.keyword());
            out.push(')');
            expr(x, 7, out);
        }
        ExprKind::Binary(op, a, b) => {
            expr(a, op.level(), out);
            out.push(' ');
            out.push_str(op.text());
            out.push(' ');
            expr(b, op.level() + 1, out);
        }
        ExprKind::Ternary(c, a, b) => {
            expr(c, 1, out);
            out.push_str(" ? ");
            expr(a, 0, out);
            out.push_str(" : ");
            expr(b, 0, out);
        }
    }
}

fn ref_path(r: &RefPath, out: &mut String) {
    match r.anchor {
        Anchor::Global => out.push('$'),
        Anchor::Local => out.push_str("$."),
        Anchor::Up(n) => out.push_str(&"^".repeat(n as usize)),
        Anchor::Bare => {}
    }
    for (i, seg) in r.segs.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(seg.name);
        if let Some(l) = &seg.label {
            out.push('[');
            out.push_str(&quoted(l));
            out.push(']');
        }
    }
}

impl Document {
    /// Prints the document as ACL source with typed fields, in canonical layout. Parsing the
    /// output gives this document back (positions aside).
    pub fn to_source(&self) -> String {
        let mut out = String::new();
        for (i, b) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            source_block(b, 0, &mut out);
        }
        out
    }
}

fn value_literal(v: &Value) -> String {
    fn list<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
        let items: Vec<String> = v.iter().map(f).collect();
        format!("{{{}}}", items.join(", "))
    }
    let float = |f: &f64| {
        let t = float_literal(*f);
        if f.is_sign_negative() {
            format!("-{t}")
        } else {
            t
        }
    };
    match v {
        Value::Int(n) => n.to_string(),
        Value::Float(f) => float(f),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => quoted(s),
        Value::IntArray(a) => list(a, |n| n.to_string()),
        Value::FloatArray(a) => list(a, float),
        Value::BoolArray(a) => list(a, |b| b.to_string()),
        Value::StrArray(a) => list(a, |s| quoted(s)),
    }
}

fn source_block(b: &Block, depth: usize, out: &mut String) {
    let head = block_head(&b.name, b.label.as_deref());
    if b.items.is_empty() {
        line(out, depth, &format!("{head} {{}}"));
        return;
    }
    line(out, depth, &format!("{head} {{"));
    for item in &b.items {
        match item {
            Item::Field(f) => {
                line(
                    out,
                    depth + 1,
                    &format!("{} {} = {};", f.value.ty(), f.name, value_literal(&f.value)),
                );
            }
            Item::Block(c) => source_block(c, depth + 1, out),
        }
    }
    line(out, depth, "}");
}

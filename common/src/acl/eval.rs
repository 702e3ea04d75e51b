//! From syntax tree to document (ACL.md §3–§6): duplicate checks, reference resolution,
//! evaluation and type checking. Every semantic error is collected; the earliest one wins.

use std::collections::HashMap;

use super::ast::*;
use super::document::{Block, Document, Field, Item};
use super::error::{Error, ErrorKind, Pos};
use super::name::Name;
use super::parser::{BlockHead, Build, parse_with};
use super::value::{Scalar, Value, float_text};

/// References nested deeper than this are refused rather than risking the stack.
const MAX_CHAIN: usize = 200;

pub(crate) fn evaluate(tree: &Tree<'_>) -> Result<Document, Error> {
    let mut errors = Vec::new();
    check_duplicates(
        tree.blocks.iter().map(entry_of_block),
        tree.blocks.len(),
        &mut errors,
    );
    for b in &tree.blocks {
        check_block_duplicates(b, &mut errors);
    }
    let mut ev = Evaluator::default();
    let doc = if tree.has_refs {
        // References need every field addressable: build the arena, resolve, then force
        // every field in source order; a reference may pull in a later field first.
        ev.blocks.push(BInfo {
            name: "",
            label: None,
            parent: None,
            items: Vec::new(),
        });
        for b in &tree.blocks {
            let id = ev.add_block(b, 0);
            ev.blocks[0].items.push(Slot::Block(id));
        }
        ev.resolve_all();
        ev.state = vec![State::Todo; ev.fields.len()];
        for fid in 0..ev.fields.len() {
            let _ = ev.force(fid);
        }
        let mut values = std::mem::take(&mut ev.state).into_iter().map(|s| match s {
            State::Done(v) => Some(v),
            _ => None,
        });
        let mut next = |_: &mut Evaluator<'_>, _: &FieldNode<'_>| values.next().flatten();
        build(tree, &mut ev, &mut next)
    } else {
        // No references: each field depends on nothing else, so compute it as we build.
        let mut next = |ev: &mut Evaluator<'_>, f: &FieldNode<'_>| ev.compute(f, 0).ok();
        build(tree, &mut ev, &mut next)
    };
    errors.append(&mut ev.errors);
    match errors.into_iter().min_by_key(|e| e.pos) {
        Some(e) => Err(e),
        None => Ok(doc),
    }
}

type NextValue<'n, 't> = dyn FnMut(&mut Evaluator<'t>, &FieldNode<'t>) -> Option<Value> + 'n;

fn build<'t>(tree: &'t Tree<'t>, ev: &mut Evaluator<'t>, next: &mut NextValue<'_, 't>) -> Document {
    Document {
        blocks: tree
            .blocks
            .iter()
            .map(|b| build_block(b, ev, next))
            .collect(),
    }
}

fn build_block<'t>(
    b: &'t BlockNode<'t>,
    ev: &mut Evaluator<'t>,
    next: &mut NextValue<'_, 't>,
) -> Block {
    let mut items = Vec::with_capacity(b.items.len());
    for item in &b.items {
        match item {
            ItemNode::Field(f) => {
                // A field without a value has an error recorded; the document is discarded.
                let value = next(ev, f).unwrap_or(Value::Bool(false));
                items.push(Item::Field(Field {
                    name: Name::from(f.name),
                    pos: f.pos,
                    value_pos: f.value.start(),
                    value,
                }));
            }
            ItemNode::Block(c) => items.push(Item::Block(build_block(c, ev, next))),
        }
    }
    Block {
        name: Name::from(b.name),
        label: b.label.as_deref().map(Name::from),
        pos: b.pos,
        items,
    }
}

/// Builds the document while parsing, for documents without references (registry indices
/// and manifests): every field is computed as soon as it is parsed, so no syntax tree is
/// kept. It gives up on the first reference, and the caller parses again with the tree.
#[derive(Default)]
pub(crate) struct DirectBuilder<'t> {
    ev: Evaluator<'t>,
    errors: Vec<Error>,
    /// A reference was seen: the result is void and the tree path must run.
    pub(crate) needs_tree: bool,
}

impl<'a, 't> Build<'a> for DirectBuilder<'t> {
    type Item = Item;

    fn field(&mut self, f: FieldNode<'a>) -> Result<Item, Box<Error>> {
        let mut refs = Vec::new();
        match &f.value {
            ValueNode::Expr(e) => refs_in(e, &mut refs),
            ValueNode::Array { elems, .. } => elems.iter().for_each(|e| refs_in(e, &mut refs)),
        }
        if !refs.is_empty() {
            self.needs_tree = true;
            return Err(Error::boxed(
                ErrorKind::Syntax,
                f.pos,
                "references need the full evaluator",
            ));
        }
        // A field that fails has its error recorded; the document is then discarded.
        let value = self.ev.compute(&f, 0).unwrap_or(Value::Bool(false));
        self.errors.append(&mut self.ev.errors);
        Ok(Item::Field(Field {
            name: Name::from(f.name),
            pos: f.pos,
            value_pos: f.value.start(),
            value,
        }))
    }

    fn block(&mut self, h: BlockHead<'a>, items: Vec<Item>) -> Item {
        check_duplicates(
            items.iter().map(entry_of_doc_item),
            items.len(),
            &mut self.errors,
        );
        Item::Block(Block {
            name: Name::from(h.name),
            label: h.label.as_deref().map(Name::from),
            pos: h.pos,
            items,
        })
    }
}

/// Parses `text` straight into a document. `Ok(None)` when the document holds references and
/// must go through the syntax tree instead.
pub(crate) fn parse_direct(text: &str) -> Result<Option<Document>, Error> {
    let mut build = DirectBuilder::default();
    let parsed = match parse_with(text, &mut build) {
        Ok(p) => p,
        Err(_) if build.needs_tree => return Ok(None),
        Err(e) => return Err(*e),
    };
    let blocks: Vec<Block> = parsed
        .items
        .into_iter()
        .map(|i| match i {
            Item::Block(b) => b,
            Item::Field(_) => unreachable!("the top level holds only blocks"),
        })
        .collect();
    let mut errors = build.errors;
    check_duplicates(
        blocks.iter().map(|b| entry_of_doc_block(b)),
        blocks.len(),
        &mut errors,
    );
    match errors.into_iter().min_by_key(|e| e.pos) {
        Some(e) => Err(e),
        None => Ok(Some(Document { blocks })),
    }
}

fn entry_of_doc_block(b: &Block) -> Entry<'_> {
    Entry {
        name: &b.name,
        label: b.label.as_deref(),
        is_field: false,
        pos: b.pos,
    }
}

fn entry_of_doc_item(i: &Item) -> Entry<'_> {
    match i {
        Item::Field(f) => Entry {
            name: &f.name,
            label: None,
            is_field: true,
            pos: f.pos,
        },
        Item::Block(b) => entry_of_doc_block(b),
    }
}

/// What the duplicate rules need to know of one item.
#[derive(Clone, Copy)]
struct Entry<'x> {
    name: &'x str,
    label: Option<&'x str>,
    is_field: bool,
    pos: Pos,
}

fn entry_of_block<'x>(b: &'x BlockNode<'_>) -> Entry<'x> {
    Entry {
        name: b.name,
        label: b.label.as_deref(),
        is_field: false,
        pos: b.pos,
    }
}

fn entry_of_item<'x>(i: &'x ItemNode<'_>) -> Entry<'x> {
    match i {
        ItemNode::Field(f) => Entry {
            name: f.name,
            label: None,
            is_field: true,
            pos: f.pos,
        },
        ItemNode::Block(b) => entry_of_block(b),
    }
}

fn check_block_duplicates(b: &BlockNode<'_>, errors: &mut Vec<Error>) {
    check_duplicates(b.items.iter().map(entry_of_item), b.items.len(), errors);
    for item in &b.items {
        if let ItemNode::Block(c) = item {
            check_block_duplicates(c, errors);
        }
    }
}

/// ACL.md §6: a field name twice, a field and a block of one name, or two sibling blocks
/// with the same name and label. Small blocks are checked pairwise without allocating.
fn check_duplicates<'x>(
    entries: impl Iterator<Item = Entry<'x>> + Clone,
    n: usize,
    errors: &mut Vec<Error>,
) {
    let clash = |first: &Entry<'_>, e: &Entry<'_>| -> Option<Error> {
        if first.name != e.name {
            return None;
        }
        if e.is_field || first.is_field {
            let what = if first.is_field { "field" } else { "block" };
            return Some(Error::new(
                ErrorKind::DuplicateField,
                e.pos,
                format!(
                    "`{}` is already defined as a {what} at line {}",
                    e.name, first.pos.line
                ),
            ));
        }
        match (first.label, e.label) {
            (Some(a), Some(b)) if a == b => Some(Error::new(
                ErrorKind::DuplicateBlock,
                e.pos,
                format!(
                    "block `{} \"{}\"` is already defined at line {}",
                    e.name, b, first.pos.line
                ),
            )),
            _ => None,
        }
    };
    if n <= 16 {
        for (i, e) in entries.clone().enumerate() {
            if let Some(err) = entries.clone().take(i).find_map(|first| clash(&first, &e)) {
                errors.push(err);
            }
        }
        return;
    }
    // name -> (first entry of that name, first field of that name)
    let mut by_name: HashMap<&str, Entry<'x>> = HashMap::with_capacity(n);
    let mut labeled: HashMap<(&str, &str), Entry<'x>> = HashMap::new();
    for e in entries {
        match by_name.get(e.name) {
            Some(first) if first.is_field || e.is_field => {
                if let Some(err) = clash(first, &e) {
                    errors.push(err);
                }
                continue;
            }
            Some(_) => {}
            None => {
                by_name.insert(e.name, e);
            }
        }
        if let Some(l) = e.label {
            match labeled.get(&(e.name, l)) {
                Some(first) => errors.extend(clash(first, &e)),
                None => {
                    labeled.insert((e.name, l), e);
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Field(usize),
    Block(usize),
}

struct BInfo<'a> {
    name: &'a str,
    label: Option<&'a str>,
    parent: Option<usize>,
    items: Vec<Slot>,
}

#[derive(Clone, Copy)]
struct FInfo<'a> {
    node: &'a FieldNode<'a>,
    block: usize,
}

#[derive(Clone)]
enum State {
    Todo,
    Busy(usize),
    Done(Value),
    Failed,
}

/// An error was recorded already; the caller only stops.
struct Poison;

type Ev<T> = Result<T, Poison>;

#[derive(Default)]
struct Evaluator<'a> {
    blocks: Vec<BInfo<'a>>,
    fields: Vec<FInfo<'a>>,
    /// Resolved target of each reference expression, keyed by the expression's address.
    targets: HashMap<usize, Option<usize>>,
    state: Vec<State>,
    /// Fields being evaluated, with the position of the reference each one is following.
    stack: Vec<(usize, Pos)>,
    errors: Vec<Error>,
}

fn refs_in<'e>(e: &'e Expr<'e>, out: &mut Vec<&'e Expr<'e>>) {
    match &e.kind {
        ExprKind::Ref(_) => out.push(e),
        ExprKind::Paren(x) | ExprKind::Unary(_, x) | ExprKind::Cast(_, x) => refs_in(x, out),
        ExprKind::Binary(_, a, b) => {
            refs_in(a, out);
            refs_in(b, out);
        }
        ExprKind::Ternary(a, b, c) => {
            refs_in(a, out);
            refs_in(b, out);
            refs_in(c, out);
        }
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) => {}
    }
}

impl<'a> Evaluator<'a> {
    fn add_block(&mut self, b: &'a BlockNode<'a>, parent: usize) -> usize {
        let id = self.blocks.len();
        self.blocks.push(BInfo {
            name: b.name,
            label: b.label.as_deref(),
            parent: Some(parent),
            items: Vec::new(),
        });
        let mut slots = Vec::with_capacity(b.items.len());
        for item in &b.items {
            match item {
                ItemNode::Field(f) => {
                    slots.push(Slot::Field(self.fields.len()));
                    self.fields.push(FInfo { node: f, block: id });
                }
                ItemNode::Block(c) => slots.push(Slot::Block(self.add_block(c, id))),
            }
        }
        self.blocks[id].items = slots;
        id
    }

    fn err(&mut self, kind: ErrorKind, pos: Pos, msg: impl Into<String>) -> Poison {
        self.errors.push(Error::new(kind, pos, msg));
        Poison
    }

    /// ACL.md §4.6: every reference must resolve, evaluated or not.
    fn resolve_all(&mut self) {
        let mut refs = Vec::new();
        for fid in 0..self.fields.len() {
            let f = self.fields[fid];
            match &f.node.value {
                ValueNode::Expr(e) => refs_in(e, &mut refs),
                ValueNode::Array { elems, .. } => elems.iter().for_each(|e| refs_in(e, &mut refs)),
            }
            for e in refs.drain(..) {
                let ExprKind::Ref(path) = &e.kind else {
                    continue;
                };
                let target = self.resolve(path, f.block);
                if target.is_none() {
                    let text = ref_text(path);
                    self.errors.push(Error::new(
                        ErrorKind::UnresolvedReference,
                        e.pos,
                        format!("`{text}` does not name a field"),
                    ));
                }
                self.targets.insert(e as *const Expr as usize, target);
            }
        }
    }

    fn resolve(&self, path: &RefPath<'_>, from: usize) -> Option<usize> {
        let mut cur = match path.anchor {
            Anchor::Global => 0,
            Anchor::Local | Anchor::Bare => from,
            Anchor::Up(n) => {
                let mut b = from;
                for _ in 0..n {
                    b = self.blocks[b].parent?;
                }
                b
            }
        };
        let (last, inner) = path.segs.split_last()?;
        for seg in inner {
            cur = self.blocks[cur].items.iter().find_map(|s| match *s {
                Slot::Block(id) => {
                    let b = &self.blocks[id];
                    (b.name == seg.name && (seg.label.is_none() || b.label == seg.label.as_deref()))
                        .then_some(id)
                }
                Slot::Field(_) => None,
            })?;
        }
        if last.label.is_some() {
            return None;
        }
        self.blocks[cur].items.iter().find_map(|s| match *s {
            Slot::Field(id) => (self.fields[id].node.name == last.name).then_some(id),
            Slot::Block(_) => None,
        })
    }

    /// The final value of field `fid`, computing it first if needed.
    fn field_value(&mut self, fid: usize) -> Ev<Value> {
        self.force(fid)?;
        match &self.state[fid] {
            State::Done(v) => Ok(v.clone()),
            _ => Err(Poison),
        }
    }

    /// Computes field `fid` once, detecting cycles through the stack of fields in progress.
    fn force(&mut self, fid: usize) -> Ev<()> {
        match &self.state[fid] {
            State::Done(_) => return Ok(()),
            State::Failed => return Err(Poison),
            State::Busy(at) => {
                let at = *at;
                let pos = self.stack[at..]
                    .iter()
                    .map(|(_, p)| *p)
                    .min()
                    .unwrap_or_default();
                let names: Vec<&str> = self.stack[at..]
                    .iter()
                    .map(|(f, _)| self.fields[*f].node.name)
                    .collect();
                let msg = format!(
                    "these fields refer to each other: {} -> {}",
                    names.join(" -> "),
                    names[0]
                );
                return Err(self.err(ErrorKind::ReferenceCycle, pos, msg));
            }
            State::Todo => {}
        }
        if self.stack.len() >= MAX_CHAIN {
            let pos = self.stack.last().map(|(_, p)| *p).unwrap_or_default();
            return Err(self.err(
                ErrorKind::ReferenceCycle,
                pos,
                format!("references nest more than {MAX_CHAIN} deep"),
            ));
        }
        self.state[fid] = State::Busy(self.stack.len());
        self.stack.push((fid, Pos::default()));
        let (node, block) = (self.fields[fid].node, self.fields[fid].block);
        let result = self.compute(node, block);
        self.stack.pop();
        match result {
            Ok(v) => {
                self.state[fid] = State::Done(v);
                Ok(())
            }
            Err(p) => {
                self.state[fid] = State::Failed;
                Err(p)
            }
        }
    }

    /// Evaluates field `f` of arena block `block` and applies its declared type (§3).
    fn compute(&mut self, f: &FieldNode<'_>, block: usize) -> Ev<Value> {
        match (f.decl, &f.value) {
            (Some(Decl::Ref), ValueNode::Expr(e)) if matches!(e.kind, ExprKind::Ref(_)) => {
                self.eval(e, block)
            }
            (Some(Decl::Ref), v) => Err(self.err(
                ErrorKind::TypeMismatch,
                v.start(),
                format!(
                    "`ref {}` must be a single reference such as `$.other` or `$Block.field`",
                    f.name
                ),
            )),
            (Some(Decl::Scalar(s)), ValueNode::Array { pos, .. }) => Err(self.err(
                ErrorKind::TypeMismatch,
                *pos,
                format!(
                    "`{}` is declared `{}` but its value is an array",
                    f.name,
                    s.keyword()
                ),
            )),
            (Some(Decl::Scalar(s)), ValueNode::Expr(e)) => {
                let v = self.eval(e, block)?;
                convert(v, s).map_err(|v| {
                    self.err(
                        ErrorKind::TypeMismatch,
                        e.start(),
                        format!("expected {}, found {}", s.keyword(), v.ty()),
                    )
                })
            }
            (Some(Decl::Array(s)), ValueNode::Expr(e)) => {
                let v = self.eval(e, block)?;
                convert_array(v, s).map_err(|v| {
                    self.err(
                        ErrorKind::TypeMismatch,
                        e.start(),
                        format!("expected {}[], found {}", s.keyword(), v.ty()),
                    )
                })
            }
            (Some(Decl::Array(s)), ValueNode::Array { elems, .. }) => {
                let mut out = Vec::with_capacity(elems.len());
                for e in elems {
                    let v = self.eval_element(e, block)?;
                    out.push(convert(v, s).map_err(|v| {
                        self.err(
                            ErrorKind::TypeMismatch,
                            e.start(),
                            format!("expected {}, found {}", s.keyword(), v.ty()),
                        )
                    })?);
                }
                Ok(collect_array(s, out))
            }
            (None, ValueNode::Expr(e)) => self.eval(e, block),
            (None, ValueNode::Array { pos, elems }) => {
                if elems.is_empty() {
                    return Err(self.err(
                        ErrorKind::EmptyArrayType,
                        *pos,
                        format!("cannot infer the type of empty array `{}`: declare it, e.g. `string[] {} = {{}};`", f.name, f.name),
                    ));
                }
                let mut vals = Vec::with_capacity(elems.len());
                let mut ty: Option<Scalar> = None;
                for e in elems {
                    let v = self.eval_element(e, block)?;
                    let s = v.ty().scalar;
                    ty = match (ty, s) {
                        (None, s) => Some(s),
                        (Some(t), s) if t == s => Some(t),
                        (Some(Scalar::Int), Scalar::Float) | (Some(Scalar::Float), Scalar::Int) => {
                            Some(Scalar::Float)
                        }
                        (Some(t), s) => {
                            return Err(self.err(
                                ErrorKind::TypeMismatch,
                                e.start(),
                                format!("array elements must share one type: this is {}, earlier ones are {}", s.keyword(), t.keyword()),
                            ));
                        }
                    };
                    vals.push(v);
                }
                let s = ty.expect("a non-empty array has a type");
                let vals = vals
                    .into_iter()
                    .map(|v| convert(v, s).unwrap_or_else(|v| v))
                    .collect();
                Ok(collect_array(s, vals))
            }
        }
    }

    /// An array element: any scalar.
    fn eval_element(&mut self, e: &Expr<'_>, block: usize) -> Ev<Value> {
        let v = self.eval(e, block)?;
        if v.ty().array {
            return Err(self.err(
                ErrorKind::TypeMismatch,
                e.start(),
                "arrays cannot nest: this element is an array",
            ));
        }
        Ok(v)
    }

    fn scalar_operand(&mut self, e: &Expr<'_>, block: usize, op_pos: Pos, op: &str) -> Ev<Value> {
        let v = self.eval(e, block)?;
        if v.ty().array {
            return Err(self.err(
                ErrorKind::TypeMismatch,
                op_pos,
                format!("`{op}` cannot take an array operand"),
            ));
        }
        Ok(v)
    }

    fn eval(&mut self, e: &Expr<'_>, block: usize) -> Ev<Value> {
        match &e.kind {
            ExprKind::Int(n) => Ok(Value::Int(*n)),
            ExprKind::Float(f) => Ok(Value::Float(*f)),
            ExprKind::Str(s) => Ok(Value::Str(String::from(s.as_ref()))),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Paren(x) => self.eval(x, block),
            ExprKind::Ref(_) => {
                let target = self
                    .targets
                    .get(&(e as *const Expr as usize))
                    .copied()
                    .flatten()
                    .ok_or(Poison)?;
                if let Some(top) = self.stack.last_mut() {
                    top.1 = e.pos;
                }
                self.field_value(target)
            }
            ExprKind::Unary(op, x) => {
                let sym = match op {
                    UnOp::Not => "!",
                    UnOp::Neg => "-",
                    UnOp::Plus => "+",
                };
                let v = self.scalar_operand(x, block, e.pos, sym)?;
                match (op, v) {
                    (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (UnOp::Neg, Value::Int(n)) => {
                        n.checked_neg().map(Value::Int).ok_or_else(|| {
                            self.err(
                                ErrorKind::IntOverflow,
                                e.pos,
                                format!("-({n}) does not fit in a 64-bit int"),
                            )
                        })
                    }
                    (UnOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
                    (UnOp::Plus, v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
                    (_, v) => Err(self.err(
                        ErrorKind::TypeMismatch,
                        e.pos,
                        format!("`{sym}` cannot take {}", v.ty()),
                    )),
                }
            }
            ExprKind::Cast(s, x) => {
                let v = self.scalar_operand(x, block, e.pos, "cast")?;
                cast(v, *s).map_err(|(kind, msg)| self.err(kind, e.pos, msg))
            }
            ExprKind::Ternary(c, a, b) => {
                let cv = self.eval(c, block)?;
                match cv {
                    Value::Bool(true) => self.eval(a, block),
                    Value::Bool(false) => self.eval(b, block),
                    other => Err(self.err(
                        ErrorKind::TypeMismatch,
                        e.pos,
                        format!("the condition of `?:` must be bool, found {}", other.ty()),
                    )),
                }
            }
            ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let av = self.scalar_operand(a, block, e.pos, op.text())?;
                let Value::Bool(ab) = av else {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        e.pos,
                        format!("`{}` takes bools, found {}", op.text(), av.ty()),
                    ));
                };
                if (*op == BinOp::And && !ab) || (*op == BinOp::Or && ab) {
                    return Ok(Value::Bool(ab));
                }
                let bv = self.scalar_operand(b, block, e.pos, op.text())?;
                match bv {
                    Value::Bool(bb) => Ok(Value::Bool(bb)),
                    other => Err(self.err(
                        ErrorKind::TypeMismatch,
                        e.pos,
                        format!("`{}` takes bools, found {}", op.text(), other.ty()),
                    )),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let av = self.scalar_operand(a, block, e.pos, op.text())?;
                let bv = self.scalar_operand(b, block, e.pos, op.text())?;
                binary(*op, av, bv).map_err(|(kind, msg)| self.err(kind, e.pos, msg))
            }
        }
    }
}

fn ref_text(path: &RefPath<'_>) -> String {
    let mut s = match path.anchor {
        Anchor::Global => "$".to_string(),
        Anchor::Local => "$.".to_string(),
        Anchor::Up(n) => "^".repeat(n as usize),
        Anchor::Bare => String::new(),
    };
    for (i, seg) in path.segs.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(seg.name);
        if let Some(l) = &seg.label {
            s.push_str(&format!("[{}]", super::value::quoted(l)));
        }
    }
    s
}

/// ACL.md §3.2: the declared scalar type, with int→float the only implicit conversion.
fn convert(v: Value, s: Scalar) -> Result<Value, Value> {
    match (v, s) {
        (v @ Value::Int(_), Scalar::Int)
        | (v @ Value::Float(_), Scalar::Float)
        | (v @ Value::Bool(_), Scalar::Bool)
        | (v @ Value::Str(_), Scalar::String) => Ok(v),
        (Value::Int(n), Scalar::Float) => Ok(Value::Float(n as f64)),
        (v, _) => Err(v),
    }
}

fn convert_array(v: Value, s: Scalar) -> Result<Value, Value> {
    match (v, s) {
        (v @ Value::IntArray(_), Scalar::Int)
        | (v @ Value::FloatArray(_), Scalar::Float)
        | (v @ Value::BoolArray(_), Scalar::Bool)
        | (v @ Value::StrArray(_), Scalar::String) => Ok(v),
        (Value::IntArray(a), Scalar::Float) => {
            Ok(Value::FloatArray(a.into_iter().map(|n| n as f64).collect()))
        }
        (v, _) => Err(v),
    }
}

/// Builds a typed array from scalars already converted to `s`.
fn collect_array(s: Scalar, vals: Vec<Value>) -> Value {
    match s {
        Scalar::Int => Value::IntArray(vals.into_iter().filter_map(|v| v.as_int()).collect()),
        Scalar::Float => Value::FloatArray(vals.into_iter().filter_map(|v| v.as_float()).collect()),
        Scalar::Bool => Value::BoolArray(vals.into_iter().filter_map(|v| v.as_bool()).collect()),
        Scalar::String => Value::StrArray(
            vals.into_iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// Text of a scalar in string concatenation and `(string)` casts (ACL.md §5.3, §7.3).
fn text_of(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

type OpResult = Result<Value, (ErrorKind, String)>;

fn finite(f: f64, what: &str) -> OpResult {
    if f.is_finite() {
        Ok(Value::Float(f))
    } else {
        Err((
            ErrorKind::FloatOverflow,
            format!("{what} is not a finite float"),
        ))
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> OpResult {
    use Value::*;
    let sym = op.text();
    let mismatch = |a: &Value, b: &Value| {
        Err((
            ErrorKind::TypeMismatch,
            format!("`{sym}` cannot take {} and {}", a.ty(), b.ty()),
        ))
    };
    match op {
        BinOp::Add if matches!(a, Str(_)) || matches!(b, Str(_)) => {
            Ok(Str(text_of(&a) + &text_of(&b)))
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (&a, &b) {
            (Int(x), Int(y)) => {
                let (x, y) = (*x, *y);
                if matches!(op, BinOp::Div | BinOp::Rem) && y == 0 {
                    return Err((
                        ErrorKind::DivisionByZero,
                        format!("`{x} {sym} 0` divides by zero"),
                    ));
                }
                let r = match op {
                    BinOp::Add => x.checked_add(y),
                    BinOp::Sub => x.checked_sub(y),
                    BinOp::Mul => x.checked_mul(y),
                    BinOp::Div => x.checked_div(y),
                    _ => Some(x.wrapping_rem(y)),
                };
                r.map(Int).ok_or_else(|| {
                    (
                        ErrorKind::IntOverflow,
                        format!("`{x} {sym} {y}` does not fit in a 64-bit int"),
                    )
                })
            }
            (Int(_) | Float(_), Int(_) | Float(_)) => {
                if op == BinOp::Rem {
                    return Err((ErrorKind::TypeMismatch, "`%` takes ints only".to_string()));
                }
                let (x, y) = (
                    a.as_float().unwrap_or_default(),
                    b.as_float().unwrap_or_default(),
                );
                if op == BinOp::Div && y == 0.0 {
                    return Err((
                        ErrorKind::DivisionByZero,
                        format!("`{} / 0.0` divides by zero", float_text(x)),
                    ));
                }
                let r = match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    _ => x / y,
                };
                finite(r, "the result")
            }
            _ => mismatch(&a, &b),
        },
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            let ord = match (&a, &b) {
                (Int(x), Int(y)) => x.partial_cmp(y),
                (Int(_) | Float(_), Int(_) | Float(_)) => a
                    .as_float()
                    .unwrap_or_default()
                    .partial_cmp(&b.as_float().unwrap_or_default()),
                _ => return mismatch(&a, &b),
            };
            let Some(ord) = ord else {
                return Ok(Bool(false));
            };
            Ok(Bool(match op {
                BinOp::Lt => ord.is_lt(),
                BinOp::Gt => ord.is_gt(),
                BinOp::Le => ord.is_le(),
                _ => ord.is_ge(),
            }))
        }
        BinOp::Eq | BinOp::Ne => {
            let eq = match (&a, &b) {
                (Int(x), Int(y)) => x == y,
                (Int(_) | Float(_), Int(_) | Float(_)) => a.as_float() == b.as_float(),
                (Str(x), Str(y)) => x == y,
                (Bool(x), Bool(y)) => x == y,
                _ => return mismatch(&a, &b),
            };
            Ok(Bool(if op == BinOp::Eq { eq } else { !eq }))
        }
        BinOp::And | BinOp::Or => {
            unreachable!("short-circuit operators are evaluated by the caller")
        }
    }
}

fn is_decimal_int(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal_float(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    match d.split_once('.') {
        Some((i, f)) => {
            is_decimal_int(i)
                && !i.starts_with('-')
                && !f.is_empty()
                && f.bytes().all(|b| b.is_ascii_digit())
        }
        None => is_decimal_int(d),
    }
}

/// ACL.md §5.5.
fn cast(v: Value, to: Scalar) -> OpResult {
    use Value::*;
    let bad = |v: &Value| {
        Err((
            ErrorKind::BadCast,
            format!(
                "cannot cast {} to {}",
                super::value::quoted(&text_of(v)),
                to.keyword()
            ),
        ))
    };
    match (to, &v) {
        (Scalar::Int, Int(_))
        | (Scalar::Float, Float(_))
        | (Scalar::Bool, Bool(_))
        | (Scalar::String, Str(_)) => Ok(v),
        (Scalar::Int, Float(f)) => {
            let t = f.trunc();
            if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
                Ok(Int(t as i64))
            } else {
                Err((
                    ErrorKind::IntOverflow,
                    format!("{} does not fit in a 64-bit int", float_text(*f)),
                ))
            }
        }
        (Scalar::Int, Bool(b)) => Ok(Int(i64::from(*b))),
        (Scalar::Int, Str(s)) if is_decimal_int(s) => s.parse::<i64>().map(Int).map_err(|_| {
            (
                ErrorKind::IntOverflow,
                format!("\"{s}\" does not fit in a 64-bit int"),
            )
        }),
        (Scalar::Float, Int(n)) => Ok(Float(*n as f64)),
        (Scalar::Float, Bool(b)) => Ok(Float(if *b { 1.0 } else { 0.0 })),
        (Scalar::Float, Str(s)) if is_decimal_float(s) => {
            finite(s.parse::<f64>().unwrap_or(f64::INFINITY), "the cast")
        }
        (Scalar::Bool, Int(n)) => Ok(Bool(*n != 0)),
        (Scalar::Bool, Float(f)) => Ok(Bool(*f != 0.0)),
        (Scalar::Bool, Str(s)) if s == "true" || s == "false" => Ok(Bool(s == "true")),
        (Scalar::String, _) => Ok(Str(text_of(&v))),
        _ => bad(&v),
    }
}

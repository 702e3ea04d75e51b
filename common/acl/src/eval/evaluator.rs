//! Reference resolution and evaluation of field values, with cycle detection.

use std::collections::HashMap;

use super::ops::{binary, cast, collect_array, convert, convert_array};
use super::{MAX_CHAIN, MAX_EVAL_BYTES, MAX_EVAL_DEPTH};
use crate::ast::*;
use crate::error::{Error, ErrorKind, Pos};
use crate::value::{Scalar, Value};

#[derive(Clone, Copy)]
pub(super) enum Slot {
    Field(usize),
    Block(usize),
}

pub(super) struct BInfo<'a> {
    pub(super) name: &'a str,
    pub(super) label: Option<&'a str>,
    pub(super) parent: Option<usize>,
    pub(super) items: Vec<Slot>,
    /// The items by name, for blocks too large to search one by one.
    pub(super) names: Option<Box<Names<'a>>>,
}

/// Blocks with more items than this get a [`Names`] index, so that resolving every
/// reference of a document stays linear in its size.
const INDEX_FROM: usize = 16;

/// A block's items by name: the first field of each name, the first child block of each
/// name, and the first of each name and label.
#[derive(Default)]
pub(super) struct Names<'a> {
    fields: HashMap<&'a str, usize>,
    blocks: HashMap<(&'a str, Option<&'a str>), usize>,
}

#[derive(Clone, Copy)]
pub(super) struct FInfo<'a> {
    pub(super) node: &'a FieldNode<'a>,
    pub(super) block: usize,
}

#[derive(Clone)]
pub(super) enum State {
    Todo,
    Busy(usize),
    Done(Value),
    Failed,
}

/// An error was recorded already; the caller only stops.
pub(super) struct Poison;

pub(super) type Ev<T> = Result<T, Poison>;

#[derive(Default)]
pub(super) struct Evaluator<'a> {
    pub(super) blocks: Vec<BInfo<'a>>,
    pub(super) fields: Vec<FInfo<'a>>,
    /// Resolved target of each reference expression, keyed by the expression's address.
    pub(super) targets: HashMap<usize, Option<usize>>,
    pub(super) state: Vec<State>,
    /// Fields being evaluated, with the position of the reference each one is following.
    pub(super) stack: Vec<(usize, Pos)>,
    pub(super) errors: Vec<Error>,
    /// Bytes of strings and arrays computed so far: concatenations and copies made by
    /// references. Literals cost nothing; the source's size bounds them.
    pub(super) spent: u64,
    /// Expressions being evaluated, through references included.
    pub(super) depth: usize,
}

pub(super) fn refs_in<'e>(e: &'e Expr<'e>, out: &mut Vec<&'e Expr<'e>>) {
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
    pub(super) fn add_block(&mut self, b: &'a BlockNode<'a>, parent: usize) -> usize {
        let id = self.blocks.len();
        self.blocks.push(BInfo {
            name: b.name,
            label: b.label.as_deref(),
            parent: Some(parent),
            items: Vec::new(),
            names: None,
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

    /// Builds the [`Names`] index of every large block, once the arena is complete.
    pub(super) fn index_names(&mut self) {
        for id in 0..self.blocks.len() {
            if self.blocks[id].items.len() <= INDEX_FROM {
                continue;
            }
            let mut names = Names::default();
            for slot in &self.blocks[id].items {
                match *slot {
                    Slot::Field(f) => {
                        names.fields.entry(self.fields[f].node.name).or_insert(f);
                    }
                    Slot::Block(b) => {
                        let child = &self.blocks[b];
                        names.blocks.entry((child.name, None)).or_insert(b);
                        if child.label.is_some() {
                            names.blocks.entry((child.name, child.label)).or_insert(b);
                        }
                    }
                }
            }
            self.blocks[id].names = Some(Box::new(names));
        }
    }

    /// Counts `bytes` of computed data against the document's budget.
    pub(super) fn charge(&mut self, bytes: usize, pos: Pos) -> Ev<()> {
        let before = self.spent;
        self.spent = self.spent.saturating_add(bytes as u64);
        if self.spent <= MAX_EVAL_BYTES {
            return Ok(());
        }
        if before > MAX_EVAL_BYTES {
            // Reported once already.
            return Err(Poison);
        }
        Err(self.err(
            ErrorKind::BudgetExceeded,
            pos,
            format!(
                "evaluating this document computes more than {} MiB of strings and arrays; \
                 copy less through references",
                MAX_EVAL_BYTES >> 20
            ),
        ))
    }

    pub(super) fn err(&mut self, kind: ErrorKind, pos: Pos, msg: impl Into<String>) -> Poison {
        self.errors.push(Error::new(kind, pos, msg));
        Poison
    }

    /// ACL.md §4.6: every reference must resolve, evaluated or not.
    pub(super) fn resolve_all(&mut self) {
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

    pub(super) fn resolve(&self, path: &RefPath<'_>, from: usize) -> Option<usize> {
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
            cur = self.child_block(cur, seg.name, seg.label.as_deref())?;
        }
        if last.label.is_some() {
            return None;
        }
        if let Some(names) = &self.blocks[cur].names {
            return names.fields.get(last.name).copied();
        }
        self.blocks[cur].items.iter().find_map(|s| match *s {
            Slot::Field(id) => (self.fields[id].node.name == last.name).then_some(id),
            Slot::Block(_) => None,
        })
    }

    /// The first child block of `parent` called `name`, with `label` if one is given.
    fn child_block(&self, parent: usize, name: &str, label: Option<&str>) -> Option<usize> {
        if let Some(names) = &self.blocks[parent].names {
            return names.blocks.get(&(name, label)).copied();
        }
        self.blocks[parent].items.iter().find_map(|s| match *s {
            Slot::Block(id) => {
                let b = &self.blocks[id];
                (b.name == name && (label.is_none() || b.label == label)).then_some(id)
            }
            Slot::Field(_) => None,
        })
    }

    /// The final value of field `fid`, computing it first if needed.
    pub(super) fn field_value(&mut self, fid: usize, pos: Pos) -> Ev<Value> {
        self.force(fid)?;
        let bytes = match &self.state[fid] {
            State::Done(v) => heap_bytes(v),
            _ => return Err(Poison),
        };
        if bytes > 0 {
            self.charge(bytes, pos)?;
        }
        match &self.state[fid] {
            State::Done(v) => Ok(v.clone()),
            _ => Err(Poison),
        }
    }

    /// Computes field `fid` once, detecting cycles through the stack of fields in progress.
    pub(super) fn force(&mut self, fid: usize) -> Ev<()> {
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
    pub(super) fn compute(&mut self, f: &FieldNode<'_>, block: usize) -> Ev<Value> {
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
    pub(super) fn eval_element(&mut self, e: &Expr<'_>, block: usize) -> Ev<Value> {
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

    pub(super) fn scalar_operand(
        &mut self,
        e: &Expr<'_>,
        block: usize,
        op_pos: Pos,
        op: &str,
    ) -> Ev<Value> {
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

    /// Evaluates `e`. Each reference followed nests a whole expression inside another, so
    /// the depth is counted across references: the parser bounds one expression, this bounds
    /// a chain of them.
    pub(super) fn eval(&mut self, e: &Expr<'_>, block: usize) -> Ev<Value> {
        if self.depth >= MAX_EVAL_DEPTH {
            return Err(self.err(
                ErrorKind::TooDeep,
                e.pos,
                format!(
                    "expressions nest more than {MAX_EVAL_DEPTH} deep through references; \
                     use fewer references to references"
                ),
            ));
        }
        self.depth += 1;
        let v = self.eval_node(e, block);
        self.depth -= 1;
        v
    }

    fn eval_node(&mut self, e: &Expr<'_>, block: usize) -> Ev<Value> {
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
                self.field_value(target, e.pos)
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
                let v = binary(*op, av, bv).map_err(|(kind, msg)| self.err(kind, e.pos, msg))?;
                if let Value::Str(s) = &v {
                    self.charge(s.len(), e.pos)?;
                }
                Ok(v)
            }
        }
    }
}

pub(super) fn ref_text(path: &RefPath<'_>) -> String {
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
            s.push_str(&format!("[{}]", crate::value::quoted(l)));
        }
    }
    s
}

/// The bytes a copy of `v` allocates: a string's length, an array's elements.
fn heap_bytes(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => 0,
        Value::Str(s) => s.len(),
        Value::IntArray(a) => a.len() * 8,
        Value::FloatArray(a) => a.len() * 8,
        Value::BoolArray(a) => a.len(),
        Value::StrArray(a) => a.iter().map(|s| s.len() + 24).sum(),
    }
}

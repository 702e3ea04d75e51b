//! From syntax tree to document (ACL.md §3–§6): duplicate checks, reference resolution,
//! evaluation and type checking. Every semantic error is collected; the earliest one wins.

mod duplicates;
mod evaluator;
mod ops;

use crate::ast::*;
use crate::document::{Block, Document, Field, Item};
use crate::error::{Error, ErrorKind};
use crate::name::Name;
use crate::parser::{BlockHead, Build, parse_with};
use crate::value::Value;

/// References nested deeper than this are refused rather than risking the stack.
const MAX_CHAIN: usize = 200;
/// Most bytes of strings and arrays one document may compute (ACL.md has no limit; this one
/// keeps a small hostile file from allocating gigabytes through references).
const MAX_EVAL_BYTES: u64 = 64 << 20;
/// Most expressions evaluated inside one another, across references: with [`MAX_CHAIN`]
/// references of operator-deep expressions the recursion would outgrow a thread's stack.
const MAX_EVAL_DEPTH: usize = 400;

use duplicates::{
    check_block_duplicates, check_duplicates, entry_of_block, entry_of_doc_block, entry_of_doc_item,
};
use evaluator::{BInfo, Evaluator, Slot, State, refs_in};

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
            names: None,
        });
        for b in &tree.blocks {
            let id = ev.add_block(b, 0);
            ev.blocks[0].items.push(Slot::Block(id));
        }
        ev.index_names();
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
                    name_pos: f.name_pos,
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
/// kept. It gives up on the first reference, and the caller parses again with the tree; or,
/// with `literals_only`, it refuses any value that is not a literal.
#[derive(Default)]
pub(crate) struct DirectBuilder<'t> {
    ev: Evaluator<'t>,
    errors: Vec<Error>,
    /// A reference was seen: the result is void and the tree path must run.
    pub(crate) needs_tree: bool,
    /// Refuse expressions and references (`parse_data`).
    literals_only: bool,
}

/// The first part of `e` that is not a literal: an operator, a cast, a group or a reference.
/// A negative number is a literal; the parser folds its sign in.
fn first_non_literal<'e>(e: &'e Expr<'e>) -> Option<&'e Expr<'e>> {
    match e.kind {
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) => None,
        _ => Some(e),
    }
}

impl<'a, 't> Build<'a> for DirectBuilder<'t> {
    type Item = Item;

    fn field(&mut self, f: FieldNode<'a>) -> Result<Item, Box<Error>> {
        if self.literals_only {
            let found = match &f.value {
                ValueNode::Expr(e) => first_non_literal(e),
                ValueNode::Array { elems, .. } => elems.iter().find_map(first_non_literal),
            };
            if let Some(e) = found {
                return Err(Error::boxed(
                    ErrorKind::ExpressionNotAllowed,
                    e.start(),
                    format!(
                        "the value of `{}` must be a literal: this file is data, read without \
                         evaluating expressions or references",
                        f.name
                    ),
                ));
            }
        }
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
            name_pos: f.name_pos,
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
/// must go through the syntax tree instead; with `literals_only`, a value that is not a
/// literal is an error and the result is never `None`.
pub(crate) fn parse_direct(text: &str, literals_only: bool) -> Result<Option<Document>, Error> {
    let mut build = DirectBuilder {
        literals_only,
        ..DirectBuilder::default()
    };
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

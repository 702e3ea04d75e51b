//! The ACL parser (ACL.md §2, §4, §5): tokens in, a syntax tree out. It stops at the first
//! error, which is one of `syntax`, `missing-semicolon`, `too-deep` or a lexical error.
//!
//! Invariant: every expression it returns has at most `MAX_OPERATOR_DEPTH` binary operators
//! and `2 * MAX_DEPTH` other nodes on any path, so the evaluator, the printer and the tree's drop, which all recurse, stay within
//! a thread's stack whatever the input.
//!
//! `cursor` reads tokens and attaches comments, `items` parses blocks and field
//! declarations, `expr` parses values and expressions, `refs` parses references.

mod cursor;
mod expr;
mod items;
mod refs;

use std::collections::VecDeque;

use crate::ast::*;
use crate::error::{Error, ErrorKind, Pos};
use crate::lexer::{Comment, Lexer, Token};

/// Deeper nesting of blocks or expressions than this is refused, so that hostile input
/// cannot exhaust the stack.
const MAX_DEPTH: u32 = 100;
/// Most binary operators on one path from an expression's root to a leaf. A chain such as
/// `1 + 1 + ...` is parsed in a loop, not by recursion, but builds a tree as deep as it is
/// long; every other construct nests by recursion and is bounded by [`MAX_DEPTH`].
const MAX_OPERATOR_DEPTH: u32 = 256;

/// What the parser makes of fields and blocks: a syntax tree ([`TreeBuilder`]), or the
/// finished document when nothing needs the tree (`eval::DirectBuilder`).
pub(crate) trait Build<'a> {
    /// A finished field or block.
    type Item;
    /// A field was parsed.
    fn field(&mut self, f: FieldNode<'a>) -> Result<Self::Item, Box<Error>>;
    /// A block was parsed, with its items.
    fn block(&mut self, head: BlockHead<'a>, items: Vec<Self::Item>) -> Self::Item;
}

/// A block without its items.
pub(crate) struct BlockHead<'a> {
    pub(crate) name: &'a str,
    pub(crate) label: Option<std::borrow::Cow<'a, str>>,
    pub(crate) pos: Pos,
    pub(crate) notes: Attached<'a>,
}

/// Builds the syntax tree.
pub(crate) struct TreeBuilder;

impl<'a> Build<'a> for TreeBuilder {
    type Item = ItemNode<'a>;

    fn field(&mut self, f: FieldNode<'a>) -> Result<ItemNode<'a>, Box<Error>> {
        Ok(ItemNode::Field(f))
    }

    fn block(&mut self, h: BlockHead<'a>, items: Vec<ItemNode<'a>>) -> ItemNode<'a> {
        ItemNode::Block(BlockNode {
            name: h.name,
            label: h.label,
            pos: h.pos,
            items,
            notes: h.notes,
        })
    }
}

/// What [`parse_with`] returns: the top-level items, the comments after them, and whether
/// any value holds a reference.
pub(crate) struct Parsed<'a, B: Build<'a>> {
    pub(crate) items: Vec<B::Item>,
    pub(crate) trailing: Vec<Comment<'a>>,
    pub(crate) has_refs: bool,
}

/// Parses `text` into a syntax tree.
pub(crate) fn parse(text: &str) -> Result<Tree<'_>, Box<Error>> {
    let parsed = parse_with(text, &mut TreeBuilder)?;
    let blocks = parsed
        .items
        .into_iter()
        .map(|i| match i {
            ItemNode::Block(b) => b,
            ItemNode::Field(_) => unreachable!("the top level holds only blocks"),
        })
        .collect();
    Ok(Tree {
        blocks,
        trailing: parsed.trailing,
        has_refs: parsed.has_refs,
    })
}

/// Parses `text`, handing every field and block to `build`.
pub(crate) fn parse_with<'a, B: Build<'a>>(
    text: &'a str,
    build: &mut B,
) -> Result<Parsed<'a, B>, Box<Error>> {
    let mut p = Parser {
        lex: Lexer::new(text),
        buf: VecDeque::new(),
        has_refs: false,
        prev_line: 0,
        comment_idx: 0,
        depth: 0,
        op_depth: 0,
        build,
    };
    p.document()
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Eof,
    Ident,
    Type,
    Str,
    LBrace,
    RBrace,
    Assign,
    Other,
}

struct Parser<'a, 'b, B: Build<'a>> {
    build: &'b mut B,
    lex: Lexer<'a>,
    buf: VecDeque<Token<'a>>,
    /// Whether a reference has been parsed.
    has_refs: bool,
    /// Line of the last consumed token.
    prev_line: u32,
    /// Comments before this index are attached to the tree already.
    comment_idx: usize,
    /// Blocks and expressions being parsed, one per recursive call.
    depth: u32,
    /// Binary operators on the deepest path of the expression parsed last.
    op_depth: u32,
}

fn syntax(pos: Pos, msg: impl Into<String>) -> Box<Error> {
    Error::boxed(ErrorKind::Syntax, pos, msg)
}

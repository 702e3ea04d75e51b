//! The syntax tree: what the parser produces, before references are resolved and values
//! computed. The canonical printer works on this tree, so it keeps comments and parentheses.

use std::borrow::Cow;

use crate::error::Pos;
use crate::lexer::Comment;
use crate::value::Scalar;

#[derive(Debug, Clone, Default)]
pub(crate) struct Tree<'a> {
    pub(crate) blocks: Vec<BlockNode<'a>>,
    /// Comments after the last block.
    pub(crate) trailing: Vec<Comment<'a>>,
    /// Whether any field value holds a reference.
    pub(crate) has_refs: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockNode<'a> {
    pub(crate) name: &'a str,
    pub(crate) label: Option<Cow<'a, str>>,
    pub(crate) pos: Pos,
    pub(crate) items: Vec<ItemNode<'a>>,
    pub(crate) notes: Attached<'a>,
}

#[derive(Debug, Clone)]
pub(crate) enum ItemNode<'a> {
    Field(FieldNode<'a>),
    Block(BlockNode<'a>),
}

/// Comments around an item, for the printer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes<'a> {
    pub(crate) leading: Vec<Comment<'a>>,
    pub(crate) trailing: Option<Comment<'a>>,
    /// For a block: comments between its last item and its closing `}`.
    pub(crate) inner_trailing: Vec<Comment<'a>>,
}

static NO_NOTES: Notes<'static> = Notes {
    leading: Vec::new(),
    trailing: None,
    inner_trailing: Vec::new(),
};

/// What the printer needs around an item. Comments are rare, so they live behind a box and an
/// item without any costs one pointer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attached<'a> {
    comments: Option<Box<Notes<'a>>>,
    pub(crate) blank_before: bool,
}

impl<'a> Attached<'a> {
    pub(crate) fn new(leading: Vec<Comment<'a>>, blank_before: bool) -> Attached<'a> {
        let comments = (!leading.is_empty()).then(|| {
            Box::new(Notes {
                leading,
                ..Notes::default()
            })
        });
        Attached {
            comments,
            blank_before,
        }
    }

    pub(crate) fn get(&self) -> &Notes<'a> {
        self.comments.as_deref().unwrap_or(&NO_NOTES)
    }

    pub(crate) fn set_trailing(&mut self, c: Option<Comment<'a>>) {
        if c.is_some() {
            self.comments.get_or_insert_default().trailing = c;
        }
    }

    pub(crate) fn set_inner_trailing(&mut self, c: Vec<Comment<'a>>) {
        if !c.is_empty() {
            self.comments.get_or_insert_default().inner_trailing = c;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decl {
    Scalar(Scalar),
    Array(Scalar),
    Ref,
}

#[derive(Debug, Clone)]
pub(crate) struct FieldNode<'a> {
    pub(crate) name: &'a str,
    /// The field's first token: its type keyword, or its name when inferred.
    pub(crate) pos: Pos,
    /// Where its name is.
    pub(crate) name_pos: Pos,
    pub(crate) decl: Option<Decl>,
    pub(crate) value: ValueNode<'a>,
    pub(crate) notes: Attached<'a>,
}

#[derive(Debug, Clone)]
pub(crate) enum ValueNode<'a> {
    Array { pos: Pos, elems: Vec<Expr<'a>> },
    Expr(Expr<'a>),
}

impl ValueNode<'_> {
    pub(crate) fn start(&self) -> Pos {
        match self {
            ValueNode::Array { pos, .. } => *pos,
            ValueNode::Expr(e) => e.start(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    /// Binding strength; higher binds tighter (ACL.md §5.1).
    pub(crate) fn level(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
        }
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// Where a reference starts (ACL.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Anchor {
    /// `$A.b`: the first segment is a top-level block.
    Global,
    /// `$.x`: the field's own block.
    Local,
    /// `^x` (1), `^^x` (2), ...: that many blocks up.
    Up(u32),
    /// `x`: a bare identifier, the same as `$.x`.
    Bare,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seg<'a> {
    pub(crate) name: &'a str,
    pub(crate) label: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefPath<'a> {
    pub(crate) anchor: Anchor,
    pub(crate) segs: Vec<Seg<'a>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Expr<'a> {
    /// Where errors about this expression point: the literal or reference itself, the
    /// operator of a unary or binary expression, `?` of a ternary, `(` of a cast or group.
    pub(crate) pos: Pos,
    pub(crate) kind: ExprKind<'a>,
}

#[derive(Debug, Clone)]
pub(crate) enum ExprKind<'a> {
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    Ref(RefPath<'a>),
    Paren(Box<Expr<'a>>),
    Unary(UnOp, Box<Expr<'a>>),
    Binary(BinOp, Box<Expr<'a>>, Box<Expr<'a>>),
    Ternary(Box<Expr<'a>>, Box<Expr<'a>>, Box<Expr<'a>>),
    Cast(Scalar, Box<Expr<'a>>),
}

impl Expr<'_> {
    /// The position of the expression's first token.
    pub(crate) fn start(&self) -> Pos {
        match &self.kind {
            ExprKind::Binary(_, l, _) => l.start(),
            ExprKind::Ternary(c, _, _) => c.start(),
            _ => self.pos,
        }
    }
}

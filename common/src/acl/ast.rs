//! The syntax tree: what the parser produces, before references are resolved and values
//! computed. The canonical printer works on this tree, so it keeps comments and parentheses.

use super::error::Pos;
use super::lexer::Comment;
use super::value::Scalar;

#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub(crate) blocks: Vec<BlockNode>,
    /// Comments after the last block.
    pub(crate) trailing: Vec<Comment>,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockNode {
    pub(crate) name: String,
    pub(crate) label: Option<String>,
    pub(crate) pos: Pos,
    pub(crate) items: Vec<ItemNode>,
    pub(crate) notes: Notes,
    /// Comments between the last item and the closing `}`.
    pub(crate) inner_trailing: Vec<Comment>,
}

#[derive(Debug, Clone)]
pub(crate) enum ItemNode {
    Field(FieldNode),
    Block(BlockNode),
}

/// Comments and spacing around an item, for the printer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes {
    pub(crate) leading: Vec<Comment>,
    pub(crate) trailing: Option<Comment>,
    pub(crate) blank_before: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decl {
    Scalar(Scalar),
    Array(Scalar),
    Ref,
}

#[derive(Debug, Clone)]
pub(crate) struct FieldNode {
    pub(crate) name: String,
    /// The field's first token: its type keyword, or its name when inferred.
    pub(crate) pos: Pos,
    pub(crate) decl: Option<Decl>,
    pub(crate) value: ValueNode,
    pub(crate) notes: Notes,
}

#[derive(Debug, Clone)]
pub(crate) enum ValueNode {
    Array { pos: Pos, elems: Vec<Expr> },
    Expr(Expr),
}

impl ValueNode {
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
pub(crate) struct Seg {
    pub(crate) name: String,
    pub(crate) label: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefPath {
    pub(crate) anchor: Anchor,
    pub(crate) segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
pub(crate) struct Expr {
    /// Where errors about this expression point: the literal or reference itself, the
    /// operator of a unary or binary expression, `?` of a ternary, `(` of a cast or group.
    pub(crate) pos: Pos,
    pub(crate) kind: ExprKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Ref(RefPath),
    Paren(Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(Scalar, Box<Expr>),
}

impl Expr {
    /// The position of the expression's first token.
    pub(crate) fn start(&self) -> Pos {
        match &self.kind {
            ExprKind::Binary(_, l, _) => l.start(),
            ExprKind::Ternary(c, _, _) => c.start(),
            _ => self.pos,
        }
    }
}

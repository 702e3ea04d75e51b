//! Values and expressions (ACL.md §5): array literals, the ternary, binary operators by
//! precedence, unary operators and casts, literals and parentheses.

use super::{Build, Class, MAX_OPERATOR_DEPTH, Parser, syntax};
use crate::ast::*;
use crate::error::{Error, ErrorKind};
use crate::lexer::Tok;

impl<'a, B: Build<'a>> Parser<'a, '_, B> {
    pub(super) fn value(&mut self) -> Result<ValueNode<'a>, Box<Error>> {
        if self.peek()?.tok != Tok::LBrace {
            return Ok(ValueNode::Expr(self.expr()?));
        }
        let open = self.next()?;
        let mut elems = Vec::new();
        if self.peek()?.tok == Tok::RBrace {
            self.next()?;
            return Ok(ValueNode::Array {
                pos: open.pos,
                elems,
            });
        }
        loop {
            let (pos, class) = self.class(0)?;
            if class == Class::LBrace {
                return Err(syntax(
                    pos,
                    "arrays cannot nest: an element must be a single value",
                ));
            }
            if class == Class::RBrace {
                return Err(syntax(
                    pos,
                    "expected an array element after `,` (no trailing comma)",
                ));
            }
            elems.push(self.expr()?);
            let sep = self.next()?;
            match sep.tok {
                Tok::Comma => {}
                Tok::RBrace => break,
                other => {
                    return Err(syntax(
                        sep.pos,
                        format!("expected `,` or `}}` in array, found {}", other.describe()),
                    ));
                }
            }
        }
        Ok(ValueNode::Array {
            pos: open.pos,
            elems,
        })
    }

    pub(super) fn expr(&mut self) -> Result<Expr<'a>, Box<Error>> {
        let start = self.peek()?.pos;
        self.enter(start)?;
        let cond = self.binary(1)?;
        let e = if self.peek()?.tok == Tok::Question {
            let cond_depth = self.op_depth;
            let q = self.next()?;
            let a = self.expr()?;
            let a_depth = self.op_depth;
            self.expect(Tok::Colon, "`:` of the `?:` expression")?;
            let b = self.expr()?;
            self.op_depth = self.op_depth.max(cond_depth).max(a_depth);
            Expr {
                pos: q.pos,
                kind: ExprKind::Ternary(Box::new(cond), Box::new(a), Box::new(b)),
            }
        } else {
            cond
        };
        self.depth -= 1;
        Ok(e)
    }

    pub(super) fn binop(tok: &Tok) -> Option<BinOp> {
        Some(match tok {
            Tok::OrOr => BinOp::Or,
            Tok::AndAnd => BinOp::And,
            Tok::EqEq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Gt => BinOp::Gt,
            Tok::Le => BinOp::Le,
            Tok::Ge => BinOp::Ge,
            Tok::Plus => BinOp::Add,
            Tok::Minus => BinOp::Sub,
            Tok::Star => BinOp::Mul,
            Tok::Slash => BinOp::Div,
            Tok::Percent => BinOp::Rem,
            _ => return None,
        })
    }

    pub(super) fn binary(&mut self, min_level: u8) -> Result<Expr<'a>, Box<Error>> {
        let mut lhs = self.unary()?;
        let mut depth = self.op_depth;
        loop {
            let t = self.peek()?;
            let Some(op) = Self::binop(&t.tok) else { break };
            if op.level() < min_level {
                break;
            }
            let op_tok = self.next()?;
            let rhs = self.binary(op.level() + 1)?;
            // Each operator of the chain puts everything before it one level deeper.
            depth = depth.max(self.op_depth) + 1;
            if depth > MAX_OPERATOR_DEPTH {
                return Err(Error::boxed(
                    ErrorKind::TooDeep,
                    op_tok.pos,
                    format!(
                        "more than {MAX_OPERATOR_DEPTH} operators deep: split the expression \
                         into several fields"
                    ),
                ));
            }
            lhs = Expr {
                pos: op_tok.pos,
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        self.op_depth = depth;
        Ok(lhs)
    }

    pub(super) fn unary(&mut self) -> Result<Expr<'a>, Box<Error>> {
        let t = self.peek()?;
        let pos = t.pos;
        let op = match t.tok {
            Tok::Bang => Some(UnOp::Not),
            Tok::Minus => Some(UnOp::Neg),
            Tok::Plus => Some(UnOp::Plus),
            _ => None,
        };
        if let Some(op) = op {
            self.next()?;
            self.enter(pos)?;
            // `-9223372036854775808` is the one literal that only exists negated.
            let operand = if op == UnOp::Neg && self.peek()?.tok == Tok::Int(1u64 << 63) {
                self.next()?;
                self.op_depth = 0;
                Expr {
                    pos,
                    kind: ExprKind::Int(i64::MIN),
                }
            } else {
                let inner = self.unary()?;
                match (op, inner.kind) {
                    (UnOp::Neg, ExprKind::Int(n)) if n != i64::MIN => Expr {
                        pos,
                        kind: ExprKind::Int(-n),
                    },
                    (UnOp::Neg, ExprKind::Float(f)) => Expr {
                        pos,
                        kind: ExprKind::Float(-f),
                    },
                    (_, kind) => Expr {
                        pos,
                        kind: ExprKind::Unary(
                            op,
                            Box::new(Expr {
                                pos: inner.pos,
                                kind,
                            }),
                        ),
                    },
                }
            };
            self.depth -= 1;
            return Ok(operand);
        }
        if self.peek()?.tok == Tok::LParen
            && let Tok::Type(s) = self.peek_at(1)?.tok
            && self.peek_at(2)?.tok == Tok::RParen
        {
            self.next()?;
            self.next()?;
            self.next()?;
            self.enter(pos)?;
            let operand = self.unary()?;
            self.depth -= 1;
            return Ok(Expr {
                pos,
                kind: ExprKind::Cast(s, Box::new(operand)),
            });
        }
        self.primary()
    }

    pub(super) fn primary(&mut self) -> Result<Expr<'a>, Box<Error>> {
        // A literal or a reference; a parenthesised expression sets its own depth.
        self.op_depth = 0;
        let t = self.next()?;
        let kind = match t.tok {
            Tok::Int(n) => match i64::try_from(n) {
                Ok(n) => ExprKind::Int(n),
                Err(_) => {
                    return Err(Error::boxed(
                        ErrorKind::IntOverflow,
                        t.pos,
                        format!("integer `{n}` does not fit in a 64-bit signed int"),
                    ));
                }
            },
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::LParen => {
                let inner = self.expr()?;
                self.expect(Tok::RParen, "`)`")?;
                ExprKind::Paren(Box::new(inner))
            }
            Tok::Dollar => {
                let next = self.next()?;
                let (anchor, first) = match next.tok {
                    Tok::Dot => (Anchor::Local, self.seg_name()?),
                    Tok::Ident(s) => (Anchor::Global, s),
                    other => {
                        return Err(syntax(
                            next.pos,
                            format!(
                                "expected `.name` or a block name after `$`, found {}",
                                other.describe()
                            ),
                        ));
                    }
                };
                ExprKind::Ref(self.ref_rest(anchor, first)?)
            }
            Tok::Caret => {
                let mut n = 1;
                while self.peek()?.tok == Tok::Caret {
                    self.next()?;
                    n += 1;
                }
                let first = self.seg_name()?;
                ExprKind::Ref(self.ref_rest(Anchor::Up(n), first)?)
            }
            Tok::Ident(s) => ExprKind::Ref(self.ref_rest(Anchor::Bare, s)?),
            Tok::LBracket => {
                return Err(syntax(
                    t.pos,
                    "`[` cannot start a value; arrays are written `{a, b}`",
                ));
            }
            other => {
                return Err(syntax(
                    t.pos,
                    format!("expected a value, found {}", other.describe()),
                ));
            }
        };
        Ok(Expr { pos: t.pos, kind })
    }
}

//! The ACL parser (ACL.md §2, §4, §5): tokens in, a syntax tree out. It stops at the first
//! error, which is one of `syntax`, `missing-semicolon` or a lexical error.

use std::collections::VecDeque;

use crate::ast::*;
use crate::error::{Error, ErrorKind, Pos};
use crate::lexer::{Comment, Lexer, Tok, Token};

/// Deeper nesting of blocks or expressions than this is refused, so that hostile input
/// cannot exhaust the stack.
const MAX_DEPTH: u32 = 100;

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
    depth: u32,
}

fn syntax(pos: Pos, msg: impl Into<String>) -> Box<Error> {
    Error::boxed(ErrorKind::Syntax, pos, msg)
}

impl<'a, B: Build<'a>> Parser<'a, '_, B> {
    fn fill(&mut self, k: usize) -> Result<(), Box<Error>> {
        while self.buf.len() <= k {
            let t = self.lex.next_token()?;
            self.buf.push_back(t);
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<&Token<'a>, Box<Error>> {
        self.fill(0)?;
        Ok(&self.buf[0])
    }

    fn peek_at(&mut self, k: usize) -> Result<&Token<'a>, Box<Error>> {
        self.fill(k)?;
        Ok(&self.buf[k])
    }

    /// The kind of the token `k` ahead, without cloning it.
    fn class(&mut self, k: usize) -> Result<(Pos, Class), Box<Error>> {
        let t = self.peek_at(k)?;
        let class = match t.tok {
            Tok::Eof => Class::Eof,
            Tok::Ident(_) => Class::Ident,
            Tok::Type(_) | Tok::Ref => Class::Type,
            Tok::Str(_) => Class::Str,
            Tok::LBrace => Class::LBrace,
            Tok::RBrace => Class::RBrace,
            Tok::Assign => Class::Assign,
            _ => Class::Other,
        };
        Ok((t.pos, class))
    }

    fn describe(&mut self, k: usize) -> Result<String, Box<Error>> {
        Ok(self.peek_at(k)?.tok.describe())
    }

    fn next(&mut self) -> Result<Token<'a>, Box<Error>> {
        self.fill(0)?;
        let t = self.buf.pop_front().expect("fill(0) leaves a token");
        self.prev_line = t.pos.line;
        Ok(t)
    }

    fn expect(&mut self, want: Tok<'a>, what: &str) -> Result<Token<'a>, Box<Error>> {
        let t = self.next()?;
        if t.tok == want {
            Ok(t)
        } else {
            Err(syntax(
                t.pos,
                format!("expected {what}, found {}", t.tok.describe()),
            ))
        }
    }

    fn enter(&mut self, pos: Pos) -> Result<(), Box<Error>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(
                pos,
                format!("nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    /// Comments that start before `pos` and are not attached yet.
    fn comments_before(&mut self, pos: Pos) -> Vec<Comment<'a>> {
        let mut out = Vec::new();
        while let Some(c) = self.lex.comments.get(self.comment_idx) {
            if c.pos >= pos {
                break;
            }
            out.push(c.clone());
            self.comment_idx += 1;
        }
        out
    }

    /// Notes for an item starting at `pos`: its leading comments and whether a blank line
    /// precedes it.
    fn leading_notes(&mut self, pos: Pos) -> Attached<'a> {
        let before = self.prev_line;
        let leading = self.comments_before(pos);
        let first_line = leading.first().map_or(pos.line, |c| c.pos.line);
        Attached::new(leading, before > 0 && first_line > before + 1)
    }

    /// A `//` or `/* */` comment on the same line as the item's last token.
    fn trailing_comment(&mut self) -> Result<Option<Comment<'a>>, Box<Error>> {
        let line = self.prev_line;
        let next_pos = self.peek()?.pos;
        match self.lex.comments.get(self.comment_idx) {
            Some(c) if c.pos.line == line && c.pos < next_pos => {
                let c = c.clone();
                self.comment_idx += 1;
                Ok(Some(c))
            }
            _ => Ok(None),
        }
    }

    fn document(&mut self) -> Result<Parsed<'a, B>, Box<Error>> {
        let mut items = Vec::new();
        loop {
            let (pos, class) = self.class(0)?;
            match class {
                Class::Eof => break,
                Class::Ident => {
                    if self.class(1)?.1 == Class::Assign {
                        return Err(syntax(
                            pos,
                            "a field at the top level: fields belong inside a block, `Name { ... }`",
                        ));
                    }
                    let notes = self.leading_notes(pos);
                    let b = self.block(notes)?;
                    items.push(b);
                }
                Class::Type => {
                    return Err(syntax(
                        pos,
                        "a field at the top level: fields belong inside a block, `Name { ... }`",
                    ));
                }
                _ => {
                    return Err(syntax(
                        pos,
                        format!("expected a block, found {}", self.describe(0)?),
                    ));
                }
            }
        }
        let end = self.peek()?.pos;
        let trailing = self.comments_before(Pos {
            line: end.line,
            col: end.col + 1,
        });
        Ok(Parsed {
            items,
            trailing,
            has_refs: self.has_refs,
        })
    }

    /// `Name ["label"] { items }`; the next token is the name.
    fn block(&mut self, mut notes: Attached<'a>) -> Result<B::Item, Box<Error>> {
        let name_tok = self.next()?;
        let Tok::Ident(name) = name_tok.tok else {
            return Err(syntax(name_tok.pos, "expected a block name"));
        };
        self.enter(name_tok.pos)?;
        let label = if self.class(0)?.1 == Class::Str {
            match self.next()?.tok {
                Tok::Str(s) => Some(s),
                _ => unreachable!("class said string"),
            }
        } else {
            None
        };
        let open = self.next()?;
        if open.tok != Tok::LBrace {
            let what = if matches!(open.tok, Tok::Str(_)) {
                "a block has at most one label; expected `{`".to_string()
            } else {
                format!(
                    "expected `{{` to open block `{name}`, found {}",
                    open.tok.describe()
                )
            };
            return Err(syntax(open.pos, what));
        }
        let mut items = Vec::new();
        loop {
            let (pos, class) = self.class(0)?;
            match class {
                Class::RBrace => break,
                Class::Eof => {
                    return Err(syntax(
                        pos,
                        format!(
                            "block `{name}` opened at line {} is not closed: add `}}`",
                            name_tok.pos.line
                        ),
                    ));
                }
                Class::Type => {
                    let notes = self.leading_notes(pos);
                    items.push(self.typed_field(notes)?);
                }
                Class::Ident => {
                    let notes = self.leading_notes(pos);
                    match self.class(1)? {
                        (_, Class::Assign) => items.push(self.inferred_field(notes)?),
                        (_, Class::LBrace | Class::Str) => items.push(self.block(notes)?),
                        (npos, _) => {
                            let what = format!(
                                "expected `=` or `{{` after `{}`, found {}",
                                ident_text(&self.peek_at(0)?.tok),
                                self.describe(1)?
                            );
                            return Err(syntax(npos, what));
                        }
                    }
                }
                _ => {
                    let what = format!(
                        "expected a field, a block or `}}`, found {}",
                        self.describe(0)?
                    );
                    return Err(syntax(pos, what));
                }
            }
        }
        let close = self.peek()?.pos;
        let inner_trailing = self.comments_before(close);
        notes.set_inner_trailing(inner_trailing);
        self.next()?; // `}`
        notes.set_trailing(self.trailing_comment()?);
        self.depth -= 1;
        let head = BlockHead {
            name,
            label,
            pos: name_tok.pos,
            notes,
        };
        Ok(self.build.block(head, items))
    }

    fn typed_field(&mut self, mut notes: Attached<'a>) -> Result<B::Item, Box<Error>> {
        let ty = self.next()?;
        let mut decl = match ty.tok {
            Tok::Type(s) => Decl::Scalar(s),
            _ => Decl::Ref,
        };
        if self.peek()?.tok == Tok::LBracket {
            let open = self.next()?;
            decl = match decl {
                Decl::Scalar(s) => Decl::Array(s),
                _ => {
                    return Err(syntax(
                        open.pos,
                        "`ref[]` is not a type: a ref aliases one field",
                    ));
                }
            };
            self.expect(Tok::RBracket, "`]`")?;
        }
        let name_tok = self.next()?;
        let name = match name_tok.tok {
            Tok::Ident(s) => s,
            other => {
                return Err(syntax(
                    name_tok.pos,
                    format!("expected a field name, found {}", other.describe()),
                ));
            }
        };
        self.expect(Tok::Assign, "`=`")?;
        let value = self.value()?;
        self.semicolon(name)?;
        notes.set_trailing(self.trailing_comment()?);
        self.build.field(FieldNode {
            name,
            pos: ty.pos,
            decl: Some(decl),
            value,
            notes,
        })
    }

    fn inferred_field(&mut self, mut notes: Attached<'a>) -> Result<B::Item, Box<Error>> {
        let name_tok = self.next()?;
        let Tok::Ident(name) = name_tok.tok else {
            unreachable!("the caller saw an identifier")
        };
        self.next()?; // `=`
        let value = self.value()?;
        self.semicolon(name)?;
        notes.set_trailing(self.trailing_comment()?);
        self.build.field(FieldNode {
            name,
            pos: name_tok.pos,
            decl: None,
            value,
            notes,
        })
    }

    fn semicolon(&mut self, field: &str) -> Result<(), Box<Error>> {
        let t = self.next()?;
        if t.tok == Tok::Semi {
            return Ok(());
        }
        Err(Error::boxed(
            ErrorKind::MissingSemicolon,
            t.pos,
            format!(
                "expected `;` after the value of `{field}`, found {}",
                t.tok.describe()
            ),
        ))
    }

    fn value(&mut self) -> Result<ValueNode<'a>, Box<Error>> {
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

    fn expr(&mut self) -> Result<Expr<'a>, Box<Error>> {
        let start = self.peek()?.pos;
        self.enter(start)?;
        let cond = self.binary(1)?;
        let e = if self.peek()?.tok == Tok::Question {
            let q = self.next()?;
            let a = self.expr()?;
            self.expect(Tok::Colon, "`:` of the `?:` expression")?;
            let b = self.expr()?;
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

    fn binop(tok: &Tok) -> Option<BinOp> {
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

    fn binary(&mut self, min_level: u8) -> Result<Expr<'a>, Box<Error>> {
        let mut lhs = self.unary()?;
        loop {
            let t = self.peek()?;
            let Some(op) = Self::binop(&t.tok) else { break };
            if op.level() < min_level {
                break;
            }
            let op_tok = self.next()?;
            let rhs = self.binary(op.level() + 1)?;
            lhs = Expr {
                pos: op_tok.pos,
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr<'a>, Box<Error>> {
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

    fn primary(&mut self) -> Result<Expr<'a>, Box<Error>> {
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

    fn seg_name(&mut self) -> Result<&'a str, Box<Error>> {
        let t = self.next()?;
        match t.tok {
            Tok::Ident(s) => Ok(s),
            other => Err(syntax(
                t.pos,
                format!(
                    "expected a name in the reference, found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn ref_rest(&mut self, anchor: Anchor, first: &'a str) -> Result<RefPath<'a>, Box<Error>> {
        self.has_refs = true;
        let mut segs = vec![Seg {
            name: first,
            label: None,
        }];
        loop {
            match self.peek()?.tok {
                Tok::Dot => {
                    self.next()?;
                    let name = self.seg_name()?;
                    segs.push(Seg { name, label: None });
                }
                Tok::LBracket => {
                    let open = self.next()?;
                    let t = self.next()?;
                    let label = match t.tok {
                        Tok::Str(s) => s,
                        Tok::Int(_) => {
                            return Err(syntax(
                                t.pos,
                                "a reference cannot index with a number; use a label `[\"name\"]`",
                            ));
                        }
                        other => {
                            return Err(syntax(
                                t.pos,
                                format!("expected a label string, found {}", other.describe()),
                            ));
                        }
                    };
                    self.expect(Tok::RBracket, "`]`")?;
                    let last = segs.last_mut().expect("a reference has a first segment");
                    if last.label.is_some() {
                        return Err(syntax(
                            open.pos,
                            "a label must follow a name: write `name[\"label\"]`",
                        ));
                    }
                    last.label = Some(label);
                }
                _ => break,
            }
        }
        Ok(RefPath { anchor, segs })
    }
}

fn ident_text(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.to_string(),
        other => other.describe(),
    }
}

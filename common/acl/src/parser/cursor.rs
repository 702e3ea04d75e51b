//! The token cursor: lookahead, expected tokens, nesting depth and comments attached to items.

use super::{Build, Class, MAX_DEPTH, Parser, syntax};
use crate::ast::Attached;
use crate::error::{Error, Pos};
use crate::lexer::{Comment, Tok, Token};

impl<'a, B: Build<'a>> Parser<'a, '_, B> {
    pub(super) fn fill(&mut self, k: usize) -> Result<(), Box<Error>> {
        while self.buf.len() <= k {
            let t = self.lex.next_token()?;
            self.buf.push_back(t);
        }
        Ok(())
    }

    pub(super) fn peek(&mut self) -> Result<&Token<'a>, Box<Error>> {
        self.fill(0)?;
        Ok(&self.buf[0])
    }

    pub(super) fn peek_at(&mut self, k: usize) -> Result<&Token<'a>, Box<Error>> {
        self.fill(k)?;
        Ok(&self.buf[k])
    }

    /// The kind of the token `k` ahead, without cloning it.
    pub(super) fn class(&mut self, k: usize) -> Result<(Pos, Class), Box<Error>> {
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

    pub(super) fn describe(&mut self, k: usize) -> Result<String, Box<Error>> {
        Ok(self.peek_at(k)?.tok.describe())
    }

    pub(super) fn next(&mut self) -> Result<Token<'a>, Box<Error>> {
        self.fill(0)?;
        let t = self.buf.pop_front().expect("fill(0) leaves a token");
        self.prev_line = t.pos.line;
        Ok(t)
    }

    pub(super) fn expect(&mut self, want: Tok<'a>, what: &str) -> Result<Token<'a>, Box<Error>> {
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

    pub(super) fn enter(&mut self, pos: Pos) -> Result<(), Box<Error>> {
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
    pub(super) fn comments_before(&mut self, pos: Pos) -> Vec<Comment<'a>> {
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
    pub(super) fn leading_notes(&mut self, pos: Pos) -> Attached<'a> {
        let before = self.prev_line;
        let leading = self.comments_before(pos);
        let first_line = leading.first().map_or(pos.line, |c| c.pos.line);
        Attached::new(leading, before > 0 && first_line > before + 1)
    }

    /// A `//` or `/* */` comment on the same line as the item's last token.
    pub(super) fn trailing_comment(&mut self) -> Result<Option<Comment<'a>>, Box<Error>> {
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
}

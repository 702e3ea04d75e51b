//! ACL values and types (ACL.md §3).

use std::fmt;

/// A scalar type keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `int`, an i64.
    Int,
    /// `float`, an f64.
    Float,
    /// `bool`.
    Bool,
    /// `string`.
    String,
}

impl Scalar {
    /// The keyword as written in ACL.
    pub fn keyword(self) -> &'static str {
        match self {
            Scalar::Int => "int",
            Scalar::Float => "float",
            Scalar::Bool => "bool",
            Scalar::String => "string",
        }
    }
}

/// The type of a value: a scalar or an array of scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type {
    /// The element type.
    pub scalar: Scalar,
    /// Whether this is `T[]`.
    pub array: bool,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scalar.keyword())?;
        if self.array {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

/// A resolved ACL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A bool.
    Bool(bool),
    /// A string.
    Str(String),
    /// An `int[]`.
    IntArray(Vec<i64>),
    /// A `float[]`.
    FloatArray(Vec<f64>),
    /// A `bool[]`.
    BoolArray(Vec<bool>),
    /// A `string[]`.
    StrArray(Vec<String>),
}

impl Value {
    /// The value's type.
    pub fn ty(&self) -> Type {
        let (scalar, array) = match self {
            Value::Int(_) => (Scalar::Int, false),
            Value::Float(_) => (Scalar::Float, false),
            Value::Bool(_) => (Scalar::Bool, false),
            Value::Str(_) => (Scalar::String, false),
            Value::IntArray(_) => (Scalar::Int, true),
            Value::FloatArray(_) => (Scalar::Float, true),
            Value::BoolArray(_) => (Scalar::Bool, true),
            Value::StrArray(_) => (Scalar::String, true),
        };
        Type { scalar, array }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The int, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as a float; ints are accepted (ACL.md §7.2).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The strings, if this is a `string[]`.
    pub fn as_str_array(&self) -> Option<&[String]> {
        match self {
            Value::StrArray(v) => Some(v),
            _ => None,
        }
    }

    /// Element `i` of an array value, as a scalar value.
    pub fn index(&self, i: usize) -> Option<Value> {
        match self {
            Value::IntArray(v) => v.get(i).map(|x| Value::Int(*x)),
            Value::FloatArray(v) => v.get(i).map(|x| Value::Float(*x)),
            Value::BoolArray(v) => v.get(i).map(|x| Value::Bool(*x)),
            Value::StrArray(v) => v.get(i).map(|x| Value::Str(x.clone())),
            _ => None,
        }
    }
}

/// Formats a float as ACL.md §7.3 wants: Rust's shortest round-trip `{:?}` text.
pub(crate) fn float_text(f: f64) -> String {
    format!("{f:?}")
}

/// Escapes a string for output between double quotes (`\\ \" \n \t \r \0`).
pub(crate) fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
}

/// `"…"` with escapes.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape(s, &mut out);
    out.push('"');
    out
}

/// The dump form of ACL.md §7.3: `int:-3`, `float:384.0`, `string:"a"`, `string[]:["a","b"]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            v: &[T],
            each: impl Fn(&T) -> String,
        ) -> fmt::Result {
            f.write_str("[")?;
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(&each(x))?;
            }
            f.write_str("]")
        }
        write!(f, "{}:", self.ty())?;
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => f.write_str(&float_text(*x)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => f.write_str(&quoted(s)),
            Value::IntArray(v) => list(f, v, |n| n.to_string()),
            Value::FloatArray(v) => list(f, v, |x| float_text(*x)),
            Value::BoolArray(v) => list(f, v, |b| b.to_string()),
            Value::StrArray(v) => list(f, v, |s| quoted(s)),
        }
    }
}

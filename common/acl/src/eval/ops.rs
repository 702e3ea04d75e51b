//! Operators, casts and type conversions (ACL.md §3.2, §5).

use crate::ast::BinOp;
use crate::error::ErrorKind;
use crate::value::{Scalar, Value, float_text};

/// Longest string an operator may compute. Literals are not capped (the source's size bounds
/// them); without a cap, `x1 = x0 + x0; x2 = x1 + x1; ...` doubles a value per line.
const MAX_VALUE_BYTES: usize = 1 << 20;

/// ACL.md §3.2: the declared scalar type, with int→float the only implicit conversion.
pub(super) fn convert(v: Value, s: Scalar) -> Result<Value, Value> {
    match (v, s) {
        (v @ Value::Int(_), Scalar::Int)
        | (v @ Value::Float(_), Scalar::Float)
        | (v @ Value::Bool(_), Scalar::Bool)
        | (v @ Value::Str(_), Scalar::String) => Ok(v),
        (Value::Int(n), Scalar::Float) => Ok(Value::Float(n as f64)),
        (v, _) => Err(v),
    }
}

pub(super) fn convert_array(v: Value, s: Scalar) -> Result<Value, Value> {
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
pub(super) fn collect_array(s: Scalar, vals: Vec<Value>) -> Value {
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
pub(super) fn text_of(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) type OpResult = Result<Value, (ErrorKind, String)>;

pub(super) fn finite(f: f64, what: &str) -> OpResult {
    if f.is_finite() {
        Ok(Value::Float(f))
    } else {
        Err((
            ErrorKind::FloatOverflow,
            format!("{what} is not a finite float"),
        ))
    }
}

/// `a + b` where either is a string, refused past [`MAX_VALUE_BYTES`] before anything is
/// allocated for the result.
fn concat(a: Value, b: Value) -> OpResult {
    let into_text = |v: Value| match v {
        Value::Str(s) => s,
        other => text_of(&other),
    };
    let (mut a, b) = (into_text(a), into_text(b));
    let len = a.len() + b.len();
    if len > MAX_VALUE_BYTES {
        return Err((
            ErrorKind::ValueTooLarge,
            format!(
                "the string would be {len} bytes long; one value may hold at most {} KiB",
                MAX_VALUE_BYTES >> 10
            ),
        ));
    }
    a.push_str(&b);
    Ok(Value::Str(a))
}

pub(super) fn binary(op: BinOp, a: Value, b: Value) -> OpResult {
    use Value::*;
    let sym = op.text();
    let mismatch = |a: &Value, b: &Value| {
        Err((
            ErrorKind::TypeMismatch,
            format!("`{sym}` cannot take {} and {}", a.ty(), b.ty()),
        ))
    };
    match op {
        BinOp::Add if matches!(a, Str(_)) || matches!(b, Str(_)) => concat(a, b),
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

pub(super) fn is_decimal_int(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn is_decimal_float(s: &str) -> bool {
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
pub(super) fn cast(v: Value, to: Scalar) -> OpResult {
    use Value::*;
    let bad = |v: &Value| {
        Err((
            ErrorKind::BadCast,
            format!(
                "cannot cast {} to {}",
                crate::value::quoted(&text_of(v)),
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

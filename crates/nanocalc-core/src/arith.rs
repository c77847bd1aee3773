//! The arithmetic of docs/DESIGN.md ("The arithmetic contract"): exact signed 64-bit results,
//! saturated where they do not fit.

use crate::wire::operation;

/// One of the five operations of the schema's `Operation` enum (never `UNSPECIFIED`), its wire
/// value as discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    Add = operation::ADD as u8,
    Subtract = operation::SUBTRACT as u8,
    Multiply = operation::MULTIPLY as u8,
    Divide = operation::DIVIDE as u8,
    Remainder = operation::REMAINDER as u8,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Add, Op::Subtract, Op::Multiply, Op::Divide, Op::Remainder];

    /// The operation for a wire value of the `Operation` enum; `None` for `UNSPECIFIED` and unknown values.
    #[inline]
    pub fn from_wire(value: i32) -> Option<Op> {
        match value {
            operation::ADD => Some(Op::Add),
            operation::SUBTRACT => Some(Op::Subtract),
            operation::MULTIPLY => Some(Op::Multiply),
            operation::DIVIDE => Some(Op::Divide),
            operation::REMAINDER => Some(Op::Remainder),
            _ => None,
        }
    }

    /// Whether the operation can fail (only on a zero divisor).
    #[inline]
    pub fn can_fail(self) -> bool {
        matches!(self, Op::Divide | Op::Remainder)
    }
}

/// The only arithmetic failure: a zero divisor in `Divide` or `Remainder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DivisionByZero;

/// `a op b` with nanocalc's rules: add, subtract and multiply saturate to `[i64::MIN, i64::MAX]`;
/// divide truncates toward zero and saturates (`MIN / -1 = MAX`); remainder takes the sign of the
/// dividend and `MIN % -1 = 0`; a zero divisor is an error.
#[inline(always)]
pub fn apply(op: Op, a: i64, b: i64) -> Result<i64, DivisionByZero> {
    match op {
        Op::Add => Ok(a.saturating_add(b)),
        Op::Subtract => Ok(a.saturating_sub(b)),
        Op::Multiply => Ok(a.saturating_mul(b)),
        Op::Divide => divide(a, b),
        Op::Remainder => remainder(a, b),
    }
}

#[inline(always)]
pub fn divide(a: i64, b: i64) -> Result<i64, DivisionByZero> {
    if b == 0 {
        return Err(DivisionByZero);
    }
    // The only overflow is MIN / -1, whose exact value MAX + 1 saturates to MAX.
    Ok(a.checked_div(b).unwrap_or(i64::MAX))
}

#[inline(always)]
pub fn remainder(a: i64, b: i64) -> Result<i64, DivisionByZero> {
    if b == 0 {
        return Err(DivisionByZero);
    }
    // MIN % -1 is mathematically 0; wrapping_rem gives exactly that instead of trapping.
    Ok(a.wrapping_rem(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanocalc_testkit::model;

    const EDGES: [i64; 11] = [i64::MIN, i64::MIN + 1, -(1 << 32), -7, -1, 0, 1, 7, 1 << 32, i64::MAX - 1, i64::MAX];

    #[test]
    fn every_op_on_every_pair_of_edges_matches_the_128_bit_model() {
        for op in Op::ALL {
            for a in EDGES {
                for b in EDGES {
                    assert_eq!(apply(op, a, b).ok(), model(op as i32, a, b), "{op:?}({a}, {b})");
                }
            }
        }
    }

    #[test]
    fn named_edge_cases() {
        assert_eq!(apply(Op::Add, i64::MAX, 1), Ok(i64::MAX));
        assert_eq!(apply(Op::Add, i64::MIN, -1), Ok(i64::MIN));
        assert_eq!(apply(Op::Subtract, i64::MIN, 1), Ok(i64::MIN));
        assert_eq!(apply(Op::Subtract, i64::MAX, -1), Ok(i64::MAX));
        assert_eq!(apply(Op::Subtract, 0, i64::MIN), Ok(i64::MAX));
        assert_eq!(apply(Op::Multiply, i64::MIN, -1), Ok(i64::MAX));
        assert_eq!(apply(Op::Multiply, i64::MAX, 2), Ok(i64::MAX));
        assert_eq!(apply(Op::Multiply, i64::MIN, 2), Ok(i64::MIN));
        assert_eq!(apply(Op::Divide, i64::MIN, -1), Ok(i64::MAX));
        assert_eq!(apply(Op::Divide, -7, 2), Ok(-3));
        assert_eq!(apply(Op::Divide, 7, -2), Ok(-3));
        assert_eq!(apply(Op::Remainder, i64::MIN, -1), Ok(0));
        assert_eq!(apply(Op::Remainder, -7, 2), Ok(-1));
        assert_eq!(apply(Op::Remainder, 7, -2), Ok(1));
        assert_eq!(apply(Op::Divide, 1, 0), Err(DivisionByZero));
        assert_eq!(apply(Op::Remainder, i64::MIN, 0), Err(DivisionByZero));
    }

    #[test]
    fn wire_values_map_to_operations() {
        for op in Op::ALL {
            assert_eq!(Op::from_wire(op as i32), Some(op));
        }
        assert_eq!(Op::from_wire(0), None);
        assert_eq!(Op::from_wire(6), None);
        assert_eq!(Op::from_wire(-1), None);
    }
}

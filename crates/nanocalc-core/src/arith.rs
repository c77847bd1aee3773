//! The arithmetic of docs/DESIGN.md ("The arithmetic contract"): exact signed 64-bit results,
//! and one of three overflow modes where they do not fit.

use crate::wire::{operation, overflow};

/// A Rust enum over one of the schema's enums, its wire values as discriminants, with `ALL` (in
/// wire order) and `from_wire` (the listed wire values, plus any `also` aliases; `None` otherwise).
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident from $module:ident { $($variant:ident = $wire:ident),+ $(,)? }
     $(also $alias:ident => $aliased:ident)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($variant = $module::$wire as u8),+
        }

        impl $name {
            pub const ALL: [$name; [$($name::$variant),+].len()] = [$($name::$variant),+];

            /// The value for a wire value of the schema's enum; `None` for unknown values.
            #[inline]
            pub fn from_wire(value: i32) -> Option<$name> {
                match value {
                    $($module::$wire => Some($name::$variant),)+
                    $($module::$alias => Some($name::$aliased),)?
                    _ => None,
                }
            }
        }
    };
}

wire_enum! {
    /// One of the five operations of the schema's `Operation` enum (never `UNSPECIFIED`).
    Op from operation {
        Add = ADD,
        Subtract = SUBTRACT,
        Multiply = MULTIPLY,
        Divide = DIVIDE,
        Remainder = REMAINDER,
    }
}

impl Op {
    /// Whether the operation can fail whatever the overflow mode (only on a zero divisor).
    #[inline]
    pub fn can_fail(self) -> bool {
        matches!(self, Op::Divide | Op::Remainder)
    }
}

wire_enum! {
    /// What an operation does when its exact result does not fit in 64 bits: the schema's
    /// `Overflow` enum (`UNSPECIFIED` is `Saturate`).
    Overflow from overflow {
        Saturate = SATURATE,
        Wrap = WRAP,
        Error = ERROR,
    }
    also UNSPECIFIED => Saturate
}

/// Why an operation has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A zero divisor in `Divide` or `Remainder` (in every mode).
    DivisionByZero,
    /// The exact result does not fit, with [`Overflow::Error`].
    Overflow,
}

/// `a op b` with nanocalc's rules: the exact result when it fits in 64 bits; otherwise clamped to
/// `[i64::MIN, i64::MAX]` (`Saturate`), wrapped modulo 2^64 (`Wrap`) or a failure (`Error`).
/// Divide truncates toward zero (its only overflow is `MIN / -1`); remainder takes the sign of the
/// dividend, and `MIN % -1 = 0` fits; a zero divisor is a failure in every mode. With `op` and
/// `mode` constants (as in the kernels), this inlines to the one operation.
#[inline(always)]
pub fn apply(op: Op, mode: Overflow, a: i64, b: i64) -> Result<i64, Failure> {
    if op.can_fail() && b == 0 {
        return Err(Failure::DivisionByZero);
    }
    // From here `b != 0`: the only overflow of divide is `MIN / -1`, and remainder never
    // overflows (`wrapping_rem` gives `MIN % -1 = 0` instead of trapping).
    Ok(match mode {
        Overflow::Saturate => match op {
            Op::Add => a.saturating_add(b),
            Op::Subtract => a.saturating_sub(b),
            Op::Multiply => a.saturating_mul(b),
            Op::Divide => a.checked_div(b).unwrap_or(i64::MAX),
            Op::Remainder => a.wrapping_rem(b),
        },
        Overflow::Wrap => match op {
            Op::Add => a.wrapping_add(b),
            Op::Subtract => a.wrapping_sub(b),
            Op::Multiply => a.wrapping_mul(b),
            Op::Divide => a.wrapping_div(b),
            Op::Remainder => a.wrapping_rem(b),
        },
        Overflow::Error => match op {
            Op::Add => a.checked_add(b),
            Op::Subtract => a.checked_sub(b),
            Op::Multiply => a.checked_mul(b),
            Op::Divide => a.checked_div(b),
            Op::Remainder => Some(a.wrapping_rem(b)),
        }
        .ok_or(Failure::Overflow)?,
    })
}

/// `-a`, the unary minus of expressions: `0 - a` with the rules of [`apply`] (`-MIN` overflows).
#[inline]
pub fn negate(mode: Overflow, a: i64) -> Result<i64, Failure> {
    apply(Op::Subtract, mode, 0, a)
}

/// Expands `$body` once for each of the 15 pairs of operation and overflow mode, with `$op` and
/// `$mode` bound to that pair as constants: a loop over elements in `$body` is then compiled per
/// pair, with no branch on either inside it (and the saturating add and subtract vectorize).
macro_rules! specialize {
    ($op:expr, $mode:expr, |$o:ident, $m:ident| $body:expr) => {
        match ($op, $mode) {
            ($crate::arith::Op::Add, $crate::arith::Overflow::Saturate) => $crate::arith::specialize!(@arm Add, Saturate, $o, $m, $body),
            ($crate::arith::Op::Add, $crate::arith::Overflow::Wrap) => $crate::arith::specialize!(@arm Add, Wrap, $o, $m, $body),
            ($crate::arith::Op::Add, $crate::arith::Overflow::Error) => $crate::arith::specialize!(@arm Add, Error, $o, $m, $body),
            ($crate::arith::Op::Subtract, $crate::arith::Overflow::Saturate) => $crate::arith::specialize!(@arm Subtract, Saturate, $o, $m, $body),
            ($crate::arith::Op::Subtract, $crate::arith::Overflow::Wrap) => $crate::arith::specialize!(@arm Subtract, Wrap, $o, $m, $body),
            ($crate::arith::Op::Subtract, $crate::arith::Overflow::Error) => $crate::arith::specialize!(@arm Subtract, Error, $o, $m, $body),
            ($crate::arith::Op::Multiply, $crate::arith::Overflow::Saturate) => $crate::arith::specialize!(@arm Multiply, Saturate, $o, $m, $body),
            ($crate::arith::Op::Multiply, $crate::arith::Overflow::Wrap) => $crate::arith::specialize!(@arm Multiply, Wrap, $o, $m, $body),
            ($crate::arith::Op::Multiply, $crate::arith::Overflow::Error) => $crate::arith::specialize!(@arm Multiply, Error, $o, $m, $body),
            ($crate::arith::Op::Divide, $crate::arith::Overflow::Saturate) => $crate::arith::specialize!(@arm Divide, Saturate, $o, $m, $body),
            ($crate::arith::Op::Divide, $crate::arith::Overflow::Wrap) => $crate::arith::specialize!(@arm Divide, Wrap, $o, $m, $body),
            ($crate::arith::Op::Divide, $crate::arith::Overflow::Error) => $crate::arith::specialize!(@arm Divide, Error, $o, $m, $body),
            ($crate::arith::Op::Remainder, $crate::arith::Overflow::Saturate) => $crate::arith::specialize!(@arm Remainder, Saturate, $o, $m, $body),
            ($crate::arith::Op::Remainder, $crate::arith::Overflow::Wrap) => $crate::arith::specialize!(@arm Remainder, Wrap, $o, $m, $body),
            ($crate::arith::Op::Remainder, $crate::arith::Overflow::Error) => $crate::arith::specialize!(@arm Remainder, Error, $o, $m, $body),
        }
    };
    (@arm $op_value:ident, $mode_value:ident, $o:ident, $m:ident, $body:expr) => {{
        const $o: $crate::arith::Op = $crate::arith::Op::$op_value;
        const $m: $crate::arith::Overflow = $crate::arith::Overflow::$mode_value;
        $body
    }};
}
pub(crate) use specialize;

#[cfg(test)]
mod tests {
    use super::*;
    use nanocalc_testkit::model;

    const EDGES: [i64; 11] = [i64::MIN, i64::MIN + 1, -(1 << 32), -7, -1, 0, 1, 7, 1 << 32, i64::MAX - 1, i64::MAX];

    fn failure_code(failure: Failure) -> crate::ErrorCode {
        match failure {
            Failure::DivisionByZero => crate::ErrorCode::DivisionByZero,
            Failure::Overflow => crate::ErrorCode::Overflow,
        }
    }

    #[test]
    fn every_op_in_every_mode_on_every_pair_of_edges_matches_the_128_bit_model() {
        for op in Op::ALL {
            for mode in Overflow::ALL {
                for a in EDGES {
                    for b in EDGES {
                        let expected = model(op as i32, mode as i32, a, b).map_err(|code| code as i32);
                        let got = apply(op, mode, a, b).map_err(|failure| failure_code(failure) as i32);
                        assert_eq!(got, expected, "{op:?} {mode:?} ({a}, {b})");
                    }
                }
            }
        }
    }

    #[test]
    fn specialize_binds_the_pair_it_is_given() {
        for op in Op::ALL {
            for mode in Overflow::ALL {
                assert_eq!(specialize!(op, mode, |OP, MODE| (OP, MODE)), (op, mode));
            }
        }
    }

    #[test]
    fn named_edge_cases() {
        use Overflow::{Error, Saturate, Wrap};
        assert_eq!(apply(Op::Add, Saturate, i64::MAX, 1), Ok(i64::MAX));
        assert_eq!(apply(Op::Add, Wrap, i64::MAX, 1), Ok(i64::MIN));
        assert_eq!(apply(Op::Add, Error, i64::MAX, 1), Err(Failure::Overflow));
        assert_eq!(apply(Op::Add, Saturate, i64::MIN, -1), Ok(i64::MIN));
        assert_eq!(apply(Op::Subtract, Saturate, i64::MIN, 1), Ok(i64::MIN));
        assert_eq!(apply(Op::Subtract, Saturate, i64::MAX, -1), Ok(i64::MAX));
        assert_eq!(apply(Op::Subtract, Saturate, 0, i64::MIN), Ok(i64::MAX));
        assert_eq!(apply(Op::Subtract, Wrap, 0, i64::MIN), Ok(i64::MIN));
        assert_eq!(negate(Error, i64::MIN), Err(Failure::Overflow));
        assert_eq!(negate(Error, i64::MAX), Ok(-i64::MAX));
        assert_eq!(apply(Op::Multiply, Saturate, i64::MIN, -1), Ok(i64::MAX));
        assert_eq!(apply(Op::Multiply, Saturate, i64::MAX, 2), Ok(i64::MAX));
        assert_eq!(apply(Op::Multiply, Saturate, i64::MIN, 2), Ok(i64::MIN));
        assert_eq!(apply(Op::Multiply, Wrap, i64::MAX, 2), Ok(-2));
        assert_eq!(apply(Op::Divide, Saturate, i64::MIN, -1), Ok(i64::MAX));
        assert_eq!(apply(Op::Divide, Wrap, i64::MIN, -1), Ok(i64::MIN));
        assert_eq!(apply(Op::Divide, Error, i64::MIN, -1), Err(Failure::Overflow));
        assert_eq!(apply(Op::Divide, Error, -7, 2), Ok(-3));
        assert_eq!(apply(Op::Divide, Saturate, 7, -2), Ok(-3));
        for mode in Overflow::ALL {
            assert_eq!(apply(Op::Remainder, mode, i64::MIN, -1), Ok(0));
            assert_eq!(apply(Op::Remainder, mode, -7, 2), Ok(-1));
            assert_eq!(apply(Op::Remainder, mode, 7, -2), Ok(1));
            assert_eq!(apply(Op::Divide, mode, 1, 0), Err(Failure::DivisionByZero));
            assert_eq!(apply(Op::Remainder, mode, i64::MIN, 0), Err(Failure::DivisionByZero));
        }
    }

    #[test]
    fn wire_values_map_to_operations_and_modes() {
        for op in Op::ALL {
            assert_eq!(Op::from_wire(op as i32), Some(op));
        }
        assert_eq!(Op::from_wire(0), None);
        assert_eq!(Op::from_wire(6), None);
        assert_eq!(Op::from_wire(-1), None);
        for mode in Overflow::ALL {
            assert_eq!(Overflow::from_wire(mode as i32), Some(mode));
        }
        assert_eq!(Overflow::from_wire(0), Some(Overflow::Saturate));
        assert_eq!(Overflow::from_wire(4), None);
        assert_eq!(Overflow::from_wire(-1), None);
    }
}

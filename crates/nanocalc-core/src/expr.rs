//! Expressions: `CalculatorRequest { expression: Expression { text } }`, a calculation of many
//! steps in one crossing. A hand-written recursive-descent parser that evaluates as it parses,
//! over the bytes of the text, allocating nothing.
//!
//! Grammar (whitespace — space, tab, CR, LF — is allowed between tokens):
//!
//! ```text
//! expr    := term (('+' | '-') term)*          left-associative
//! term    := unary (('*' | '/' | '%') unary)*  left-associative
//! unary   := '-'* primary                      each '-' negates: 0 - x
//! primary := digits | '(' expr ')'
//! ```
//!
//! Every step is [`arith::apply`] with the request's overflow mode, so an expression computes
//! exactly what the same steps would as single calls (`/` truncates; `%` takes the dividend's
//! sign; `-x` is `0 - x`). Literals are decimal
//! integers up to `2^63 - 1`; `9223372036854775808` (2^63) is accepted only right after a unary
//! minus, so `-9223372036854775808` is `i64::MIN`; any other literal out of range is a syntax
//! error at the literal.
//!
//! Failures, each with an `index`:
//! - [`ExprError::Syntax`]: the first token (in reading order) the grammar does not allow, or
//!   the end of the text (index = its length). The grammar is ASCII, so every byte before such an
//!   index is ASCII and the byte offset is also the offset in characters (code points or UTF-16
//!   units alike): a non-ASCII character is itself the syntax error.
//! - [`ExprError::TooDeep`]: a `(` that would nest deeper than the limit (index = its offset);
//!   reported as soon as it is read, like a syntax error. It bounds the recursion.
//! - [`ExprError::DivisionByZero`] and [`ExprError::Overflow`] (with [`Overflow::Error`]): only
//!   when the whole text parses; index = the offset of the operator of the first step that fails
//!   in evaluation order (operands before the operator, left before right): the `/` or `%` whose
//!   divisor is zero, or the operator whose result does not fit. The only unary minus that can
//!   overflow is the innermost one applied to `MIN` (`-(-9223372036854775808)`): later ones
//!   negate a value that is no longer `MIN`.

use crate::arith::{self, Failure, Op, Overflow};

/// Why an expression has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExprError {
    /// The text does not follow the grammar at byte `at`.
    Syntax { at: usize, what: Syntax },
    /// A parenthesis at byte `at` nests deeper than the limit.
    TooDeep { at: usize },
    /// The `/` or `%` at byte `at` has a zero divisor.
    DivisionByZero { at: usize },
    /// The step of the operator at byte `at` does not fit in 64 bits (with [`Overflow::Error`]).
    Overflow { at: usize },
}

/// What the parser expected, for the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// A number or `(` was expected; `found` is the byte there (`None` at the end).
    ExpectedOperand { found: Option<u8> },
    /// `)` was expected (an open parenthesis is not closed); `found` as above.
    ExpectedClose { found: Option<u8> },
    /// An operator or the end was expected.
    Unexpected { found: u8 },
    /// A literal above 2^63 - 1 (or 2^63 without a unary minus before it).
    LiteralOutOfRange,
}

/// Evaluates `text` with the overflow mode `mode` and parentheses nested at most `max_depth` deep.
pub fn evaluate(text: &[u8], mode: Overflow, max_depth: usize) -> Result<i64, ExprError> {
    let mut parser = Parser { text, at: 0, depth: 0, max_depth, mode, failed: None };
    parser.skip_space();
    let value = parser.expr()?;
    if let Some(&found) = parser.peek() {
        return Err(ExprError::Syntax { at: parser.at, what: Syntax::Unexpected { found } });
    }
    match (parser.failed, value) {
        (Some((at, Failure::DivisionByZero)), _) => Err(ExprError::DivisionByZero { at }),
        (Some((at, Failure::Overflow)), _) => Err(ExprError::Overflow { at }),
        (None, Some(value)) => Ok(value),
        // Values are only undefined after a recorded failure.
        (None, None) => Err(ExprError::DivisionByZero { at: 0 }),
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: usize,
    max_depth: usize,
    mode: Overflow,
    /// The first step that failed (the operator's offset, and how); from then on values are `None`.
    failed: Option<(usize, Failure)>,
}

/// A value, or `None` once a failing step made the result undefined (parsing goes on, so that a
/// later syntax error is still reported first).
type Value = Option<i64>;

impl Parser<'_> {
    #[inline]
    fn peek(&self) -> Option<&u8> {
        self.text.get(self.at)
    }

    #[inline]
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn apply(&mut self, op: Op, a: Value, b: Value, at: usize) -> Value {
        match arith::apply(op, self.mode, a?, b?) {
            Ok(value) => Some(value),
            Err(failure) => {
                self.failed.get_or_insert((at, failure));
                None
            }
        }
    }

    fn expr(&mut self) -> Result<Value, ExprError> {
        let mut value = self.term()?;
        while let Some(&byte @ (b'+' | b'-')) = self.peek() {
            let at = self.at;
            self.at += 1;
            self.skip_space();
            let right = self.term()?;
            let op = if byte == b'+' { Op::Add } else { Op::Subtract };
            value = self.apply(op, value, right, at);
        }
        Ok(value)
    }

    fn term(&mut self) -> Result<Value, ExprError> {
        let mut value = self.unary()?;
        while let Some(&byte @ (b'*' | b'/' | b'%')) = self.peek() {
            let at = self.at;
            self.at += 1;
            self.skip_space();
            let right = self.unary()?;
            let op = match byte {
                b'*' => Op::Multiply,
                b'/' => Op::Divide,
                _ => Op::Remainder,
            };
            value = self.apply(op, value, right, at);
        }
        Ok(value)
    }

    fn unary(&mut self) -> Result<Value, ExprError> {
        // The minuses in front of the operand: how many, and the offsets of the last two (the
        // innermost applied, and the one before it when the literal takes the last).
        let mut negations = 0usize;
        let mut innermost = [0usize; 2];
        while let Some(b'-') = self.peek() {
            negations += 1;
            innermost = [innermost[1], self.at];
            self.at += 1;
            self.skip_space();
        }
        let mut first_minus = innermost[1];
        let mut value = match self.peek() {
            Some(b'0'..=b'9') => {
                let start = self.at;
                let magnitude = self.literal();
                if magnitude <= i64::MAX as u64 {
                    Some(magnitude as i64)
                } else if magnitude == 1 << 63 && negations > 0 {
                    // -9223372036854775808: the innermost minus makes it i64::MIN.
                    negations -= 1;
                    first_minus = innermost[0];
                    Some(i64::MIN)
                } else {
                    return Err(ExprError::Syntax { at: start, what: Syntax::LiteralOutOfRange });
                }
            }
            Some(b'(') => {
                let open = self.at;
                if self.depth >= self.max_depth {
                    return Err(ExprError::TooDeep { at: open });
                }
                self.depth += 1;
                self.at += 1;
                self.skip_space();
                let value = self.expr()?;
                match self.peek() {
                    Some(b')') => self.at += 1,
                    found => {
                        return Err(ExprError::Syntax {
                            at: self.at,
                            what: Syntax::ExpectedClose { found: found.copied() },
                        });
                    }
                }
                self.depth -= 1;
                value
            }
            found => {
                return Err(ExprError::Syntax { at: self.at, what: Syntax::ExpectedOperand { found: found.copied() } });
            }
        };
        self.skip_space();
        // Only the first negation applied can fail (of MIN); in wrap mode, -MIN stays MIN, so
        // every further one is the same step again: one application settles the parity.
        if negations > 0 {
            value = self.apply(Op::Subtract, Some(0), value, first_minus);
            if negations.is_multiple_of(2) {
                value = value.map(|v| if v == i64::MIN { v } else { -v });
            }
        }
        Ok(value)
    }

    /// Reads the digits at the cursor; any value above 2^63 comes back as `u64::MAX`.
    fn literal(&mut self) -> u64 {
        let mut value: u64 = 0;
        while let Some(&digit @ b'0'..=b'9') = self.peek() {
            value = value.saturating_mul(10).saturating_add(u64::from(digit - b'0'));
            self.at += 1;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<i64, ExprError> {
        evaluate(text.as_bytes(), Overflow::Saturate, 256)
    }

    fn eval_in(mode: Overflow, text: &str) -> Result<i64, ExprError> {
        evaluate(text.as_bytes(), mode, 256)
    }

    #[test]
    fn overflow_modes_at_the_operator_that_overflows() {
        use Overflow::{Error, Saturate, Wrap};
        assert_eq!(eval_in(Saturate, "9223372036854775807 + 1"), Ok(i64::MAX));
        assert_eq!(eval_in(Wrap, "9223372036854775807 + 1"), Ok(i64::MIN));
        assert_eq!(eval_in(Error, "9223372036854775807 + 1"), Err(ExprError::Overflow { at: 20 }));
        assert_eq!(eval_in(Error, "1 + 9223372036854775807 * 2 - 1"), Err(ExprError::Overflow { at: 24 }));
        // The first failing step in evaluation order wins, division by zero or overflow.
        assert_eq!(eval_in(Error, "(1 / 0) + 9223372036854775807 * 2"), Err(ExprError::DivisionByZero { at: 3 }));
        assert_eq!(eval_in(Error, "9223372036854775807 * 2 + 1 / 0"), Err(ExprError::Overflow { at: 20 }));
        // Unary minus: only -MIN overflows, at the innermost minus applied to it.
        assert_eq!(eval_in(Error, "-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(eval_in(Error, "- - -9223372036854775808"), Err(ExprError::Overflow { at: 2 }));
        assert_eq!(eval_in(Error, "-(-9223372036854775808)"), Err(ExprError::Overflow { at: 0 }));
        assert_eq!(eval_in(Wrap, "---9223372036854775808"), Ok(i64::MIN));
        assert_eq!(eval_in(Saturate, "---9223372036854775808"), Ok(-i64::MAX));
        assert_eq!(eval_in(Error, "----5"), Ok(5));
        assert_eq!(eval_in(Error, "-----5"), Ok(-5));
        assert_eq!(eval_in(Error, "-9223372036854775808 / -1"), Err(ExprError::Overflow { at: 21 }));
        assert_eq!(eval_in(Error, "-9223372036854775808 % -1"), Ok(0));
        // A syntax error after an overflow is still reported first.
        assert_eq!(
            eval_in(Error, "9223372036854775807 + 1 )"),
            Err(ExprError::Syntax { at: 24, what: Syntax::Unexpected { found: b')' } })
        );
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(eval("1 + 2 * 3"), Ok(7));
        assert_eq!(eval("(1 + 2) * 3"), Ok(9));
        assert_eq!(eval("10 - 4 - 3"), Ok(3));
        assert_eq!(eval("100 / 10 / 5"), Ok(2));
        assert_eq!(eval("2 * (3 + -4) % 5"), Ok(-2));
        assert_eq!(eval("-2 * -3"), Ok(6));
        assert_eq!(eval("--5"), Ok(5));
        assert_eq!(eval("7 % 4 * 3"), Ok(9));
    }

    #[test]
    fn literals_at_the_edges() {
        assert_eq!(eval("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(eval("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(eval("- 9223372036854775808"), Ok(i64::MIN));
        assert_eq!(eval("--9223372036854775808"), Ok(i64::MAX));
        let out_of_range = ExprError::Syntax { at: 0, what: Syntax::LiteralOutOfRange };
        assert_eq!(eval("9223372036854775808"), Err(out_of_range));
        assert_eq!(eval("99999999999999999999999"), Err(out_of_range));
        assert_eq!(eval("-(9223372036854775808)"), Err(ExprError::Syntax { at: 2, what: Syntax::LiteralOutOfRange }));
    }

    #[test]
    fn errors_carry_positions() {
        assert_eq!(eval("2 * (3 + 4"), Err(ExprError::Syntax { at: 10, what: Syntax::ExpectedClose { found: None } }));
        assert_eq!(eval("1 +"), Err(ExprError::Syntax { at: 3, what: Syntax::ExpectedOperand { found: None } }));
        assert_eq!(eval("1 2"), Err(ExprError::Syntax { at: 2, what: Syntax::Unexpected { found: b'2' } }));
        assert_eq!(eval(""), Err(ExprError::Syntax { at: 0, what: Syntax::ExpectedOperand { found: None } }));
        assert_eq!(eval("1 / 0"), Err(ExprError::DivisionByZero { at: 2 }));
        assert_eq!(eval("(1 % 0) + 2 / 0"), Err(ExprError::DivisionByZero { at: 3 }));
        // A syntax error after a division by zero is reported first.
        assert_eq!(eval("1 / 0 +"), Err(ExprError::Syntax { at: 7, what: Syntax::ExpectedOperand { found: None } }));
        assert_eq!(evaluate(b"((1))", Overflow::Saturate, 1), Err(ExprError::TooDeep { at: 1 }));
        assert_eq!(evaluate(b"((1))", Overflow::Saturate, 2), Ok(1));
    }
}

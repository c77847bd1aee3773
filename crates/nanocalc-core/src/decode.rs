//! A borrowing decoder of `CalculatorRequest`: no allocation for canonical input, and exactly the
//! acceptance rules of prost (the reference decoder, which the tests hold it to). It follows prost's
//! merge semantics: a oneof member seen twice in a row merges (scalars: last wins; repeated fields
//! append), another member in between starts over, unknown fields (groups included) are skipped
//! within prost's recursion limit of 100.

use crate::arith::Op;
use crate::wire::{
    batch_operation_field, batch_operation_key, binary_op_field, binary_op_key, calculator_request_field,
    calculator_request_key, column_batch_field, column_batch_key, expression_field,
};

/// Why bytes are not a valid `CalculatorRequest`. Each reason is one prost also gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    InvalidVarint,
    InvalidKey,
    InvalidWireType,
    InvalidTag,
    UnexpectedWireType,
    BufferUnderflow,
    PackedLength,
    UnexpectedEndGroupTag,
    RecursionLimitReached,
    InvalidUtf8,
}

impl DecodeError {
    pub fn message(self) -> &'static str {
        match self {
            DecodeError::InvalidVarint => "malformed request: invalid varint",
            DecodeError::InvalidKey => "malformed request: invalid field key",
            DecodeError::InvalidWireType => "malformed request: invalid wire type",
            DecodeError::InvalidTag => "malformed request: invalid field number 0",
            DecodeError::UnexpectedWireType => "malformed request: a field has the wrong wire type",
            DecodeError::BufferUnderflow => "malformed request: truncated (a length runs past the end)",
            DecodeError::PackedLength => "malformed request: packed sfixed64 length is not a multiple of 8",
            DecodeError::UnexpectedEndGroupTag => "malformed request: unexpected end-group tag",
            DecodeError::RecursionLimitReached => "malformed request: nesting deeper than 100",
            DecodeError::InvalidUtf8 => "malformed request: a string is not valid UTF-8",
        }
    }
}

type Result<T> = core::result::Result<T, DecodeError>;

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const SGROUP: u8 = 3;
const EGROUP: u8 = 4;
const I32: u8 = 5;

/// prost's default recursion budget.
const RECURSION_LIMIT: u32 = 100;

#[inline(always)]
pub(crate) fn varint(buf: &mut &[u8]) -> Result<u64> {
    if let Some(&byte) = buf.first()
        && byte < 0x80
    {
        *buf = &buf[1..];
        return Ok(u64::from(byte));
    }
    if let Some(word) = buf.first_chunk::<8>() {
        return varint_from_word(buf, u64::from_le_bytes(*word));
    }
    // Near the end of a short request (a single operation's operands): two bytes without the loop.
    if let [low, high, ..] = **buf
        && high < 0x80
    {
        *buf = &buf[2..];
        return Ok(u64::from(low & 0x7f) | u64::from(high) << 7);
    }
    let (value, len) = varint_multi_byte(buf)?;
    *buf = &buf[len..];
    Ok(value)
}

/// Decodes a varint of two or more bytes from the first eight bytes of `buf` (given as `word`)
/// without a loop: the terminating byte is found from the continuation bits, and the 7-bit
/// groups are packed by shifts. Nine- and ten-byte varints finish bytewise.
#[inline(always)]
fn varint_from_word(buf: &mut &[u8], word: u64) -> Result<u64> {
    let stops = !word & 0x8080_8080_8080_8080;
    if stops == 0 {
        // Nine or ten bytes (every negative int64 takes ten).
        let value = pack_groups(word);
        return match buf.get(8..10) {
            Some(&[last, _]) if last < 0x80 => {
                *buf = &buf[9..];
                Ok(value | u64::from(last) << 56)
            }
            // A tenth byte may only carry the top bit of a u64.
            Some(&[ninth, tenth]) if tenth < 2 => {
                *buf = &buf[10..];
                Ok(value | u64::from(ninth & 0x7f) << 56 | u64::from(tenth) << 63)
            }
            _ => {
                let (value, len) = varint_multi_byte(buf)?;
                *buf = &buf[len..];
                Ok(value)
            }
        };
    }
    let len = (stops.trailing_zeros() / 8 + 1) as usize;
    let bytes = if len == 8 { word } else { word & ((1u64 << (8 * len)) - 1) };
    *buf = &buf[len..];
    Ok(pack_groups(bytes))
}

/// Packs the low 7 bits of each of the eight bytes of `bytes` into 56 bits, in three steps of
/// pairs (7 → 14 → 28 → 56 bits).
#[inline(always)]
pub(crate) fn pack_groups(bytes: u64) -> u64 {
    let x = bytes & 0x7f7f_7f7f_7f7f_7f7f;
    let x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
    let x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
    (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4)
}

/// A varint read bytewise: its value and length. (The slice is taken by value, so that callers'
/// cursors can stay in registers.)
#[inline]
fn varint_multi_byte(buf: &[u8]) -> Result<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            // A tenth byte may only carry the top bit of a u64.
            if i == 9 && byte >= 2 {
                return Err(DecodeError::InvalidVarint);
            }
            return Ok((value, i + 1));
        }
    }
    Err(DecodeError::InvalidVarint)
}

#[inline(always)]
fn key(buf: &mut &[u8]) -> Result<(u32, u8)> {
    let key = varint(buf)?;
    if key > u64::from(u32::MAX) {
        return Err(DecodeError::InvalidKey);
    }
    let wire_type = (key & 7) as u8;
    if wire_type > I32 {
        return Err(DecodeError::InvalidWireType);
    }
    let field = (key as u32) >> 3;
    if field == 0 {
        return Err(DecodeError::InvalidTag);
    }
    Ok((field, wire_type))
}

#[inline(always)]
fn expect(wire_type: u8, expected: u8) -> Result<()> {
    if wire_type == expected { Ok(()) } else { Err(DecodeError::UnexpectedWireType) }
}

#[inline(always)]
fn take<'a>(buf: &mut &'a [u8], len: u64) -> Result<&'a [u8]> {
    if len > buf.len() as u64 {
        return Err(DecodeError::BufferUnderflow);
    }
    let (head, tail) = buf.split_at(len as usize);
    *buf = tail;
    Ok(head)
}

#[inline(always)]
fn length_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = varint(buf)?;
    take(buf, len)
}

/// Enters a nested message as prost does: fails when the budget is spent, else spends one level.
#[inline(always)]
fn enter(depth: u32) -> Result<u32> {
    depth.checked_sub(1).ok_or(DecodeError::RecursionLimitReached)
}

/// Skips an unknown field, validating it exactly as prost's `skip_field`.
fn skip(buf: &mut &[u8], wire_type: u8, field: u32, depth: u32) -> Result<()> {
    if depth == 0 {
        return Err(DecodeError::RecursionLimitReached);
    }
    match wire_type {
        VARINT => varint(buf).map(drop),
        I64 => take(buf, 8).map(drop),
        LEN => length_delimited(buf).map(drop),
        I32 => take(buf, 4).map(drop),
        SGROUP => loop {
            let (inner_field, inner_wire_type) = key(buf)?;
            if inner_wire_type == EGROUP {
                return if inner_field == field { Ok(()) } else { Err(DecodeError::UnexpectedEndGroupTag) };
            }
            skip(buf, inner_wire_type, inner_field, depth - 1)?;
        },
        _ => Err(DecodeError::UnexpectedEndGroupTag),
    }
}

/// Merges one encoded `BinaryOp` into `(a, b)`.
#[inline(always)]
fn merge_binary_op(mut body: &[u8], depth: u32, operands: &mut (i64, i64)) -> Result<()> {
    while !body.is_empty() {
        let (field, wire_type) = key(&mut body)?;
        match field {
            binary_op_field::A => {
                expect(wire_type, VARINT)?;
                operands.0 = varint(&mut body)? as i64;
            }
            binary_op_field::B => {
                expect(wire_type, VARINT)?;
                operands.1 = varint(&mut body)? as i64;
            }
            _ => skip(&mut body, wire_type, field, depth)?,
        }
    }
    Ok(())
}

/// A packed `sfixed64` column: little-endian `i64`s, borrowed from the request when it arrived as
/// one chunk (the canonical encoding), gathered into an owned buffer otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl<'a> Column<'a> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Column::Borrowed(bytes) => bytes,
            Column::Owned(bytes) => bytes,
        }
    }

    /// Number of `i64` values.
    pub fn len(&self) -> usize {
        self.bytes().len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    fn append(&mut self, bytes: &'a [u8]) {
        match self {
            Column::Borrowed(current) if current.is_empty() => *current = bytes,
            Column::Borrowed(_) if bytes.is_empty() => {}
            Column::Borrowed(current) => *self = Column::Owned([*current, bytes].concat()),
            Column::Owned(current) => current.extend_from_slice(bytes),
        }
    }

    /// Merges one occurrence of a `repeated sfixed64` field: packed (length-delimited) or a single value.
    fn merge(&mut self, buf: &mut &'a [u8], wire_type: u8) -> Result<()> {
        let bytes = match wire_type {
            LEN => {
                let bytes = length_delimited(buf)?;
                if bytes.len() % 8 != 0 {
                    return Err(DecodeError::PackedLength);
                }
                bytes
            }
            I64 => take(buf, 8)?,
            _ => return Err(DecodeError::UnexpectedWireType),
        };
        self.append(bytes);
        Ok(())
    }
}

/// Reads one row in its canonical encoding, `12 <len> 08 <a> 10 <b>`, at the start of `buf`
/// (the rest of a `BatchOperation`). Reading the varints against the whole rest rather than the
/// row alone lets them take the eight-byte path. Anything else, or any doubt, is `None` and the
/// caller takes the general path, which also reports malformed rows.
#[inline(always)]
pub(crate) fn canonical_row(buf: &mut &[u8]) -> Option<(i64, i64)> {
    let &[batch_operation_key::OPERATIONS, len @ 0..0x80, binary_op_key::A, ..] = *buf else { return None };
    let end = 2 + usize::from(len);
    let mut rest = &buf[3..];
    let a = varint(&mut rest).ok()?;
    let [binary_op_key::B, after @ ..] = rest else { return None };
    rest = after;
    let b = varint(&mut rest).ok()?;
    if buf.len() - rest.len() != end {
        return None;
    }
    *buf = rest;
    Some((a as i64, b as i64))
}

/// The rows of a `BatchOperation` (row form), left in place: `run` holds the request from the
/// first chunk of the batch on, and [`Rows::iter`] walks it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rows<'a> {
    pub operation: i32,
    pub count: usize,
    run: &'a [u8],
}

impl<'a> Rows<'a> {
    /// The operands of each row, in order. Only ever built from validated bytes.
    pub fn iter(&self) -> RowIter<'a> {
        RowIter { top: self.run, batch: &[] }
    }
}

/// Iterator over the `(a, b)` of each row. The bytes were validated by [`decode`], so a failure
/// here is impossible; should one happen anyway the iteration ends early, which the engine detects
/// by comparing with [`Rows::count`].
pub struct RowIter<'a> {
    top: &'a [u8],
    batch: &'a [u8],
}

impl Iterator for RowIter<'_> {
    type Item = (i64, i64);

    #[inline]
    fn next(&mut self) -> Option<(i64, i64)> {
        loop {
            while !self.batch.is_empty() {
                if let Some(row) = canonical_row(&mut self.batch) {
                    return Some(row);
                }
                let (field, wire_type) = key(&mut self.batch).ok()?;
                if field == batch_operation_field::OPERATIONS {
                    let body = length_delimited(&mut self.batch).ok()?;
                    let mut operands = (0, 0);
                    merge_binary_op(body, RECURSION_LIMIT, &mut operands).ok()?;
                    return Some(operands);
                }
                skip(&mut self.batch, wire_type, field, RECURSION_LIMIT).ok()?;
            }
            if self.top.is_empty() {
                return None;
            }
            let (field, wire_type) = key(&mut self.top).ok()?;
            if field == calculator_request_field::BATCH {
                self.batch = length_delimited(&mut self.top).ok()?;
            } else {
                skip(&mut self.top, wire_type, field, RECURSION_LIMIT).ok()?;
            }
        }
    }
}

/// A decoded `CalculatorRequest`, borrowing from the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// No member of the `operation` oneof was set.
    Empty,
    Binary {
        op: Op,
        a: i64,
        b: i64,
    },
    Rows(Rows<'a>),
    Columns {
        operation: i32,
        a: Column<'a>,
        b: Column<'a>,
    },
    /// `Expression { text }`: the text's bytes, valid UTF-8.
    Expression(&'a [u8]),
}

impl Request<'_> {
    /// The oneof field number this request carries (0 for none).
    fn field(&self) -> u32 {
        match self {
            Request::Empty => 0,
            Request::Binary { op, .. } => *op as u32,
            Request::Rows(_) => calculator_request_field::BATCH,
            Request::Columns { .. } => calculator_request_field::COLUMNS,
            Request::Expression(_) => calculator_request_field::EXPRESSION,
        }
    }
}

/// A decoded `CalculatorRequest`: its operation and its `overflow` field, as the enum's wire value
/// (0 when absent; prost keeps unknown values of an open enum, and so does this).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub request: Request<'a>,
    pub overflow: i32,
}

/// Decodes a `CalculatorRequest`, accepting exactly what prost accepts.
#[inline]
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>> {
    // The hot shape first: one binary operation, `<tag 1..5> <len < 128> <BinaryOp body>`, and
    // perhaps the overflow mode after it. Anything else takes the general path, which gives the
    // same answer for it.
    if let Some((op, a, b, overflow)) = canonical_binary(bytes) {
        return Ok(Decoded { request: Request::Binary { op, a, b }, overflow });
    }
    if bytes.first() == Some(&calculator_request_key::COLUMNS)
        && let Some((operation, a, b, overflow)) = canonical_columns(bytes)
    {
        let request = Request::Columns { operation, a: Column::Borrowed(a), b: Column::Borrowed(b) };
        return Ok(Decoded { request, overflow });
    }
    decode_general(bytes)
}

/// One binary operation in its canonical encoding, `<tag 1..5> <len < 128> <BinaryOp body>` and
/// perhaps the overflow mode after it: the operation, its operands and the overflow mode's wire
/// value. `None` for anything else, which [`decode`]'s general path answers the same. Returned in
/// registers: the engine answers this shape without building a [`Request`] (whose fields written
/// a byte at a time and read back a word at a time stalled store-to-load forwarding).
#[inline(always)]
pub(crate) fn canonical_binary(bytes: &[u8]) -> Option<(Op, i64, i64, i32)> {
    use calculator_request_key::{ADD, DIVIDE, MULTIPLY, REMAINDER, SUBTRACT};
    if let [tag @ (ADD | SUBTRACT | MULTIPLY | DIVIDE | REMAINDER), len @ 0..0x80, rest @ ..] = bytes
        && let Some((body, overflow)) = with_overflow(rest, usize::from(*len))
        && let Some(op) = Op::from_wire(i32::from(tag >> 3))
        && let Some((a, b)) = canonical_operands(body)
    {
        return Some((op, a, b, overflow));
    }
    None
}

/// Splits `rest`, the bytes after the length of a request's only operation field, into that
/// field's body (`len` bytes) and the overflow mode after it, which canonical requests carry as
/// `48 <mode>` (one byte: the modes are below 128) or leave out (0). `None` for anything else.
#[inline(always)]
pub(crate) fn with_overflow(rest: &[u8], len: usize) -> Option<(&[u8], i32)> {
    match rest.split_at_checked(len)? {
        (body, []) => Some((body, 0)),
        (body, &[calculator_request_key::OVERFLOW, mode @ 0..0x80]) => Some((body, i32::from(mode))),
        _ => None,
    }
}

/// Reads the one-byte key `key` and the varint after it (a length, or a varint field's value);
/// `None` for another key or a malformed varint.
#[inline(always)]
pub(crate) fn after_key(rest: &mut &[u8], key: u8) -> Option<u64> {
    let (&first, tail) = rest.split_first()?;
    *rest = tail;
    if first == key { varint(rest).ok() } else { None }
}

/// A column batch as the TypeScript codec frames it, `3a <len> 08 <operation> 12 <len> <a> 1a
/// <len> <b>`, perhaps with `48 <mode>` after it, and nothing else (lengths may be padded
/// varints): the operation, the two lists and the overflow mode. `None` for anything else, which
/// the general path then decodes (and answers the same for this).
#[inline(always)]
pub fn canonical_columns(bytes: &[u8]) -> Option<(i32, &[u8], &[u8], i32)> {
    #[inline(always)]
    fn list<'a>(rest: &mut &'a [u8], key: u8) -> Option<&'a [u8]> {
        let len = usize::try_from(after_key(rest, key)?).ok()?;
        let list = rest.get(..len)?;
        *rest = &rest[len..];
        (len % 8 == 0).then_some(list)
    }
    let mut rest = bytes;
    let len = usize::try_from(after_key(&mut rest, calculator_request_key::COLUMNS)?).ok()?;
    let (mut rest, overflow) = with_overflow(rest, len)?;
    let operation = after_key(&mut rest, column_batch_key::OPERATION)? as i32;
    let a = list(&mut rest, column_batch_key::A)?;
    let b = list(&mut rest, column_batch_key::B)?;
    rest.is_empty().then_some((operation, a, b, overflow))
}

/// The operands of a `BinaryOp` body in its canonical encoding, `[08 <a>] [10 <b>]` and nothing
/// else; `None` for anything else, which the general path then decodes.
#[inline(always)]
pub(crate) fn canonical_operands(mut body: &[u8]) -> Option<(i64, i64)> {
    let (mut a, mut b) = (0, 0);
    if let [binary_op_key::A, rest @ ..] = body {
        body = rest;
        a = varint(&mut body).ok()? as i64;
    }
    if let [binary_op_key::B, rest @ ..] = body {
        body = rest;
        b = varint(&mut body).ok()? as i64;
    }
    body.is_empty().then_some((a, b))
}

fn decode_general(bytes: &[u8]) -> Result<Decoded<'_>> {
    let depth = RECURSION_LIMIT;
    let mut request = Request::Empty;
    let mut overflow = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        let field_start = rest;
        let (field, wire_type) = key(&mut rest)?;
        if field == calculator_request_field::OVERFLOW {
            // An enum: the varint's low 32 bits, as prost reads an `int32` (the last one wins).
            expect(wire_type, VARINT)?;
            overflow = varint(&mut rest)? as i32;
            continue;
        }
        if !(calculator_request_field::ADD..=calculator_request_field::EXPRESSION).contains(&field) {
            skip(&mut rest, wire_type, field, depth)?;
            continue;
        }
        expect(wire_type, LEN)?;
        let inner = enter(depth)?;
        let mut body = length_delimited(&mut rest)?;
        if request.field() != field {
            // Another oneof member replaces the current one.
            request = match field {
                calculator_request_field::BATCH => Request::Rows(Rows { operation: 0, count: 0, run: field_start }),
                calculator_request_field::COLUMNS => {
                    Request::Columns { operation: 0, a: Column::Borrowed(&[]), b: Column::Borrowed(&[]) }
                }
                calculator_request_field::EXPRESSION => Request::Expression(&[]),
                _ => Request::Binary { op: Op::from_wire(field as i32).ok_or(DecodeError::InvalidTag)?, a: 0, b: 0 },
            };
        }
        match &mut request {
            Request::Binary { a, b, .. } => {
                let mut operands = (*a, *b);
                merge_binary_op(body, inner, &mut operands)?;
                (*a, *b) = operands;
            }
            Request::Rows(rows) => {
                while !body.is_empty() {
                    if canonical_row(&mut body).is_some() {
                        rows.count += 1;
                        continue;
                    }
                    let (field, wire_type) = key(&mut body)?;
                    match field {
                        batch_operation_field::OPERATION => {
                            expect(wire_type, VARINT)?;
                            rows.operation = varint(&mut body)? as i32;
                        }
                        batch_operation_field::OPERATIONS => {
                            expect(wire_type, LEN)?;
                            let row_depth = enter(inner)?;
                            let row = length_delimited(&mut body)?;
                            merge_binary_op(row, row_depth, &mut (0, 0))?;
                            rows.count += 1;
                        }
                        _ => skip(&mut body, wire_type, field, inner)?,
                    }
                }
            }
            Request::Columns { operation, a, b } => {
                while !body.is_empty() {
                    let (field, wire_type) = key(&mut body)?;
                    match field {
                        column_batch_field::OPERATION => {
                            expect(wire_type, VARINT)?;
                            *operation = varint(&mut body)? as i32;
                        }
                        column_batch_field::A => a.merge(&mut body, wire_type)?,
                        column_batch_field::B => b.merge(&mut body, wire_type)?,
                        _ => skip(&mut body, wire_type, field, inner)?,
                    }
                }
            }
            Request::Expression(text) => {
                while !body.is_empty() {
                    let (field, wire_type) = key(&mut body)?;
                    if field == expression_field::TEXT {
                        // A string: the last occurrence wins, each must be UTF-8 (as prost checks).
                        expect(wire_type, LEN)?;
                        let bytes = length_delimited(&mut body)?;
                        if core::str::from_utf8(bytes).is_err() {
                            return Err(DecodeError::InvalidUtf8);
                        }
                        *text = bytes;
                    } else {
                        skip(&mut body, wire_type, field, inner)?;
                    }
                }
            }
            Request::Empty => {} // impossible: a member was just set
        }
    }
    Ok(Decoded { request, overflow })
}

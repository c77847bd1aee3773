// An independent model of expressions (`calc.evaluate`, `CalculatorRequest.expression`), written
// with plain BigInt and sharing no code with src/ or the engine: a scan that checks the syntax and
// the nesting in reading order as a state machine, then precedence climbing over the tokens, each
// step clamped to i64 as the contract says. Tests compare the engine against it.

import fc from 'fast-check';

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;
/** What a step beyond the i64 range does (the `overflow` option). */
export type Mode = 'saturate' | 'wrap' | 'throw';

export const MAX_EXPRESSION_BYTES = 64 * 1024;
export const MAX_EXPRESSION_DEPTH = 256;

export type ExprOutcome =
  | { value: bigint }
  | { code: 'SYNTAX_ERROR' | 'DIVISION_BY_ZERO' | 'LIMIT_EXCEEDED' | 'OVERFLOW'; index: number };

type Tok =
  | { kind: 'num'; value: bigint; at: number }
  | { kind: 'op'; op: string; at: number }
  | { kind: 'end'; at: number };

class Failure {
  constructor(
    readonly code: 'SYNTAX_ERROR' | 'DIVISION_BY_ZERO' | 'LIMIT_EXCEEDED' | 'OVERFLOW',
    readonly index: number,
  ) {}
}

/** An exact result brought into the i64 range as `mode` says, or an OVERFLOW at the operator `at`. */
function fit(x: bigint, mode: Mode, at: number): bigint {
  if (x >= MIN && x <= MAX) return x;
  if (mode === 'throw') throw new Failure('OVERFLOW', at);
  if (mode === 'wrap') return BigInt.asIntN(64, x);
  return x < MIN ? MIN : MAX;
}

/** Splits `text` into tokens; the first character outside the grammar ends the list as a failure. */
function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
    if (i === text.length) {
      out.push({ kind: 'end', at: i });
      return out;
    }
    const c = text[i]!;
    if (c >= '0' && c <= '9') {
      const start = i;
      while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
      out.push({ kind: 'num', value: BigInt(text.slice(start, i)), at: start });
    } else if ('+-*/%()'.includes(c)) {
      out.push({ kind: 'op', op: c, at: i++ });
    } else {
      // Outside the grammar: a token that no state accepts.
      out.push({ kind: 'op', op: '?', at: i });
      return out;
    }
  }
}

/** Pass 1: the first syntax or nesting failure in reading order, as a state machine. */
function check(tokens: Tok[], maxDepth: number): void {
  let operand = true;
  let depth = 0;
  let unaryMinus = false; // the token before was a unary minus
  for (const t of tokens) {
    if (operand) {
      const negated = unaryMinus;
      unaryMinus = t.kind === 'op' && t.op === '-';
      if (unaryMinus) continue;
      if (t.kind === 'op' && t.op === '(') {
        if (depth === maxDepth) throw new Failure('LIMIT_EXCEEDED', t.at);
        depth++;
        continue;
      }
      if (t.kind === 'num') {
        if (t.value > MAX && !(t.value === -MIN && negated)) throw new Failure('SYNTAX_ERROR', t.at);
        operand = false;
        continue;
      }
      throw new Failure('SYNTAX_ERROR', t.at);
    }
    if (t.kind === 'op' && '+-*/%'.includes(t.op)) operand = true;
    else if (t.kind === 'op' && t.op === ')' && depth > 0) depth--;
    else if (t.kind === 'end' && depth === 0) return;
    else throw new Failure('SYNTAX_ERROR', t.at);
  }
}

const PRECEDENCE: Record<string, number> = { '+': 1, '-': 1, '*': 2, '/': 2, '%': 2 };

/** Pass 2 over checked tokens: precedence climbing, exact BigInt steps brought into i64 by `mode`. */
class Climber {
  k = 0;
  constructor(
    readonly tokens: Tok[],
    readonly mode: Mode,
  ) {}

  primary(): bigint {
    const minuses: number[] = []; // their offsets, outermost first
    let t = this.tokens[this.k]!;
    while (t.kind === 'op' && t.op === '-') {
      minuses.push(t.at);
      t = this.tokens[++this.k]!;
    }
    let value: bigint;
    this.k++;
    if (t.kind === 'num') {
      value = t.value;
      if (value > MAX) {
        value = MIN; // 2^63 right after a minus: that minus is spent on it
        minuses.pop();
      }
    } else {
      value = this.climb(1);
      this.k++; // ')'
    }
    // Each minus negates, innermost first.
    for (let i = minuses.length - 1; i >= 0; i--) value = fit(-value, this.mode, minuses[i]!);
    return value;
  }

  climb(minPrecedence: number): bigint {
    let left = this.primary();
    for (;;) {
      const t = this.tokens[this.k]!;
      if (t.kind !== 'op' || !(t.op in PRECEDENCE) || PRECEDENCE[t.op]! < minPrecedence) return left;
      this.k++;
      const right = this.climb(PRECEDENCE[t.op]! + 1);
      left = step(t.op, left, right, t.at, this.mode);
    }
  }
}

function step(op: string, a: bigint, b: bigint, at: number, mode: Mode): bigint {
  if ((op === '/' || op === '%') && b === 0n) throw new Failure('DIVISION_BY_ZERO', at);
  switch (op) {
    case '+':
      return fit(a + b, mode, at);
    case '-':
      return fit(a - b, mode, at);
    case '*':
      return fit(a * b, mode, at);
    case '/':
      return fit(a / b, mode, at);
    default:
      return fit(a % b, mode, at);
  }
}

/** What evaluating `text` must give (the engine's default limits unless given). */
export function referenceEvaluate(
  text: string,
  maxDepth = MAX_EXPRESSION_DEPTH,
  maxBytes = MAX_EXPRESSION_BYTES,
  mode: Mode = 'saturate',
): ExprOutcome {
  if (new TextEncoder().encode(text).length > maxBytes) return { code: 'LIMIT_EXCEEDED', index: 0 };
  try {
    const tokens = tokenize(text);
    check(tokens, maxDepth);
    return { value: new Climber(tokens, mode).climb(1) };
  } catch (e) {
    if (e instanceof Failure) return { code: e.code, index: e.index };
    throw e;
  }
}

// ---- arbitraries ----------------------------------------------------------------------------

const literal: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 1000 }).map(String) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: MAX }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '0',
      '9223372036854775807',
      '9223372036854775808',
      '9223372036854775809',
      '007',
      '99999999999999999999',
    ),
  },
);
const space = fc.constantFrom('', '', ' ', '  ', '\t', '\n');

/** Well-formed expressions (literals aside), random spacing, nesting and unary minus. */
export const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    literal.map((n) => `-${n}`),
    fc
      .tuple(tie('e'), fc.constantFrom('+', '-', '*', '/', '%'), tie('e'), space)
      .map(([a, op, b, s]) => `${a}${s}${op}${s}${b}`),
    fc.tuple(tie('e'), space).map(([a, s]) => `(${s}${a}${s})`),
    tie('e').map((a) => `-${a}`),
  ),
})).e;

/** Strings over the grammar's alphabet and a few characters outside it. */
export const expressionSoup: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...'0179+-*/%() \tx'.split(''), 'é', '😀'), { maxLength: 30 })
  .map((chars) => chars.join(''));

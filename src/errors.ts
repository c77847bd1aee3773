import { type ErrorCode, ErrorCodeNames } from './gen/nanocalc/v1/calculator_codec.js';

/** Codes of domain failures: the schema's `ErrorCode` names (but `UNSPECIFIED`), and `CLOSED`. */
export type CalculatorErrorCode = Exclude<keyof typeof ErrorCode, 'UNSPECIFIED'> | 'CLOSED';

/**
 * The code of a wire `ErrorCode` number: its name in the schema; `UNSPECIFIED` (never sent by the
 * engine: a defect if it is) and numbers this version does not know are `INTERNAL`.
 */
export function errorCodeName(code: number): CalculatorErrorCode {
  return CODE_NAMES[code] ?? 'INTERNAL';
}

const CODE_NAMES = ErrorCodeNames.map((name) =>
  name === undefined || name === 'UNSPECIFIED' ? 'INTERNAL' : (name as CalculatorErrorCode),
);

/**
 * A calculation the engine refused: division by zero, an invalid or oversized request, an
 * internal defect, or a call on a closed `Calculator`. Recognise it by `name` and `code`.
 */
export class CalculatorError extends Error {
  override readonly name = 'CalculatorError';
  readonly code: CalculatorErrorCode;
  /**
   * For batches: the position of the first failing element. For `evaluate`: the offset in the
   * text of the character at fault (SYNTAX_ERROR; DIVISION_BY_ZERO: the `/` or `%`;
   * LIMIT_EXCEEDED: the `(` nested one too deep, or 0 for a text too long).
   */
  readonly index: number | undefined;

  constructor(code: CalculatorErrorCode, message: string, index?: number) {
    // Prefixed as the package's other errors are; the engine's own texts are not.
    super(message.startsWith('nanocalc: ') ? message : `nanocalc: ${message}`);
    this.code = code;
    this.index = index;
  }
}

/** Codes of domain failures; all but `CLOSED` mirror the schema's `ErrorCode`. */
export type CalculatorErrorCode =
  | 'DIVISION_BY_ZERO'
  | 'INVALID_REQUEST'
  | 'LIMIT_EXCEEDED'
  | 'INTERNAL'
  | 'SYNTAX_ERROR'
  | 'CLOSED';

/** The schema's `ErrorCode` numbers, in wire order. */
export const WIRE_ERROR_CODES: readonly CalculatorErrorCode[] = [
  'INTERNAL', // 0 (UNSPECIFIED) never comes from the engine: a defect if it does
  'DIVISION_BY_ZERO',
  'INVALID_REQUEST',
  'LIMIT_EXCEEDED',
  'INTERNAL',
  'SYNTAX_ERROR',
];

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
    super(message);
    this.code = code;
    this.index = index;
  }
}

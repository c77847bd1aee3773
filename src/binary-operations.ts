// The five binary operations every calculator has (in process, remote, and a remote stream). Their
// bodies differ only in the operation, so one body is written and installed under every name
// (installBinaryOperations, from a static block, where a class's private members are in reach),
// and the methods are declared with the types below: by CalculatorCore for the in-process ones, by
// RemoteBinaryOperations for RemoteCalculator and RemoteStream, which extend it.
import type { Operation } from './validate.js';

/** The binary operations, by the names the API takes. */
export const BINARY_OPERATIONS: readonly Operation[] = ['add', 'subtract', 'multiply', 'divide', 'remainder'];

/** In process: two numbers (safe integers) give a number, two bigints a bigint. */
export interface BinaryOperation {
  (a: number, b: number): number;
  (a: bigint, b: bigint): bigint;
}

/** Remote: the same as a Promise, with the call's options last. */
export interface RemoteBinaryOperation<Options> {
  (a: number, b: number, options?: Options): Promise<number>;
  (a: bigint, b: bigint, options?: Options): Promise<bigint>;
}

/**
 * Defines `body(operation)` on `prototype` under each operation's name, as a class defines a
 * method (writable, configurable, not enumerable), named after it for stack traces.
 */
export function installBinaryOperations(
  prototype: object,
  body: (operation: Operation) => (...args: never[]) => unknown,
): void {
  for (const operation of BINARY_OPERATIONS) {
    const method = body(operation);
    Object.defineProperty(method, 'name', { value: operation });
    Object.defineProperty(prototype, operation, { value: method, writable: true, configurable: true });
  }
}

/**
 * The binary operations of a remote calculator (RemoteCalculator's, with CallOptions) and of a
 * RemoteStream (no options): each a call of `binaryOperation`.
 */
export abstract class RemoteBinaryOperations<Options> {
  /** `a + b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  declare add: RemoteBinaryOperation<Options>;
  /** `a - b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  declare subtract: RemoteBinaryOperation<Options>;
  /** `a * b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  declare multiply: RemoteBinaryOperation<Options>;
  /** `a / b` truncated toward zero (`MIN / -1` overflows: `MAX` saturated); `b = 0` rejects with DIVISION_BY_ZERO. */
  declare divide: RemoteBinaryOperation<Options>;
  /** `a % b` with the sign of `a` (`MIN % -1 = 0`); `b = 0` rejects with DIVISION_BY_ZERO. */
  declare remainder: RemoteBinaryOperation<Options>;

  /** @internal One binary operation, its operands not yet checked. */
  protected abstract binaryOperation(
    operation: Operation,
    a: number | bigint,
    b: number | bigint,
    options: Options | undefined,
  ): Promise<number | bigint>;

  static {
    installBinaryOperations(
      RemoteBinaryOperations.prototype,
      (operation) =>
        function (this: RemoteBinaryOperations<unknown>, a: number | bigint, b: number | bigint, options?: unknown) {
          return this.binaryOperation(operation, a, b, options);
        },
    );
  }
}

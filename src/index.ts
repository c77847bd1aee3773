// nanocalc: a 64-bit integer calculator for TypeScript whose engine is Rust, called in-process.
export { Calculator, DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES } from './calculator.js';
export type { BatchInput, CalculatorOptions, EngineKind, Operation, RuntimeOption } from './calculator.js';
export { CalculatorError } from './errors.js';
export type { CalculatorErrorCode } from './errors.js';

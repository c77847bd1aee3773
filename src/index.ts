// nanocalc: a 64-bit integer calculator for TypeScript whose engine is Rust, called in-process.
// An ES module (no CommonJS build): `import { Calculator } from 'nanocalc'`, or the default export.
import { Calculator, DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES } from './calculator.js';
import { CalculatorError } from './errors.js';

export { Calculator, CalculatorError, DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES };
export type {
  BatchAsyncOptions,
  BatchInput,
  BatchOptions,
  CalculatorOptions,
  EngineKind,
  EvaluateOptions,
  Operation,
  OverflowMode,
  RuntimeOption,
} from './calculator.js';
export type { CalculatorErrorCode } from './errors.js';

/** `import nanocalc from 'nanocalc'`: the same exports as one object. */
export default { Calculator, CalculatorError, DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES };

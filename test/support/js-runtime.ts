// 'nanocalc' for the contract suite on the TypeScript engine (npm run test:js): the package's
// exports, but a Calculator constructed without a `runtime` option opens `runtime: 'js'`. The
// test files import 'nanocalc' unchanged; the runner maps that specifier here (a module hook on
// Node, a plugin on Bun, an import map on Deno: see test/runtimes/run.ts).
import * as nanocalc from '../../src/index.js';

export * from '../../src/index.js';

/** Options with `runtime: 'js'` added when absent (anything else is left for the constructor to judge). */
function onJs(options: unknown): unknown {
  if (options === undefined) return { runtime: 'js' };
  if (typeof options !== 'object' || options === null || Object.hasOwn(options, 'runtime')) return options;
  return { ...options, runtime: 'js' };
}

export class Calculator extends nanocalc.Calculator {
  constructor(options?: nanocalc.CalculatorOptions) {
    super(onJs(options) as nanocalc.CalculatorOptions);
  }
}

export default { ...nanocalc.default, Calculator };

// `npm start`: a few calculations through the Rust core, then the quick benchmark table.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Calculator, CalculatorError } from 'nanocalc';

const calc = new Calculator();
const show = (expression: string, compute: () => unknown) => {
  let result: unknown;
  try {
    result = compute();
  } catch (error) {
    result = error instanceof CalculatorError ? `CalculatorError ${error.code}: ${error.message}` : error;
  }
  console.log(`  ${expression.padEnd(44)} → ${typeof result === 'bigint' ? `${result}n` : String(result)}`);
};

console.log('nanocalc: 64-bit integer arithmetic in Rust, called in-process with protobuf bytes\n');
show('calc.add(2, 3)', () => calc.add(2, 3));
show('calc.add(2n ** 62n, 2n ** 62n)', () => calc.add(2n ** 62n, 2n ** 62n));
show('calc.multiply(-(2n ** 63n), -1n)', () => calc.multiply(-(2n ** 63n), -1n));
show('calc.divide(-7, 2)', () => calc.divide(-7, 2));
show('calc.remainder(-7, 2)', () => calc.remainder(-7, 2));
show('calc.divide(1, 0)', () => calc.divide(1, 0));
show("calc.batch('multiply', [1n, 2n, 3n], [4, 5, 6])", () =>
  calc.batch('multiply', [1n, 2n, 3n], [4, 5, 6]).join(', '),
);
show("calc.evaluate('2 * (3 + -4) % 5')", () => calc.evaluate('2 * (3 + -4) % 5'));
show("calc.evaluate('2 * (3 + 4')", () => calc.evaluate('2 * (3 + 4'));
calc.close();

console.log('\nQuick benchmark (npm run bench for the full one):');
const bench = fileURLToPath(new URL('../bench/bench.js', import.meta.url));
const { status } = spawnSync(process.execPath, [bench, '--quick'], { stdio: ['ignore', 'inherit', 'ignore'] });
process.exitCode = status ?? 1;

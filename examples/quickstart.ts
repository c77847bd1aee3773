import { Calculator, CalculatorError } from 'nanocalc';

const calc = new Calculator();
const sum: number = calc.add(2, 3); // 5
const product: bigint = calc.multiply(9_223_372_036_854_775_807n, 2n); // saturates to 2^63 - 1
// Or wrap around, or throw OVERFLOW: new Calculator({ overflow: 'wrap' | 'throw' }), per batch too.
const sums: BigInt64Array = calc.batch('add', [1n, 2n, 3n], [10n, 20n, 30n]); // [11n, 22n, 33n]
try {
  calc.divide(1, 0);
} catch (error) {
  if (error instanceof CalculatorError) console.log(error.code); // 'DIVISION_BY_ZERO'
}
console.log(sum, product, sums);
calc.close();

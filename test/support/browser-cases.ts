// The contract cases test/browser.test.ts runs twice, in Node and in a Chromium page, and compares:
// `runContractCases` is sent to the page as source text, so it is self-contained (no import, no
// helper outside it) and takes and returns JSON only (bigints as decimal strings).

export type Mode = 'saturate' | 'wrap' | 'throw';
export type Op = 'add' | 'subtract' | 'multiply' | 'divide' | 'remainder';

export type Case =
  | { kind: 'op'; op: Op; a: string; b: string; overflow: Mode; numbers: boolean }
  | { kind: 'batch'; op: Op; a: string[]; b: string[]; overflow: Mode; typed: boolean }
  | { kind: 'batchAsync'; op: Op; a: string[]; b: string[]; overflow: Mode }
  | { kind: 'long'; op: Op; n: number; overflow: Mode }
  | { kind: 'evaluate'; text: string; overflow: Mode }
  | { kind: 'misuse'; what: 'mixed operands' | 'unsafe number' | 'closed' | 'bad operation' | 'bad option' };

/** A case's answer: the value(s) as decimal strings, or what was thrown. */
export type Outcome =
  | { value: string | string[] }
  | { thrown: { name: string; calculatorError: boolean; code: unknown; index: unknown; message: string } };

/** The package's exports the cases use (the Node entry's or the browser entry's). */
export interface Package {
  Calculator: new (options?: { overflow?: Mode }) => unknown;
  CalculatorError: abstract new (...args: never[]) => Error;
}

/**
 * With `remote`, the cases run on its RemoteCalculator of `endpoint` (with `token`) instead of
 * `nanocalc`'s Calculator (kinds 'op', 'batch', 'evaluate' and 'misuse': a RemoteCalculator has no
 * batchAsync); its errors must still be `nanocalc.CalculatorError`s.
 */
export interface RemoteUnderTest {
  RemoteCalculator: new (endpoint: string, options?: { token?: string; overflow?: Mode }) => unknown;
  endpoint: string;
  token: string;
}

export async function runContractCases(
  nanocalc: Package,
  cases: readonly Case[],
  remote?: RemoteUnderTest,
): Promise<Outcome[]> {
  // biome-ignore lint/suspicious/noExplicitAny: the calculator is driven by name, as JSON says
  type Any = any;
  const open = (options: { overflow?: Mode } = {}): Any =>
    remote === undefined
      ? new nanocalc.Calculator(options)
      : new remote.RemoteCalculator(remote.endpoint, { token: remote.token, ...options });
  const calculators = new Map<string, Any>();
  const calculatorFor = (overflow: Mode): Any => {
    let calc = calculators.get(overflow);
    if (calc === undefined) {
      calc = open({ overflow });
      calculators.set(overflow, calc);
    }
    return calc;
  };
  const column = (values: string[]) => BigInt64Array.from(values, (v) => BigInt(v));
  const strings = (values: BigInt64Array) => Array.from(values, (v) => v.toString());
  const answer = async (c: Case): Promise<string | string[]> => {
    switch (c.kind) {
      case 'op': {
        const calc = calculatorFor(c.overflow);
        return String(await (c.numbers ? calc[c.op](Number(c.a), Number(c.b)) : calc[c.op](BigInt(c.a), BigInt(c.b))));
      }
      case 'batch': {
        const calc = calculatorFor('saturate');
        const a = c.typed ? column(c.a) : c.a.map((v) => BigInt(v));
        const b = c.typed ? column(c.b) : c.b.map((v) => BigInt(v));
        return strings(await calc.batch(c.op, a, b, { overflow: c.overflow }));
      }
      case 'batchAsync':
        return strings(
          await calculatorFor('saturate').batchAsync(c.op, column(c.a), column(c.b), { overflow: c.overflow }),
        );
      case 'long': {
        // Built here rather than sent (as JSON across the DevTools protocol, the slow part); the
        // answer is its length, a checksum (the wrapping sum) and its ends.
        const a = BigInt64Array.from({ length: c.n }, (_, i) => BigInt(i - (c.n >> 1)));
        const b = BigInt64Array.from({ length: c.n }, (_, i) => BigInt(3 * i + 1));
        const out: BigInt64Array = await calculatorFor('saturate').batchAsync(c.op, a, b, { overflow: c.overflow });
        let sum = 0n;
        for (const v of out) sum = BigInt.asIntN(64, sum + v);
        return [String(out.length), String(sum), String(out[0]), String(out[c.n - 1])];
      }
      case 'evaluate':
        return String(await calculatorFor('saturate').evaluate(c.text, { overflow: c.overflow }));
      case 'misuse': {
        const calc: Any = open();
        if (c.what === 'mixed operands') return String(await calc.add(1, 2n));
        if (c.what === 'unsafe number') return String(await calc.add(2 ** 53, 1));
        if (c.what === 'bad operation') return strings(await calc.batch('power', [1n], [2n]));
        if (c.what === 'bad option') return String(open({ overflow: 'clamp' as Mode }));
        calc.close();
        return String(await calc.add(1n, 2n));
      }
    }
  };
  const outcomes: Outcome[] = [];
  for (const c of cases) {
    try {
      outcomes.push({ value: await answer(c) });
    } catch (error) {
      const e = error as { name?: unknown; code?: unknown; index?: unknown; message?: unknown };
      outcomes.push({
        thrown: {
          name: String(e.name),
          calculatorError: error instanceof nanocalc.CalculatorError,
          code: e.code ?? null,
          index: e.index ?? null,
          message: String(e.message),
        },
      });
    }
  }
  if (remote !== undefined) for (const calc of calculators.values()) calc.close();
  return outcomes;
}

// nanocalc-test: node-only
// The package in a real browser: examples/browser/ bundled by esbuild through the `browser`
// condition of package.json's exports, served from 127.0.0.1 and driven in headless Chromium
// (Debian's `chromium`, installed with apt-get when missing) by playwright-core. The contract cases
// (test/support/browser-cases.ts) run in the page on the TypeScript engine and in this process on
// the Rust engine, and must agree; the bundle must import nothing from `node:`. The page also calls
// a real `nanocalc serve` on 127.0.0.1 (started here with --cors-origin set to the page's origin and
// a token) through nanocalc/remote's browser entry, RemoteCalculator over gRPC-Web: the same cases
// must agree with the in-process answers, and a token missing or an origin not allowed must fail.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import * as nanocalc from 'nanocalc';
import type { Browser, Page } from 'playwright-core';
import {
  type Case,
  type Mode,
  type Op,
  type Package,
  type RemoteUnderTest,
  runContractCases,
} from './support/browser-cases.js';
import { bundleForBrowser, launchChromium } from './support/chromium.js';
import { pseudoRandomI64 } from './support/helpers.js';
import {
  ROOT,
  type Server as CalcServer,
  metric,
  scrapeMetrics,
  selfSignedCertificate,
  startServer,
  stopAll,
} from './support/servers.js';

const EXAMPLE = join(ROOT, 'examples', 'browser');
/** The test's output folder: the bundle, and the page's screenshot. */
const OUT = join(ROOT, 'target', 'browser-test');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const TOKEN = 'page-s3cret';

let metafile: Metafile;
let bundle: string;
let server: Server;
let origin: string;
let browser: Browser;
let page: Page;
/** `nanocalc serve`, allowing the page's origin only. */
let calcServer: CalcServer;
let serverUrl: string;

/** Serves the example's page and the bundle from OUT. */
function serve(): Promise<Server> {
  const files: Record<string, [string, string]> = {
    '/': [join(EXAMPLE, 'index.html'), 'text/html'],
    '/main.js': [join(OUT, 'main.js'), 'text/javascript'],
  };
  const http = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://x').pathname];
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file[1] }).end(readFileSync(file[0]));
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http)));
}

before(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  ({ metafile, code: bundle } = await bundleForBrowser({ entryPoints: [join(EXAMPLE, 'main.ts')] }));
  writeFileSync(join(OUT, 'main.js'), bundle);
  server = await serve();
  const address = server.address() as { port: number };
  origin = `http://127.0.0.1:${address.port}`;
  calcServer = await startServer(['--metrics-addr', '127.0.0.1:0', '--cors-origin', origin], {
    command: [process.execPath, CLI, 'serve'],
    env: { NANOCALC_TOKEN: TOKEN },
  });
  serverUrl = `http://${calcServer.address}`;
  browser = await launchChromium();
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${origin}/?server=${encodeURIComponent(serverUrl)}&token=${TOKEN}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 }).catch(() => {
    throw new Error(`the example page did not start: ${errors.join('; ') || 'no error reported'}`);
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await stopAll();
});

test('the bundle is built from the browser entries and imports nothing from node:', () => {
  const inputs = Object.keys(metafile.inputs);
  for (const entry of ['dist/src/browser.js', 'dist/src/remote/browser.js', 'dist/src/remote/web.js']) {
    assert.ok(
      inputs.some((path) => path.endsWith(entry)),
      `${entry} is bundled: ${inputs.join(', ')}`,
    );
  }
  for (const nodeOnly of [
    'dist/src/calculator.js',
    'dist/src/runtime/open.js',
    'dist/src/runtime/node.js',
    'dist/src/runtime/js.js',
    'dist/src/remote/index.js',
    'dist/src/remote/calculator.js',
    'dist/src/remote/grpc.js',
    'dist/src/remote/stream.js',
  ]) {
    assert.ok(!inputs.some((path) => path.endsWith(nodeOnly)), `${nodeOnly} is not in the bundle`);
  }
  assert.deepEqual(
    inputs.filter((path) => path.includes('@grpc/')),
    [],
    'no @grpc/grpc-js',
  );
  const imports = Object.values(metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  assert.deepEqual(
    imports.filter((path) => path.startsWith('node:')),
    [],
  );
  assert.doesNotMatch(bundle, /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']node:/);
  // What the bundle still imports at run time (external): nothing.
  const output = Object.values(metafile.outputs)[0]!;
  assert.deepEqual(output.imports, []);
});

test('the example page evaluates what is typed in the page and on the server, as Node does', async () => {
  const cases: [string, string][] = [
    ['2 * (3 + -4) % 5', '-2'],
    ['9223372036854775807 + 1', '9223372036854775807'],
    ['7 / (3 - 3)', 'DIVISION_BY_ZERO'],
  ];
  const calc = new nanocalc.Calculator();
  for (const [text, expected] of cases) {
    await page.fill('#expression', text);
    const shown = (await page.textContent('#local'))!;
    let inNode: string;
    try {
      inNode = calc.evaluate(text).toString();
    } catch (error) {
      inNode = `${(error as nanocalc.CalculatorError).code}: ${(error as Error).message}`;
    }
    assert.equal(shown, inNode, text);
    assert.ok(shown.startsWith(expected), `${text}: ${shown}`);
    // The server's answer, shown once it has come for this text.
    await serverAnswered(page, text);
    assert.equal(await page.textContent('#remote'), inNode, `${text}, from the server`);
  }
  const before = metric(await scrapeMetrics(calcServer.metricsAddress!), 'nanocalc_engine_requests_total');
  await page.fill('#expression', '(1 + 2) * 3 - 4 / 2 % 7');
  await serverAnswered(page, '(1 + 2) * 3 - 4 / 2 % 7');
  assert.equal(await page.textContent('#remote'), '7');
  const after = metric(await scrapeMetrics(calcServer.metricsAddress!), 'nanocalc_engine_requests_total');
  assert.ok(after > before, 'the server computed it');
  await page.screenshot({ path: join(OUT, 'page.png') });
  assert.ok(existsSync(join(OUT, 'page.png')));
});

/** Waits until the example page shows the server's answer for `text` (or, without one, any answer). */
function serverAnswered(on: Page, text?: string): Promise<unknown> {
  const shown = "document.querySelector('#remote').dataset.expression";
  const done = text === undefined ? `${shown} !== undefined` : `${shown} === ${JSON.stringify(text)}`;
  return on.waitForFunction(done, undefined, { timeout: 10_000 });
}

const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);
const EDGES = [0n, 1n, -1n, 2n, -2n, 7n, -7n, 3037000499n, -3037000500n, 2n ** 32n, MAX, MAX - 1n, MIN, MIN + 1n];
const OPS: Op[] = ['add', 'subtract', 'multiply', 'divide', 'remainder'];
const MODES: Mode[] = ['saturate', 'wrap', 'throw'];
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function contractCases(): Case[] {
  const cases: Case[] = [];
  for (const overflow of MODES) {
    for (const op of OPS) {
      for (const a of EDGES) {
        for (const b of EDGES) {
          cases.push({ kind: 'op', op, a: `${a}`, b: `${b}`, overflow, numbers: false });
          if (a >= -SAFE && a <= SAFE && b >= -SAFE && b <= SAFE) {
            cases.push({ kind: 'op', op, a: `${a}`, b: `${b}`, overflow, numbers: true });
          }
        }
      }
    }
  }
  const random = pseudoRandomI64(19n);
  const randomColumn = (n: number) => Array.from({ length: n }, () => `${random.next().value as bigint}`);
  for (const overflow of MODES) {
    for (const op of OPS) {
      // Each third element small, so multiply and divide do not only saturate or give 0.
      const a = randomColumn(600).map((v, i) => (i % 3 === 0 ? `${BigInt(v) % 1000n}` : v));
      const b = randomColumn(600).map((v, i) => (i % 3 === 1 ? `${BigInt(v) % 1000n}` : v));
      const nonZero = b.map((v) => (v === '0' ? '1' : v));
      cases.push({ kind: 'batch', op, a, b: nonZero, overflow, typed: true });
      cases.push({ kind: 'batch', op, a: a.slice(0, 50), b: nonZero.slice(0, 50), overflow, typed: false });
      cases.push({ kind: 'batchAsync', op, a, b: nonZero, overflow });
      // A zero divisor at 37: DIVISION_BY_ZERO with index 37 for divide and remainder.
      cases.push({ kind: 'batch', op, a, b: nonZero.map((v, i) => (i === 37 ? '0' : v)), overflow, typed: true });
    }
    // OVERFLOW at 5 with 'throw' (MAX + 1).
    const a = ['1', '2', '3', '4', '5', `${MAX}`, '7'];
    cases.push({ kind: 'batch', op: 'add', a, b: a.map(() => '1'), overflow, typed: true });
    cases.push({ kind: 'batchAsync', op: 'add', a, b: a.map(() => '1'), overflow });
  }
  // Long enough for several chunks of batchAsync (262,144 elements each).
  for (const op of OPS) cases.push({ kind: 'long', op, n: 600_000, overflow: 'throw' });
  const texts = [
    '2 * (3 + -4) % 5',
    '1 + 2 * 3 - 4 / 2 % 3',
    '-9223372036854775808',
    '-(-9223372036854775808)',
    '9223372036854775808',
    '9223372036854775807 * 2',
    '(((((1)))))',
    '1 / 0',
    '5 % (2 - 2)',
    '1 +',
    '2 ** 3',
    ')',
    '',
    '  42  ',
    '3000000000 * 3000000000 * 3000000000',
    `${'('.repeat(300)}1${')'.repeat(300)}`,
    '１ + 2',
  ];
  for (const overflow of MODES) for (const text of texts) cases.push({ kind: 'evaluate', text, overflow });
  for (const what of ['mixed operands', 'unsafe number', 'closed', 'bad operation', 'bad option'] as const) {
    cases.push({ kind: 'misuse', what });
  }
  return cases;
}

test('the contract cases on the TypeScript engine in Chromium answer as the Rust engine in Node', async () => {
  const cases = contractCases();
  const inNode = await runContractCases(nanocalc as unknown as Package, cases);
  const inPage = await page.evaluate(
    // The runner's source text, applied in the page to the bundle's exports (globalThis.nanocalc).
    ([source, list]) => {
      const run = new Function(`return (${source})`)() as typeof runContractCases;
      return run((globalThis as unknown as { nanocalc: Package }).nanocalc, list);
    },
    [runContractCases.toString(), cases] as const,
  );
  assert.equal(inPage.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    assert.deepStrictEqual(inPage[i], inNode[i], `case ${i}: ${JSON.stringify(cases[i]).slice(0, 200)}`);
  }
  // The answers themselves, not only their agreement: the errors are CalculatorErrors with an index.
  const thrown = (c: (c: Case) => boolean) =>
    inPage.filter((_, i) => c(cases[i]!)).map((o) => ('thrown' in o ? o.thrown : undefined));
  const zeroAt37 = thrown((c) => c.kind === 'batch' && c.op === 'divide' && c.b[37] === '0');
  assert.equal(zeroAt37.length, 3);
  for (const error of zeroAt37) {
    assert.deepEqual(
      [error?.name, error?.calculatorError, error?.code, error?.index],
      ['CalculatorError', true, 'DIVISION_BY_ZERO', 37],
    );
  }
  const overflowAt5 = thrown(
    (c) =>
      (c.kind === 'batch' || c.kind === 'batchAsync') && c.op === 'add' && c.overflow === 'throw' && c.a.length === 7,
  );
  assert.equal(overflowAt5.length, 2);
  for (const error of overflowAt5) {
    assert.deepEqual([error?.calculatorError, error?.code, error?.index], [true, 'OVERFLOW', 5]);
  }
  const closed = inPage[cases.findIndex((c) => c.kind === 'misuse' && c.what === 'closed')]!;
  assert.deepEqual('thrown' in closed && [closed.thrown.calculatorError, closed.thrown.code], [true, 'CLOSED']);
});

test('the page stays responsive while batchAsync runs, and the engine is the TypeScript one', async () => {
  const result = await page.evaluate(async () => {
    const { Calculator } = (globalThis as unknown as { nanocalc: typeof nanocalc }).nanocalc;
    const calc = new Calculator();
    const n = 1_000_000;
    const a = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
    let turns = 0;
    // A macrotask of the page's own, counted while the batch runs: chunks must leave room for it.
    const tick = () => {
      turns++;
      if (!done) setTimeout(tick, 0);
    };
    let done = false;
    setTimeout(tick, 0);
    const out: BigInt64Array = await calc.batchAsync('add', a, a);
    done = true;
    return { runtime: calc.runtime as string, last: `${out[n - 1]}`, turns };
  });
  assert.equal(result.runtime, 'js');
  assert.equal(result.last, `${2 * (1_000_000 - 1)}`);
  assert.ok(result.turns >= 1, `the page's own task ran between chunks (${result.turns} turns)`);
});

/** The page's globals (examples/browser/main.ts): the two packages' browser entries. */
interface PageGlobals {
  nanocalc: Package;
  nanocalcRemote: typeof import('../src/remote/browser.js');
}

const engineRequests = async () =>
  metric(await scrapeMetrics(calcServer.metricsAddress!), 'nanocalc_engine_requests_total');

test('RemoteCalculator over gRPC-Web in Chromium answers the contract cases as the in-process Calculator', async () => {
  const cases = contractCases().filter((c) => ['op', 'batch', 'evaluate', 'misuse'].includes(c.kind));
  const inNode = await runContractCases(nanocalc as unknown as Package, cases);
  const before = await engineRequests();
  const inPage = await page.evaluate(
    ([source, list, endpoint, token]) => {
      const run = new Function(`return (${source})`)() as typeof runContractCases;
      const { nanocalc: local, nanocalcRemote } = globalThis as unknown as PageGlobals;
      const remote: RemoteUnderTest = {
        RemoteCalculator: nanocalcRemote.RemoteCalculator as RemoteUnderTest['RemoteCalculator'],
        endpoint,
        token,
      };
      return run(local, list, remote);
    },
    [runContractCases.toString(), cases, serverUrl, TOKEN] as const,
  );
  assert.equal(inPage.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    const there = inPage[i]!;
    // The one message that differs, on purpose: a closed calculator says which class it is.
    if ('thrown' in there && there.thrown.code === 'CLOSED') {
      assert.equal(there.thrown.message, 'nanocalc: this RemoteCalculator is closed');
      there.thrown.message = there.thrown.message.replace('RemoteCalculator', 'Calculator');
    }
    assert.deepStrictEqual(there, inNode[i], `case ${i}: ${JSON.stringify(cases[i]).slice(0, 200)}`);
  }
  // Computed by the server: one engine request per operation, batch and expression that was sent.
  const sent = cases.filter((c) => c.kind !== 'misuse').length;
  assert.ok((await engineRequests()) - before >= sent, `the server computed the ${sent} calls`);
  const zeroAt37 = inPage.filter((_, i) => {
    const c = cases[i]!;
    return c.kind === 'batch' && c.op === 'divide' && c.b[37] === '0';
  });
  assert.equal(zeroAt37.length, 3);
  for (const outcome of zeroAt37) {
    assert.ok('thrown' in outcome);
    assert.deepEqual(
      [outcome.thrown.name, outcome.thrown.calculatorError, outcome.thrown.code, outcome.thrown.index],
      ['CalculatorError', true, 'DIVISION_BY_ZERO', 37],
    );
  }
});

test('in Chromium: DIVISION_BY_ZERO is a CalculatorError, no token is UNAUTHENTICATED, stream() is UNIMPLEMENTED', async () => {
  const seen = await page.evaluate(
    async ([endpoint, token]) => {
      const { nanocalc: local, nanocalcRemote } = globalThis as unknown as PageGlobals;
      const Local = local as unknown as { CalculatorError: typeof nanocalcRemote.CalculatorError };
      const describe = (e: unknown) => {
        const error = e as { name: string; code?: unknown; status?: unknown; index?: unknown; message: string };
        return {
          name: error.name,
          calculatorError: e instanceof Local.CalculatorError,
          remoteError: e instanceof nanocalcRemote.RemoteError,
          code: error.code ?? null,
          status: error.status ?? null,
          index: error.index ?? null,
          message: error.message,
        };
      };
      const calc = new nanocalcRemote.RemoteCalculator(endpoint, { token });
      const anonymous = new nanocalcRemote.RemoteCalculator(endpoint);
      let stream: unknown = 'no error';
      try {
        calc.stream();
      } catch (e) {
        stream = describe(e);
      }
      return {
        value: String(await calc.multiply(-3037000499n, 3037000499n)),
        zero: await calc.divide(1n, 0n).then(String, describe),
        anonymous: await anonymous.add(1, 2).then(String, describe),
        stream,
      };
    },
    [serverUrl, TOKEN] as const,
  );
  assert.equal(seen.value, `${-3037000499n * 3037000499n}`);
  assert.deepEqual(seen.zero, {
    name: 'CalculatorError',
    calculatorError: true,
    remoteError: false,
    code: 'DIVISION_BY_ZERO',
    status: null,
    index: null,
    message: 'nanocalc: division by zero',
  });
  assert.ok(typeof seen.anonymous === 'object');
  assert.deepEqual(
    [seen.anonymous.name, seen.anonymous.remoteError, seen.anonymous.code, seen.anonymous.status],
    ['RemoteError', true, 16, 'UNAUTHENTICATED'],
  );
  assert.match(seen.anonymous.message, /missing bearer token/, 'grpc-message is exposed to the page');
  const stream = seen.stream as { name?: string; status?: unknown };
  assert.deepEqual([stream.name, stream.status], ['RemoteError', 'UNIMPLEMENTED']);
});

test('a page of another origin is refused by the server: nothing computed, the page sees UNAVAILABLE', async () => {
  const other = await serve();
  const otherOrigin = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  const samples = await scrapeMetrics(calcServer.metricsAddress!);
  const [started, computed] = [
    metric(samples, 'grpc_server_started_total'),
    metric(samples, 'nanocalc_engine_requests_total'),
  ];
  const stranger = await browser.newPage();
  try {
    await stranger.goto(`${otherOrigin}/?server=${encodeURIComponent(serverUrl)}&token=${TOKEN}`);
    await stranger.waitForSelector('body[data-ready="true"]');
    await serverAnswered(stranger);
    assert.match((await stranger.textContent('#remote'))!, /^UNAVAILABLE: .*--cors-origin/);
    const seen = await stranger.evaluate(async (endpoint) => {
      const { nanocalcRemote } = globalThis as unknown as PageGlobals;
      const calc = new nanocalcRemote.RemoteCalculator(endpoint, { maxAttempts: 1 });
      return calc.add(1, 2).then(String, (e: { name: string; status: string }) => [e.name, e.status]);
    }, serverUrl);
    assert.deepEqual(seen, ['RemoteError', 'UNAVAILABLE']);
    const after = await scrapeMetrics(calcServer.metricsAddress!);
    assert.equal(metric(after, 'grpc_server_started_total'), started, 'no call reached the service');
    assert.equal(metric(after, 'nanocalc_engine_requests_total'), computed, 'nothing was computed');
  } finally {
    await stranger.close();
    await new Promise((resolve) => other.close(resolve));
  }
});

test('over TLS the page calls the server over HTTP/2 (ALPN h2), answers and errors as over HTTP/1.1', async () => {
  const certificate = selfSignedCertificate();
  const tlsServer = await startServer(
    ['--cors-origin', origin, '--tls-cert', certificate.cert, '--tls-key', certificate.key],
    {
      command: [process.execPath, CLI, 'serve'],
      env: { NANOCALC_TOKEN: TOKEN },
    },
  );
  // The certificate is a throwaway self-signed one: this context trusts any.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const tlsPage = await context.newPage();
    const cdp = await context.newCDPSession(tlsPage);
    await cdp.send('Network.enable');
    const protocols: string[] = [];
    const port = tlsServer.address.slice(tlsServer.address.lastIndexOf(':') + 1);
    const endpoint = `https://localhost:${port}`;
    cdp.on('Network.responseReceived', (event: { response: { url: string; protocol?: string } }) => {
      if (event.response.url.startsWith(endpoint)) protocols.push(event.response.protocol ?? '?');
    });
    await tlsPage.goto(`${origin}/?server=${encodeURIComponent(endpoint)}&token=${TOKEN}`);
    await tlsPage.waitForSelector('body[data-ready="true"]');
    await tlsPage.fill('#expression', '6 * 7 - 1 / 0');
    await serverAnswered(tlsPage, '6 * 7 - 1 / 0');
    const inNode = (() => {
      try {
        return String(new nanocalc.Calculator().evaluate('6 * 7 - 1 / 0'));
      } catch (error) {
        return `${(error as nanocalc.CalculatorError).code}: ${(error as Error).message}`;
      }
    })();
    assert.match(inNode, /^DIVISION_BY_ZERO: /);
    assert.equal(await tlsPage.textContent('#remote'), inNode);
    const seen = await tlsPage.evaluate(async (url) => {
      const { nanocalcRemote } = globalThis as unknown as PageGlobals;
      const calc = new nanocalcRemote.RemoteCalculator(url, { token: 'wrong' });
      return calc.add(1, 2).then(String, (e: { status: string }) => e.status);
    }, endpoint);
    assert.equal(seen, 'UNAUTHENTICATED');
    assert.ok(protocols.length >= 2, `responses seen: ${protocols.join(', ')}`);
    assert.deepEqual([...new Set(protocols)], ['h2'], 'every call over HTTP/2');
  } finally {
    await context.close();
    await tlsServer.stop();
    certificate.remove();
  }
});

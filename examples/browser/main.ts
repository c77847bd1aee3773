// The example page's script: each expression typed is evaluated by the package's in-page engine
// (the `browser` entry of 'nanocalc', bundled by esbuild or any bundler) and, when the page is
// opened with ?server=URL (and &token=TOKEN for a server with NANOCALC_TOKEN: a local trial only,
// an address bar is no place for a secret), by that nanocalc server over gRPC-Web (the `browser`
// entry of 'nanocalc/remote'); the server must allow this page's origin (--cors-origin). Both
// packages are also published on `globalThis` for scripts (test/browser.test.ts drives the page).
import * as nanocalc from 'nanocalc';
import * as nanocalcRemote from 'nanocalc/remote';

const calc = new nanocalc.Calculator();
Object.assign(globalThis, { nanocalc, nanocalcRemote });

const input = document.querySelector<HTMLInputElement>('#expression')!;
const local = document.querySelector<HTMLElement>('#local')!;
const fromServer = document.querySelector<HTMLElement>('#remote')!;

const params = new URLSearchParams(location.search);
const serverUrl = params.get('server');
const token = params.get('token') ?? undefined;
const remote =
  serverUrl === null ? undefined : new nanocalcRemote.RemoteCalculator(serverUrl, { token, timeoutMs: 10_000 });

/** What an evaluation gave: the value, or the error's code and message. */
function describe(error: unknown): string {
  if (error instanceof nanocalc.CalculatorError) return `${error.code}: ${error.message}`;
  if (error instanceof nanocalcRemote.RemoteError) return `${error.status}: ${error.details}`;
  return String(error);
}

function show(target: HTMLElement, text: string, failed: boolean, expression: string): void {
  target.textContent = text;
  target.className = failed ? 'error' : '';
  target.dataset.expression = expression;
}

function evaluateHere(expression: string): void {
  try {
    show(local, calc.evaluate(expression).toString(), false, expression);
  } catch (error) {
    show(local, describe(error), true, expression);
  }
}

let asked = 0;
async function evaluateThere(expression: string): Promise<void> {
  if (remote === undefined) {
    const hint = `no server: open this page with ?server=http://127.0.0.1:50051 and run nanocalc serve --cors-origin ${location.origin}`;
    show(fromServer, hint, false, expression);
    return;
  }
  const ticket = ++asked; // answers may arrive out of order: only the latest is shown
  fromServer.textContent = '…';
  delete fromServer.dataset.expression;
  let text: string;
  let failed = false;
  try {
    text = (await remote.evaluate(expression)).toString();
  } catch (error) {
    text = describe(error);
    failed = true;
  }
  if (ticket === asked) show(fromServer, text, failed, expression);
}

function update(): void {
  evaluateHere(input.value);
  void evaluateThere(input.value);
}

input.addEventListener('input', update);
document.querySelector('#form')!.addEventListener('submit', (event) => event.preventDefault());
update();
document.body.dataset.ready = 'true';

// The example page's script: each expression typed is evaluated by the package's in-page engine
// (the `browser` entry of 'nanocalc', bundled by esbuild or any bundler). The package is also
// published on `globalThis.nanocalc` for scripts (test/browser.test.ts drives the page with it).
import * as nanocalc from 'nanocalc';

const calc = new nanocalc.Calculator();
Object.assign(globalThis, { nanocalc });

const input = document.querySelector<HTMLInputElement>('#expression')!;
const local = document.querySelector<HTMLElement>('#local')!;

function show(target: HTMLElement, compute: () => bigint): void {
  try {
    target.textContent = compute().toString();
    target.className = '';
  } catch (error) {
    const failure = error as { code?: string; message?: string };
    target.textContent =
      error instanceof nanocalc.CalculatorError ? `${failure.code}: ${failure.message}` : String(error);
    target.className = 'error';
  }
}

function update(): void {
  show(local, () => calc.evaluate(input.value));
}

input.addEventListener('input', update);
document.querySelector('#form')!.addEventListener('submit', (event) => event.preventDefault());
update();
document.body.dataset.ready = 'true';

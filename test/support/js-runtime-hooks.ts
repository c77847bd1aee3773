// Node's module hooks for the contract suite on the TypeScript engine: the specifier 'nanocalc'
// resolves to ./js-runtime.js (registered by ./js-runtime-register.ts, `node --import`).
const target = new URL('./js-runtime.js', import.meta.url).href;

type Next = (specifier: string, context: unknown) => unknown;

export function resolve(specifier: string, context: unknown, next: Next): unknown {
  if (specifier === 'nanocalc') return { url: target, shortCircuit: true };
  return next(specifier, context);
}

// The Rust baselines of the benchmark, in the addon built with nanocalc-node's cargo feature
// `bench-baselines` (`npm run build:native-bench`, into target/bench-addon/; the published addon in
// native/ has neither function): processBuffer, the generic path a straightforward port would take
// (a Buffer argument, prost decode into owned messages, prost encode into a new Buffer), and
// boundaryFloor, a raw Node-API callback that does nothing (the floor of a crossing). Loaded by
// bench.ts and test/generic-path.test.ts; the package itself never loads this addon.
import { createRequire } from 'node:module';
import type * as Binding from '../target/bench-addon/index.js';

export type BaselineAddon = typeof Binding & {
  /** A raw Node-API callback that does nothing: the floor of a crossing. */
  boundaryFloor(): void;
};

let addon: BaselineAddon | undefined;

/** The addon with the baselines, loaded on first use (this file runs from dist/bench). */
export function baselineAddon(): BaselineAddon {
  addon ??= createRequire(import.meta.url)('../../target/bench-addon/nanocalc.node') as BaselineAddon;
  return addon;
}

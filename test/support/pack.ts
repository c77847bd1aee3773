// Packs the main package and the platform package (npm pack, without running `prepare`, which would
// rebuild everything) into a temporary directory, for the packaging and install tests.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/support → the package root
export const PLATFORM_DIR = join(ROOT, 'npm', 'linux-x64-gnu');

export interface Packed {
  /** The tarball's path. */
  tarball: string;
  /** Each file in it (paths inside the package) with its size in bytes. */
  files: { path: string; size: number }[];
  /** The tarball's own size in bytes. */
  size: number;
}

function pack(dir: string, destination: string): Packed {
  const output = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', destination], {
    cwd: dir,
    encoding: 'utf8',
  });
  const [report] = JSON.parse(output) as { filename: string; size: number; files: { path: string; size: number }[] }[];
  return { tarball: join(destination, report!.filename), files: report!.files, size: report!.size };
}

/** Packs both packages into a new temporary directory. */
export function packBoth(): { dir: string; main: Packed; platform: Packed } {
  const dir = mkdtempSync(join(tmpdir(), 'nanocalc-pack-'));
  return { dir, main: pack(ROOT, dir), platform: pack(PLATFORM_DIR, dir) };
}

/** `PATH` without any directory holding cargo: a user's machine with no Rust toolchain. */
export function pathWithoutCargo(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !existsSync(join(dir, 'cargo')))
    .join(delimiter);
}

/**
 * The environment of a user's shell: no cargo on PATH, and none of the npm_* variables that
 * `npm test` (npm run) sets for its scripts, which would steer a nested npm, pnpm or Bun.
 */
export function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !key.startsWith('NANOCALC_')) env[key] = value;
  }
  env.PATH = pathWithoutCargo();
  return env;
}

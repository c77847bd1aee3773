// Where the native binaries are, one answer for the Node-API addon (./node.ts), the C ABI library
// (./library.ts: bun:ffi, Deno.dlopen) and `nanocalc serve` (../cli.ts). In order:
//   1. NANOCALC_NATIVE_DIR, when set (then nothing else is tried: an explicit choice is not second-guessed);
//   2. native/ at the package root: a development checkout's own build (`npm run build`; never shipped);
//   3. the platform package (@nanocalc/<platform>-<arch>[-<libc>]), an optionalDependency that npm,
//      pnpm and Bun install only where its os/cpu/libc fields fit.
// When none has the file, `locateNative` returns undefined (the 'auto' runtime then falls back, see
// ./open.ts) and `requireNative` throws an error naming the platform and every path tried.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/** The three native files a platform package holds. */
export type NativeFile = 'addon' | 'library' | 'server';

const DESCRIPTIONS: Record<NativeFile, string> = {
  addon: 'Node-API addon',
  library: 'C ABI library',
  server: 'nanocalc-server binary',
};

/** A native file's name on `platform`, as napi-rs and cargo name it. */
export function nativeFileName(file: NativeFile, platform: string = process.platform): string {
  if (file === 'addon') return 'nanocalc.node';
  if (file === 'server') return platform === 'win32' ? 'nanocalc-server.exe' : 'nanocalc-server';
  if (platform === 'win32') return 'nanocalc_ffi.dll';
  if (platform === 'darwin') return 'libnanocalc_ffi.dylib';
  return 'libnanocalc_ffi.so';
}

let libc: { value: 'glibc' | 'musl' | undefined } | undefined;

/** The C library on Linux ('glibc' or 'musl'), undefined elsewhere (found once: a report costs milliseconds). */
export function linuxLibc(): 'glibc' | 'musl' | undefined {
  libc ??= { value: detectLibc() };
  return libc.value;
}

function detectLibc(): 'glibc' | 'musl' | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // Node (and Bun) report the glibc version they run on; musl has none.
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    if (report?.header !== undefined) return report.header.glibcVersionRuntime === undefined ? 'musl' : 'glibc';
  } catch {
    // Deno has no process.report: the dynamic loader's name tells.
  }
  return existsSync(`/lib/ld-musl-${process.arch === 'x64' ? 'x86_64' : 'aarch64'}.so.1`) ? 'musl' : 'glibc';
}

/** This machine as the platform packages name it: linux-x64-gnu, linux-x64-musl, darwin-arm64, win32-x64... */
export function platformId(): string {
  const libc = linuxLibc();
  return `${process.platform}-${process.arch}${libc === undefined ? '' : libc === 'glibc' ? '-gnu' : '-musl'}`;
}

/** The npm package holding this machine's binaries. */
export function platformPackageName(): string {
  return `@nanocalc/${platformId()}`;
}

/** The package root: this file runs from dist/src/runtime/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** NANOCALC_NATIVE_DIR; unset where reading the environment is not allowed (Deno without --allow-env). */
function nativeDirOverride(): string | undefined {
  try {
    return process.env.NANOCALC_NATIVE_DIR;
  } catch {
    return undefined;
  }
}

/** The directories to look in, in order, each with where it comes from. */
function candidateDirectories(): { dir: string; source: string }[] {
  const explicit = nativeDirOverride();
  if (explicit !== undefined && explicit !== '') return [{ dir: explicit, source: 'NANOCALC_NATIVE_DIR' }];
  const dirs = [{ dir: join(ROOT, 'native'), source: 'the development build' }];
  const name = platformPackageName();
  try {
    const manifest = createRequire(import.meta.url).resolve(`${name}/package.json`);
    dirs.push({ dir: dirname(manifest), source: name });
  } catch {
    dirs.push({ dir: `${name} (not installed)`, source: name });
  }
  return dirs;
}

/** The paths tried for `file`, in order. */
export function nativeCandidates(file: NativeFile): string[] {
  const fileName = nativeFileName(file);
  return candidateDirectories().map(({ dir }) => join(dir, fileName));
}

/** The first of `nativeCandidates(file)` that exists, or undefined when no binary fits this machine. */
export function locateNative(file: NativeFile): string | undefined {
  return nativeCandidates(file).find((path) => existsSync(path));
}

/** Raised when a native runtime was asked for explicitly and no binary fits. */
export class NativeNotFoundError extends Error {
  override readonly name = 'NativeNotFoundError';
  constructor(
    readonly file: NativeFile,
    readonly tried: string[],
  ) {
    super(
      `nanocalc: no ${DESCRIPTIONS[file]} for this platform (${process.platform}, ${process.arch}, ` +
        `libc ${linuxLibc() ?? 'n/a'}); tried ${tried.join(', ')}. Prebuilt binaries come in ` +
        `${platformPackageName()} (an optional dependency, installed where one is published); ` +
        'set NANOCALC_NATIVE_DIR to a directory holding them, or build from a clone (npm install)',
    );
  }
}

/** The path of `file`, or a NativeNotFoundError naming the platform and every path tried. */
export function requireNative(file: NativeFile): string {
  const tried = nativeCandidates(file);
  const found = tried.find((path) => existsSync(path));
  if (found === undefined) throw new NativeNotFoundError(file, tried);
  return found;
}

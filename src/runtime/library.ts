// Where the C ABI library of crates/nanocalc-ffi is, for bun:ffi and Deno.dlopen.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/** The library's file name on this platform, as cargo names a cdylib. */
export function ffiLibraryName(platform: string = process.platform): string {
  if (platform === 'win32') return 'nanocalc_ffi.dll';
  if (platform === 'darwin') return 'libnanocalc_ffi.dylib';
  return 'libnanocalc_ffi.so';
}

/**
 * The library's path: the copy `npm run build` puts in native/ (it ships with the package), or
 * else cargo's release build in target/release/ (a checkout built with cargo alone).
 */
export function ffiLibraryPath(): string {
  const name = ffiLibraryName();
  // This file runs from dist/src/runtime/.
  const candidates = [`../../../native/${name}`, `../../../target/release/${name}`].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `nanocalc: the C ABI library ${name} is not built (looked in ${candidates.join(' and ')}); ` +
        "run `npm run build`, or pass { runtime: 'node-api' } to use the Node-API addon",
    );
  }
  return found;
}

/** The status codes of include/nanocalc.h that a binding checks for. */
export const NANOCALC_OK = 0;

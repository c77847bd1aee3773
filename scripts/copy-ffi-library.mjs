// `npm run build:ffi`, after cargo: copies the C ABI library cargo built into native/, where the
// package loads it on Bun and Deno (src/runtime/library.ts), under this platform's name. Written
// to a temporary name and renamed, so a runtime loading it never sees half a file.
import { copyFileSync, renameSync } from 'node:fs';

const name =
  process.platform === 'win32'
    ? 'nanocalc_ffi.dll'
    : process.platform === 'darwin'
      ? 'libnanocalc_ffi.dylib'
      : 'libnanocalc_ffi.so';
const root = new URL('..', import.meta.url);
const target = new URL(`native/${name}`, root);
copyFileSync(new URL(`target/release/${name}`, root), new URL(`native/${name}.tmp`, root));
renameSync(new URL(`native/${name}.tmp`, root), target);

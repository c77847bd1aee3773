// `npm run build:ts`, after tsc: makes the compiled command line executable (tsc writes files
// without the mode bit, and `dist/src/cli.js` is the package's `bin`).
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli.js', import.meta.url), 0o755);

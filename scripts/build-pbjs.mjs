// `npm run build:proto`, after buf: the protobufjs static codec of the schema (gen/pbjs), one of
// the reference codecs the benchmark measures beside nanocalc's own.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
mkdirSync(`${root}gen/pbjs`, { recursive: true });
const run = (tool, args) => execFileSync(`${root}node_modules/.bin/${tool}`, args, { cwd: root, stdio: 'inherit' });
run('pbjs', ['-t', 'static-module', '-w', 'es6', '-o', 'gen/pbjs/calculator.js', 'proto/nanocalc/v1/calculator.proto']);
run('pbts', ['-o', 'gen/pbjs/calculator.d.ts', 'gen/pbjs/calculator.js']);

// `npm install`'s prepare step: builds everything (npm run build). Under `npm exec` (npx), which
// runs prepare when it links this folder, it builds only if nothing is built yet, and says so on
// the terminal first, since npm hides prepare's output (a silent 25-second pause otherwise).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
if (process.env.npm_command === 'exec') {
  if (existsSync(new URL('dist/src/cli.js', root))) process.exit(0);
  const say =
    'nanocalc is not built yet: building it now (npm run build: the Rust engine, a few minutes); run npm install first next time\n';
  try {
    writeFileSync('/dev/tty', say);
  } catch {
    process.stderr.write(say);
  }
}
process.exit(spawnSync('npm run build', { cwd: root, stdio: 'inherit', shell: true }).status ?? 1);

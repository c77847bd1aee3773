// `npm run build:pgo`: rebuilds the Node addon with profile-guided optimization.
// 1. build it instrumented, 2. run the quick benchmark as the training workload,
// 3. merge the profiles with an llvm-profdata of rustc's LLVM version, 4. rebuild using them.
// Needs that llvm-profdata (Debian: `apt-get install llvm-<major>`; rustup: the llvm-tools
// component); says so and stops if it is missing. `npm run build:native` undoes it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (command, args, env = {}) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
};

const llvmMajor = /LLVM version: (\d+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))?.[1];
const profdata = findProfdata(llvmMajor);
if (!profdata) {
  console.error(
    `build:pgo needs llvm-profdata for LLVM ${llvmMajor} (rustc's). Install it with ` +
      `\`apt-get install llvm-${llvmMajor}\` (Debian) or \`rustup component add llvm-tools\`, then run again.`,
  );
  process.exit(1);
}

const profiles = mkdtempSync(join(tmpdir(), 'nanocalc-pgo-'));
const napiBuild = [
  'napi',
  'build',
  '--release',
  '--manifest-path',
  'crates/nanocalc-node/Cargo.toml',
  '--output-dir',
  'native',
  '--dts',
  'index.d.ts',
  '--target-dir',
  'target/pgo',
];
try {
  console.log(`1/4 instrumented build (profiles in ${profiles})`);
  run('npx', napiBuild, { RUSTFLAGS: `-Cprofile-generate=${profiles}` });
  console.log('2/4 training: the quick benchmark');
  run(process.execPath, ['dist/bench/bench.js', '--quick']);
  console.log(`3/4 merging ${readdirSync(profiles).length} profiles with ${profdata}`);
  run(profdata, ['merge', '-o', join(profiles, 'merged.profdata'), profiles]);
  console.log('4/4 optimized build');
  run('npx', napiBuild, { RUSTFLAGS: `-Cprofile-use=${join(profiles, 'merged.profdata')}` });
} finally {
  rmSync(profiles, { recursive: true, force: true });
}

function findProfdata(major) {
  for (const candidate of [`llvm-profdata-${major}`, 'llvm-profdata']) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0 && new RegExp(`LLVM version ${major}\\.`).test(probe.stdout)) return candidate;
  }
  return undefined;
}

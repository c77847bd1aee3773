// Builds the native binaries and the platform package that ships them (issue 15).
//
//   node scripts/build-platform.mjs addon|library|server   one binary into native/ (npm run build:native|ffi|server)
//   node scripts/build-platform.mjs package                 native/ → npm/<platform>/ (the platform package)
//   node scripts/build-platform.mjs commands               every target's build commands, for a CI matrix
//
// On linux-x64-gnu (this machine) the release build IS the portable one: cargo-zigbuild links
// against glibc 2.17's symbols (zig and cargo-zigbuild come pinned from PyPI into .tools/, never a
// global install), so no second release build is needed for the package. Elsewhere a developer's
// build is cargo's plain host build. The other targets below are NOT built here: their commands
// are kept in TARGETS for a CI matrix with those runners (or cross toolchains).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const TOOLS = join(ROOT, '.tools', 'pip');
/** Pinned build tools from PyPI (the zig toolchain is inside the ziglang wheel). */
export const ZIG_TOOLS = ['ziglang==0.17.1', 'cargo-zigbuild==0.24.1'];
/** The oldest glibc the linux-x64-gnu binaries may need; test/packaging-glibc.test.ts checks it. */
export const GLIBC_FLOOR = '2.17';

/**
 * Every platform package: its npm fields and how its binaries are built. `builtHere` marks the one
 * this repository's `npm install` builds; the rest are the commands a CI runner for them would run.
 */
export const TARGETS = [
  {
    id: 'linux-x64-gnu',
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    rustTarget: `x86_64-unknown-linux-gnu.${GLIBC_FLOOR}`,
    cargo: 'zigbuild',
    builtHere: true,
  },
  {
    id: 'linux-arm64-gnu',
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    rustTarget: `aarch64-unknown-linux-gnu.${GLIBC_FLOOR}`,
    cargo: 'zigbuild',
    builtHere: false,
  },
  {
    id: 'linux-x64-musl',
    os: 'linux',
    cpu: 'x64',
    libc: 'musl',
    rustTarget: 'x86_64-unknown-linux-musl',
    cargo: 'zigbuild',
    builtHere: false,
  },
  { id: 'darwin-x64', os: 'darwin', cpu: 'x64', rustTarget: 'x86_64-apple-darwin', cargo: 'build', builtHere: false },
  {
    id: 'darwin-arm64',
    os: 'darwin',
    cpu: 'arm64',
    rustTarget: 'aarch64-apple-darwin',
    cargo: 'build',
    builtHere: false,
  },
  { id: 'win32-x64', os: 'win32', cpu: 'x64', rustTarget: 'x86_64-pc-windows-msvc', cargo: 'build', builtHere: false },
];

const FILES = {
  addon: () => 'nanocalc.node',
  library: (os) =>
    os === 'win32' ? 'nanocalc_ffi.dll' : os === 'darwin' ? 'libnanocalc_ffi.dylib' : 'libnanocalc_ffi.so',
  server: (os) => (os === 'win32' ? 'nanocalc-server.exe' : 'nanocalc-server'),
};

/** The commands that build `target`'s three binaries into native/ (the strings a CI step runs). */
export function buildCommands(target) {
  const t = target.rustTarget;
  const cross = target.cargo === 'zigbuild' ? ' -x' : '';
  const cargoTarget = t.split('.')[0];
  return {
    addon: `napi build --release${cross} --target ${t} --manifest-path crates/nanocalc-node/Cargo.toml --features remote --output-dir native --dts index.d.ts`,
    library: `cargo ${target.cargo} --release --target ${t} -p nanocalc-ffi && cp target/${cargoTarget}/release/${FILES.library(target.os)} native/`,
    server: `cargo ${target.cargo} --release --target ${t} -p nanocalc-server && cp target/${cargoTarget}/release/${FILES.server(target.os)} native/`,
    package: `node scripts/build-platform.mjs package ${target.id}`,
  };
}

const HOST = TARGETS.find((t) => t.builtHere);
const onHost = process.platform === HOST.os && process.arch === HOST.cpu && !existsSync('/lib/ld-musl-x86_64.so.1');

function run(command, args, env = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`);
}

/** PATH with the pinned zig and cargo-zigbuild first, installing them into .tools/ once. */
function zigPath() {
  if (!existsSync(join(TOOLS, 'bin', 'cargo-zigbuild')) || !existsSync(join(TOOLS, 'ziglang', 'zig'))) {
    run('python3', ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--target', TOOLS, ...ZIG_TOOLS]);
  }
  return `${join(TOOLS, 'bin')}:${join(TOOLS, 'ziglang')}:${process.env.PATH}`;
}

/** Copies `from` to `to` through a temporary name, so a runtime loading `to` never sees half a file. */
function install(from, to) {
  copyFileSync(from, `${to}.tmp`);
  renameSync(`${to}.tmp`, to);
}

function buildOne(what) {
  mkdirSync(join(ROOT, 'native'), { recursive: true });
  const env = onHost ? { PATH: zigPath() } : {};
  const target = onHost ? ['--target', HOST.rustTarget] : [];
  const cargo = onHost ? 'zigbuild' : 'build';
  const out = join(ROOT, 'target', onHost ? HOST.rustTarget.split('.')[0] : '', 'release');
  if (what === 'addon') {
    const napi = ['napi', 'build', '--release', ...(onHost ? ['-x', ...target] : [])];
    run(
      'npx',
      [
        ...napi,
        '--manifest-path',
        'crates/nanocalc-node/Cargo.toml',
        // The 'native' transport of RemoteCalculator (crates/nanocalc-node/src/remote/): shipped.
        '--features',
        'remote',
        '--output-dir',
        'native',
        '--dts',
        'index.d.ts',
      ],
      env,
    );
    return;
  }
  const crate = what === 'library' ? 'nanocalc-ffi' : 'nanocalc-server';
  run('cargo', [cargo, '--release', ...target, '-p', crate], env);
  const name = FILES[what](process.platform);
  install(join(out, name), join(ROOT, 'native', name));
}

/** Fills npm/<id>/ with native/'s binaries and a package.json at the main package's version. */
function buildPackage(id = HOST.id) {
  const target = TARGETS.find((t) => t.id === id);
  const main = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const dir = join(ROOT, 'npm', id);
  const files = [FILES.addon(), FILES.library(target.os), FILES.server(target.os)];
  mkdirSync(dir, { recursive: true });
  for (const file of files) {
    install(join(ROOT, 'native', file), join(dir, file));
    if (file === FILES.server(target.os)) chmodSync(join(dir, file), 0o755);
  }
  for (const file of ['LICENSE', 'THIRD_PARTY_NOTICES.md']) install(join(ROOT, file), join(dir, file));
  // A target built for the first time (on its CI runner) gets its manifest from TARGETS.
  if (!existsSync(join(dir, 'package.json'))) {
    const fields = { os: [target.os], cpu: [target.cpu], ...(target.libc ? { libc: [target.libc] } : {}) };
    const manifest = {
      name: `@nanocalc/${id}`,
      version: main.version,
      license: main.license,
      ...fields,
      files: [...files, 'LICENSE', 'THIRD_PARTY_NOTICES.md'],
    };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.version !== main.version) {
    manifest.version = main.version;
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [what, id] = process.argv.slice(2);
  if (what === 'addon' || what === 'library' || what === 'server') buildOne(what);
  else if (what === 'package') buildPackage(id);
  else if (what === 'commands') {
    for (const target of TARGETS) {
      console.log(
        `# ${target.id}${target.builtHere ? ' (built by npm install here)' : ' (NOT built here: needs a CI runner or toolchain for it)'}`,
      );
      for (const command of Object.values(buildCommands(target))) console.log(command);
    }
  } else {
    console.error('usage: node scripts/build-platform.mjs addon|library|server|package [id]|commands');
    process.exit(2);
  }
}

// Writes THIRD_PARTY_NOTICES.md: every crate linked into the shipped binaries (the Node-API addon,
// the C ABI library, nanocalc-server), from `cargo metadata`'s resolved graph, following normal
// dependencies only (build scripts, proc macros' own code and dev-dependencies are not linked in).
//   node scripts/third-party-notices.mjs           rewrite the file
//   node scripts/third-party-notices.mjs --check   exit 1 if the committed file is stale (a test runs this)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const ROOT = new URL('..', import.meta.url);
const SHIPPED = ['nanocalc-node', 'nanocalc-ffi', 'nanocalc-server'];

export function notices() {
  const metadata = JSON.parse(
    execFileSync(
      'cargo',
      ['metadata', '--format-version', '1', '--locked', '--filter-platform', 'x86_64-unknown-linux-gnu'],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    ),
  );
  const packages = new Map(metadata.packages.map((p) => [p.id, p]));
  const nodes = new Map(metadata.resolve.nodes.map((n) => [n.id, n]));
  const linked = new Set();
  const queue = metadata.packages.filter((p) => SHIPPED.includes(p.name) && p.source === null).map((p) => p.id);
  while (queue.length > 0) {
    const id = queue.pop();
    if (linked.has(id)) continue;
    linked.add(id);
    const package_ = packages.get(id);
    // A proc macro runs in the compiler; nothing of it is linked into the binary.
    if (package_.targets.some((t) => t.kind.includes('proc-macro'))) continue;
    for (const dep of nodes.get(id).deps) {
      if (dep.dep_kinds.some((k) => k.kind === null)) queue.push(dep.pkg);
    }
  }
  const rows = [...linked]
    .map((id) => packages.get(id))
    .filter((p) => p.source !== null && !p.targets.some((t) => t.kind.includes('proc-macro')))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version))
    .map((p) => `| ${p.name} | ${p.version} | ${p.license ?? `see ${p.license_file}`} | ${p.repository ?? ''} |`);
  return `# Third-party notices

The binaries of nanocalc (the Node-API addon, the C ABI library and \`nanocalc-server\`, shipped in the
platform packages such as \`@nanocalc/linux-x64-gnu\`) link these Rust crates from crates.io, under the
licenses their authors declare (the full texts are in each crate's source). Generated from \`cargo metadata\`
by \`scripts/third-party-notices.mjs\`; a test checks it is current.

| crate | version | license | repository |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('THIRD_PARTY_NOTICES.md', ROOT);
  const text = notices();
  if (process.argv.includes('--check')) {
    if (readFileSync(path, 'utf8') !== text) {
      console.error('THIRD_PARTY_NOTICES.md is stale: run node scripts/third-party-notices.mjs');
      process.exit(1);
    }
  } else {
    writeFileSync(path, text);
  }
}

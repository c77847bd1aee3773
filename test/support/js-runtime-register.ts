// `node --import ./dist/test/support/js-runtime-register.js`: every import of 'nanocalc' gets
// ./js-runtime.js, whose Calculator defaults to the TypeScript engine. On Bun, the same file is a
// `--preload`: Bun's loader takes no Node hooks, and its plugins' onResolve does not see a package's
// own name, so a plugin rewrites the specifier in the compiled test files as they load instead.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';

interface BunBuild {
  onLoad(options: { filter: RegExp }, load: (args: { path: string }) => { contents: string; loader: 'js' }): void;
}

const g = globalThis as { Bun?: { plugin(plugin: { name: string; setup(build: BunBuild): void }): void } };
const wrapper = new URL('./js-runtime.js', import.meta.url);
if (g.Bun !== undefined) {
  const testDir = new URL('..', import.meta.url).pathname;
  g.Bun.plugin({
    name: 'nanocalc on the TypeScript engine',
    setup(build) {
      build.onLoad({ filter: /\/dist\/test\/.*\.js$/ }, ({ path }) => {
        const source = readFileSync(path, 'utf8');
        const contents = path.startsWith(testDir)
          ? source.replace(/from 'nanocalc'/g, `from ${JSON.stringify(wrapper.href)}`)
          : source;
        return { contents, loader: 'js' };
      });
    },
  });
} else {
  register('./js-runtime-hooks.js', import.meta.url);
}

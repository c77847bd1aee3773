// Headless Chromium for test/browser.test.ts and bench/browser.ts: Debian's `chromium` (installed
// with apt-get when missing, so a fresh machine passes), driven by playwright-core; and the package
// bundled for browsers by esbuild (platform 'browser': the `browser` condition of its exports).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'ignore', env });
}

/** Starts headless Chromium (no sandbox: the tests may run as root). */
export function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/**
 * Bundles `options`' entry for browsers as an app would (one ES module, platform 'browser'), in
 * memory; a `node:` import fails the build.
 */
export async function bundleForBrowser(options: BuildOptions): Promise<{ metafile: Metafile; code: string }> {
  const result = await build({
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    metafile: true,
    write: false,
    outdir: 'bundle',
    logLevel: 'silent',
    ...options,
  });
  return { metafile: result.metafile!, code: result.outputFiles![0]!.text };
}

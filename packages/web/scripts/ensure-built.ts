/**
 * Builds the web app into packages/web/dist when it is missing or older than its sources, so
 * `npm start` (and the browser tests) always serve the current app. Run directly by the root
 * `prestart` script; the browser tests import it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WEB_DIST_INDEX = join(WEB_ROOT, 'dist', 'index.html');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when dist is missing or any source file changed after the last build. */
export function webBuildIsStale(): boolean {
  if (!existsSync(WEB_DIST_INDEX)) return true;
  const built = statSync(WEB_DIST_INDEX).mtimeMs;
  const sources = ['src', 'index.html', 'vite.config.ts', 'precompress.ts', 'package.json'].map((p) =>
    join(WEB_ROOT, p),
  );
  return sources.some((p) => existsSync(p) && newestMtime(p) > built);
}

export async function ensureWebBuilt(options: { log?: (line: string) => void } = {}): Promise<'fresh' | 'built'> {
  if (!webBuildIsStale()) return 'fresh';
  options.log?.('Building the web app (packages/web/dist)…');
  // Imported only when needed: a production install without dev dependencies never gets here
  // as long as it ships a built dist.
  const { build } = await import('vite');
  // Vite takes React's production/development switch from NODE_ENV when it is set, and Vitest
  // sets it to "test": without this the browser tests would serve (and measure) React's
  // development build, with StrictMode running every effect twice.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(WEB_ROOT, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return 'built';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureWebBuilt({ log: (line) => console.log(line) }).then(
    (result) => {
      if (result === 'fresh') console.log('The web app is up to date.');
    },
    (error: unknown) => {
      console.error('Could not build the web app:', error);
      process.exit(1);
    },
  );
}

// The package's `install` script: builds the xattr addon (xattr.c) with node-gyp —
// `node-gyp rebuild --directory src/platform/xattr`. Installing restic-ts must not fail
// where that cannot work (no C compiler, make or python3; not Linux), so on failure this
// prints one warning and exits 0; the library then records no extended attributes and
// `xattrSupport()` says why.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const consequence =
  'backups will not record extended attributes and restores will not set them. ' +
  'Install a C compiler, make and python3, then run `npm rebuild restic-ts` (or `npm run install` in a checkout).';

function warn(why, log) {
  console.warn(`restic-ts: warning: the native xattr addon was not built (${why}); ${consequence}${log ? ` Build log: ${log}` : ''}`);
  process.exit(0);
}

if (process.platform !== 'linux') warn(`extended attributes are supported on Linux only, this is ${process.platform}`);

// npm runs lifecycle scripts with npm_config_node_gyp pointing at its bundled node-gyp;
// outside npm, look for the one bundled with the npm next to this Node.
const prefix = resolve(dirname(process.execPath), '..');
const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const nodeGyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
const args = ['rebuild', '--directory', here];
// Build offline against the running Node's own headers when they are installed with it
// (node-gyp otherwise downloads them) and no nodedir is configured.
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const [command, commandArgs] = nodeGyp ? [process.execPath, [nodeGyp, ...args]] : ['node-gyp', args];
const run = spawnSync(command, commandArgs, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

if (run.status === 0 && existsSync(join(here, 'build', 'Release', 'xattr.node'))) process.exit(0);

const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
const log = join(tmpdir(), `restic-ts-xattr-build-${process.pid}.log`);
let logged;
try {
  writeFileSync(log, `$ ${command} ${commandArgs.join(' ')}\n${output}${run.error ? `\n${run.error.stack}\n` : ''}`);
  logged = log;
} catch {
  logged = undefined;
}
// the most telling line: a compiler error, a missing tool, else how node-gyp ended
function reasonFrom(text) {
  const lines = text.split('\n').map((l) => l.trim());
  const compiler = lines.find((l) => /(^|: )(fatal )?error: /.test(l) && !l.startsWith('gyp'));
  if (compiler) return compiler;
  const missing = lines.find((l) => /gyp ERR! stack Error: not found: /.test(l));
  if (missing) return `${missing.slice(missing.indexOf('not found: ') + 11)} not found`;
  if (lines.some((l) => l.startsWith('gyp ERR! find Python'))) return 'python3 not found';
  const python = lines.find((l) => /^[A-Za-z]+Error: /.test(l));
  if (python) return python;
  const stack = lines.find((l) => l.startsWith('gyp ERR! stack Error: '));
  return stack ? stack.slice('gyp ERR! stack Error: '.length) : `node-gyp exited with ${run.status ?? run.signal}`;
}
const reason = run.error ? `cannot run node-gyp: ${run.error.message}` : reasonFrom(output);
warn(reason, logged);

// The package's `install` script: builds one of restic-ts's optional native addons with
// node-gyp — `node src/build-native-addon.mjs xattr`, `... seal` or `... zstd`. Without them
// restic-ts still works (slower, or without extended attributes), so installing it must not
// fail where a build cannot work (no C compiler, make, python3 or, for zstd, libzstd's
// headers; xattrs off Linux): on failure this prints one warning naming the consequence and
// exits 0, and the other builds go on.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Each addon: its folder (with binding.gyp), the file a good build leaves, what is lost without it. */
const ADDONS = {
  xattr: {
    dir: join(here, 'platform', 'xattr'),
    output: 'xattr.node',
    consequence: 'backups will not record extended attributes and restores will not set them.',
    needs: 'a C compiler, make and python3',
    linuxOnly: true,
  },
  seal: {
    dir: join(here, 'crypto', 'native'),
    output: 'seal.node',
    consequence: 'encryption and MAC checks use node:crypto and libsodium (slower per blob).',
    needs: 'a C compiler, make and python3',
  },
  zstd: {
    dir: join(here, 'compression', 'native'),
    output: 'zstd.node',
    consequence: 'compression uses @mongodb-js/zstd and the WebAssembly zstd (slower per blob).',
    needs: "a C compiler, make, python3 and libzstd's headers (Debian: libzstd-dev)",
  },
};

const name = process.argv[2];
const addon = ADDONS[name];
if (!addon) {
  console.warn(`restic-ts: build-native-addon.mjs: unknown addon ${JSON.stringify(name)} (want ${Object.keys(ADDONS).join(' or ')})`);
  process.exit(0);
}

function warn(why, log) {
  console.warn(
    `restic-ts: warning: the native ${name} addon was not built (${why}); ${addon.consequence} ` +
      `To build it, install ${addon.needs}, then run \`npm rebuild restic-ts\` (or \`npm run install\` in a checkout).` +
      (log ? ` Build log: ${log}` : ''),
  );
  process.exit(0);
}

if (addon.linuxOnly && process.platform !== 'linux') warn(`supported on Linux only, this is ${process.platform}`);

// npm runs lifecycle scripts with npm_config_node_gyp pointing at its bundled node-gyp;
// outside npm, use the one bundled with the npm next to this Node.
const prefix = resolve(dirname(process.execPath), '..');
const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const nodeGyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
const args = ['rebuild', '--directory', addon.dir];
// Build offline against the running Node's own headers when installed with it (node-gyp would
// otherwise download them). The seal addon needs those headers' OpenSSL, the one Node links in.
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const [command, commandArgs] = nodeGyp ? [process.execPath, [nodeGyp, ...args]] : ['node-gyp', args];
const run = spawnSync(command, commandArgs, { cwd: addon.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

if (run.status === 0 && existsSync(join(addon.dir, 'build', 'Release', addon.output))) process.exit(0);

const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
let logged;
try {
  logged = join(tmpdir(), `restic-ts-${name}-build-${process.pid}.log`);
  writeFileSync(logged, `$ ${command} ${commandArgs.join(' ')}\n${output}${run.error ? `\n${run.error.stack}\n` : ''}`);
} catch {
  logged = undefined;
}
/** The most telling line of the log: a compiler error, a missing tool, else how node-gyp ended. */
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
warn(run.error ? `cannot run node-gyp: ${run.error.message}` : reasonFrom(output), logged);

/**
 * A throw-away single-node Ceph cluster with radosgw: the real S3 server for the tests.
 *
 * One monitor, one OSD on memstore (object data in RAM), one radosgw, no mgr, no cephx,
 * all on 127.0.0.1 with free ports, everything in a fresh temp directory. The settings
 * that make it start in about two seconds (see ../shared/tools/ceph-s3/README.md):
 * `auth … = none` with msgr2 `crc` mode (rgw insists on "secure" mode otherwise, which
 * needs cephx), `paxos propose interval = 0.01` (rgw's pool creation otherwise waits ~9 s),
 * and pools of size 1.
 *
 * `stop()` kills exactly the daemons this module started (never by name) and removes the
 * directory. A small watchdog shell process does the same if the Node process dies
 * without calling `stop()`, so an interrupted test run leaves no daemons behind.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'];
const REQUIRED_BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'];

export interface CephS3Options {
  accessKeyId?: string;
  secretAccessKey?: string;
  /** memstore capacity in GiB (default 4). */
  storeGiB?: number;
  /** Seconds per lifecycle "day" (rgw_lc_debug_interval), for lifecycle tests. */
  lifecycleDebugIntervalSeconds?: number;
  /** Seconds to wait for each daemon (default 120). */
  timeoutSeconds?: number;
  /** Progress lines (the caller decides whether to print them). */
  log?: (line: string) => void;
}

export interface CephS3 {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  dir: string;
  /** Milliseconds from start() until S3 answered with the user created. */
  startupMs: number;
  stop(): Promise<void>;
}

/** Names of the Ceph binaries that are not on PATH (empty when all are installed). */
export function missingCephBinaries(): string[] {
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  return REQUIRED_BINARIES.filter((b) => !path.some((d) => d !== '' && existsSync(join(d, b))));
}

export function cephInstallHint(): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')} (or run \`bash .ci/run\`)`;
}

export async function startCephS3(options: CephS3Options = {}): Promise<CephS3> {
  const missing = missingCephBinaries();
  if (missing.length > 0) {
    throw new Error(`the S3 test server needs Ceph, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed: ${cephInstallHint()}`);
  }
  // One more try on failure: the free ports are picked before the daemons bind them, and
  // another test run on the machine may take one in between.
  try {
    return await startOnce(options);
  } catch (err) {
    options.log?.(`ceph: start failed, trying once more with new ports: ${(err as Error).message.split('\n')[0]}`);
    return await startOnce(options);
  }
}

async function startOnce(options: CephS3Options): Promise<CephS3> {
  const t0 = Date.now();
  const log = options.log ?? (() => undefined);
  const accessKeyId = options.accessKeyId ?? 'testaccesskey';
  const secretAccessKey = options.secretAccessKey ?? 'testsecretkey';
  const timeoutMs = (options.timeoutSeconds ?? 120) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'restic-ts-ceph-'));
  const conf = join(dir, 'ceph.conf');
  const children: { name: string; child: ChildProcess }[] = [];
  let watchdog: ChildProcess | undefined;

  const stop = async (keepDir = false): Promise<void> => {
    // radosgw first, then the OSD, then the monitor (each needs the next to shut down cleanly).
    for (const { child } of [...children].reverse()) await terminate(child);
    children.length = 0;
    if (watchdog?.pid !== undefined && watchdog.exitCode === null) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const sub of ['run', 'log', 'mon/ceph-a', 'osd/ceph-0', 'crash']) mkdirSync(join(dir, sub), { recursive: true });
    const [monPort, s3Port] = await freePorts(2);
    const fsid = randomUUID();
    writeFileSync(conf, cephConf({ dir, fsid, monPort, s3Port, storeGiB: options.storeGiB ?? 4, lcInterval: options.lifecycleDebugIntervalSeconds, libDir: cephLibDir() }));
    const env = cephEnv();
    const cli = (args: string[], timeout = 30_000) => execFileAsync(args[0], args.slice(1), { env, timeout, maxBuffer: 16 << 20 });
    const startDaemon = (name: string, args: string[]) => {
      const out = openSync(join(dir, 'log', `${name}.out`), 'a');
      // Own process group (detached) so a Ctrl-C aimed at vitest does not kill the daemons
      // before stop() has shut them down in order; the watchdog covers a dying parent.
      const child = spawn(args[0], args.slice(1), { env, detached: true, stdio: ['ignore', out, out] });
      closeSync(out);
      child.unref();
      child.on('error', () => undefined);
      children.push({ name, child });
      appendFileSync(join(dir, 'pids'), `${child.pid} ${name}\n`);
      return child;
    };
    watchdog = startWatchdog(dir, conf);

    log(`ceph: mon mkfs (port ${monPort}) in ${dir}`);
    await cli(['monmaptool', '--create', '--clobber', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')]);
    await cli(['ceph-mon', '-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    startDaemon('mon.a', ['ceph-mon', '-c', conf, '-i', 'a', '-f']);
    await waitFor('the Ceph monitor', timeoutMs, children, async () => {
      await cli(['ceph', '-c', conf, '--connect-timeout', '5', 'mon', 'stat'], 10_000);
      return true;
    });

    const osdUuid = randomUUID();
    const { stdout: osdId } = await cli(['ceph', '-c', conf, 'osd', 'new', osdUuid]);
    if (osdId.trim() !== '0') throw new Error(`ceph osd new returned id ${JSON.stringify(osdId.trim())}, want 0`);
    log('ceph: osd mkfs (memstore)');
    await cli(['ceph-osd', '-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    startDaemon('osd.0', ['ceph-osd', '-c', conf, '-i', '0', '-f']);
    await waitFor('osd.0 to come up', timeoutMs, children, async () => {
      const { stdout } = await cli(['ceph', '-c', conf, '--connect-timeout', '5', 'osd', 'dump'], 10_000);
      return /^osd\.0 up/m.test(stdout);
    });

    startDaemon('rgw', ['radosgw', '-c', conf, '-n', 'client.rgw', '-f']);
    const endpoint = `http://127.0.0.1:${s3Port}`;
    await waitFor(`radosgw to answer on ${endpoint}`, timeoutMs, children, async () => {
      const res = await fetch(endpoint + '/', { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return true;
    });
    await cli([
      'radosgw-admin', '-c', conf, 'user', 'create', '--uid=test', '--display-name=restic-ts test user',
      `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`,
    ]);
    const startupMs = Date.now() - t0;
    log(`ceph: S3 ready on ${endpoint} after ${startupMs} ms`);
    return { endpoint, port: s3Port, accessKeyId, secretAccessKey, region: 'us-east-1', dir, startupMs, stop: () => stop(false) };
  } catch (err) {
    const tails = logTails(dir);
    await stop(true);
    const keptLogs = `${dir}/log`;
    throw new Error(`starting the Ceph S3 test server failed: ${(err as Error).message}\n${tails}\n(logs kept in ${keptLogs})`, { cause: err });
  }
}

function cephEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // A developer's own cluster settings must not leak into the throw-away one.
  delete env.CEPH_ARGS;
  delete env.CEPH_CONF;
  return env;
}

/** Debian's multiarch library dir holding ceph/ and rados-classes/ (x86_64-linux-gnu, aarch64-linux-gnu, …). */
function cephLibDir(): string {
  const candidates = readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')).map((d) => join('/usr/lib', d));
  return candidates.find((d) => existsSync(join(d, 'rados-classes'))) ?? '/usr/lib/x86_64-linux-gnu';
}

function cephConf(p: { dir: string; fsid: string; monPort: number; s3Port: number; storeGiB: number; lcInterval?: number; libDir: string }): string {
  const { dir } = p;
  const lines = [
    '[global]',
    `fsid = ${p.fsid}`,
    `mon host = [v2:127.0.0.1:${p.monPort}]`,
    'public addr = 127.0.0.1',
    'ms bind msgr1 = false',
    'ms bind ipv4 = true',
    'ms bind ipv6 = false',
    // No cephx: a throw-away cluster on loopback. With no session key msgr2 cannot use
    // "secure" mode, so every connection type is told to use "crc".
    'auth cluster required = none',
    'auth service required = none',
    'auth client required = none',
    'auth allow insecure global id reclaim = true',
    'ms cluster mode = crc',
    'ms service mode = crc',
    'ms client mode = crc',
    'ms mon cluster mode = crc',
    'ms mon service mode = crc',
    'ms mon client mode = crc',
    `run dir = ${dir}/run`,
    `admin socket = ${dir}/run/$cluster-$name.asok`,
    `pid file = ${dir}/run/$cluster-$name.pid`,
    `log file = ${dir}/log/$cluster-$name.log`,
    'log to stderr = false',
    'err to stderr = true',
    `keyring = ${dir}/keyring`,
    `crash dir = ${dir}/crash`,
    `erasure code dir = ${p.libDir}/ceph/erasure-code`,
    `plugin dir = ${p.libDir}/ceph`,
    'osd pool default size = 1',
    'osd pool default min size = 1',
    'osd pool default pg num = 8',
    'osd pool default pgp num = 8',
    'osd pool default pg autoscale mode = off',
    'osd crush chooseleaf type = 0',
    'mon allow pool size one = true',
    'mon allow pool delete = true',
    'mon max pg per osd = 1000',
    'mon warn on pool no redundancy = false',
    'mon warn on insecure global id reclaim = false',
    'mon warn on insecure global id reclaim allowed = false',
    'debug ms = 0',
    'debug monc = 0',
    '',
    '[mon]',
    `mon data = ${dir}/mon/$cluster-$id`,
    `mon cluster log file = ${dir}/log/cluster.log`,
    // Each osdmap change is a paxos proposal batched for this long (default 1 s); rgw's
    // first start makes about ten of them.
    'paxos propose interval = 0.01',
    'paxos min wait = 0.01',
    // /tmp may be nearly full on a CI machine; the store is in RAM anyway.
    'mon data avail warn = 2',
    'mon data avail crit = 1',
    'mon osd full ratio = 0.97',
    'mon osd nearfull ratio = 0.95',
    'mon osd backfillfull ratio = 0.96',
    '',
    '[osd]',
    `osd data = ${dir}/osd/$cluster-$id`,
    'osd objectstore = memstore',
    `osd class dir = ${p.libDir}/rados-classes`,
    'osd class load list = *',
    'osd class default list = *',
    'osd max object name len = 460',
    'osd max object namespace len = 64',
    `memstore device bytes = ${p.storeGiB * 1024 * 1024 * 1024}`,
    'osd op num shards = 1',
    'osd op num threads per shard = 2',
    '',
    '[client.rgw]',
    `rgw frontends = beast endpoint=127.0.0.1:${p.s3Port}`,
    'rgw enable usage log = false',
    'rgw thread pool size = 64',
    `log file = ${dir}/log/$cluster-$name.log`,
  ];
  if (p.lcInterval !== undefined) lines.push(`rgw lc debug interval = ${p.lcInterval}`);
  return lines.join('\n') + '\n';
}

/** Ports the kernel just handed out as free (bound to port 0, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  children: { name: string; child: ChildProcess }[],
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = children.find((c) => c.child.exitCode !== null || c.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}`);
    try {
      if (await probe()) return;
    } catch {
      /* not ready yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** SIGTERM, up to 5 s grace, then SIGKILL; resolves when the process has exited. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  send('SIGTERM');
  // Timers stay referenced: the daemons are unref'd, so without them Node could exit
  // before the daemons have.
  if (!(await exitWithin(exited, 5000))) {
    send('SIGKILL');
    await exitWithin(exited, 5000);
  }
}

async function exitWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([exited.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs detached: while the parent lives and the cluster dir exists it sleeps; when the
 * parent is gone it kills the recorded daemons (only while their command line still names
 * our ceph.conf, so a recycled PID is never hit) and removes the dir.
 */
function startWatchdog(dir: string, conf: string): ChildProcess {
  const script = `
parent=$1; dir=$2; conf=$3
while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
if [ -f "$dir/pids" ]; then
  while read -r pid name; do
    if grep -qa -- "$conf" "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  done < "$dir/pids"
fi
rm -rf "$dir"
`;
  const child = spawn('sh', ['-c', script, 'ceph-watchdog', String(process.pid), dir, conf], { detached: true, stdio: 'ignore' });
  child.unref();
  child.on('error', () => undefined);
  return child;
}

function logTails(dir: string): string {
  const logDir = join(dir, 'log');
  if (!existsSync(logDir)) return '';
  const parts: string[] = [];
  for (const f of readdirSync(logDir).sort()) {
    try {
      const lines = readFileSync(join(logDir, f), 'utf8').trimEnd().split('\n');
      if (lines.length === 1 && lines[0] === '') continue;
      parts.push(`---- ${f} (last lines)\n${lines.slice(-10).join('\n')}`);
    } catch {
      /* unreadable log: skip */
    }
  }
  return parts.join('\n');
}

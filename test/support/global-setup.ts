/**
 * Global test set-up: starts the real S3 server (a throw-away Ceph radosgw, see ceph.ts)
 * once per `vitest run`, hands its endpoint and keys to the tests (`inject('s3Server')`,
 * read through test/support/s3.ts), and stops it at teardown.
 *
 * Ceph and restic are required, never optional: when their binaries are missing the run
 * fails before any test with the install command. Two ways to not start it, neither of which lets an S3 test pass:
 * - a run limited to files under test/unit/ (pure tests; saves ~130 MiB and 2 s for the
 *   quick edit-test loop); an S3 test in such a run fails with "not started";
 * - RESTIC_TS_S3_ENDPOINT (+ RESTIC_TS_S3_ACCESS_KEY / RESTIC_TS_S3_SECRET_KEY) points
 *   the tests at an S3 server that is already running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCephS3, type CephS3 } from './ceph.js';
import { requireRestic } from './restic.js';

export interface S3ServerInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The S3 test server, or null when this run did not start one (unit tests only). */
    s3Server: S3ServerInfo | null;
  }
}

/** True when every file filter on the command line is under test/unit/ (no S3 test can run). */
function onlyUnitTestsSelected(argv: string[]): boolean {
  const runAt = argv.findIndex((a) => a === 'run' || a === 'watch' || a === 'related');
  const args = runAt >= 0 ? argv.slice(runAt + 1) : argv.slice(2);
  const filters = args.filter((a) => !a.startsWith('-'));
  return filters.length > 0 && filters.every((f) => /(^|\/)test\/unit(\/|$)/.test(f) || /^unit\//.test(f));
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (onlyUnitTestsSelected(process.argv)) {
    project.provide('s3Server', null);
    return undefined;
  }
  // Integration and conformance tests cross-check against the real restic: without it the
  // run stops here, before any test, instead of failing file by file (where vitest counts
  // the tests of a file whose beforeAll threw as "skipped").
  requireRestic();
  // One restic cache per run (test/support/restic.ts reads RESTIC_TS_TEST_CACHE; the forked
  // workers inherit this process's environment), removed at teardown so runs leave no cache
  // growing in /tmp.
  let cacheDir: string | undefined;
  if (!process.env.RESTIC_TS_TEST_CACHE) {
    cacheDir = mkdtempSync(join(tmpdir(), 'restic-ts-cache-'));
    process.env.RESTIC_TS_TEST_CACHE = cacheDir;
  }
  const removeCache = () => {
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  };
  const external = process.env.RESTIC_TS_S3_ENDPOINT;
  if (external) {
    project.provide('s3Server', {
      endpoint: external,
      accessKeyId: process.env.RESTIC_TS_S3_ACCESS_KEY ?? 'testaccesskey',
      secretAccessKey: process.env.RESTIC_TS_S3_SECRET_KEY ?? 'testsecretkey',
      region: process.env.RESTIC_TS_S3_REGION ?? 'us-east-1',
    });
    return async () => removeCache();
  }
  let server: CephS3;
  try {
    server = await startCephS3({ log: (line) => process.stderr.write(`[global-setup] ${line}\n`) });
  } catch (err) {
    removeCache();
    // Thrown here, the whole run fails (no test is skipped) with the install hint.
    throw new Error(`S3 test server (Ceph radosgw) could not be started: ${(err as Error).message}`, { cause: err });
  }
  project.provide('s3Server', {
    endpoint: server.endpoint,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    region: server.region,
  });
  return async () => {
    try {
      await server.stop();
    } finally {
      removeCache();
    }
  };
}

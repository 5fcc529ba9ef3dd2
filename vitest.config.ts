import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Integration tests start real services (restic binary, Ceph radosgw); they get long timeouts.
// Test files run in separate forked processes; tests inside one file run in order.
//
// Workers: vitest's default for `run` is cores − 1, i.e. ONE worker on a 2-core CI machine, so
// every file would wait for the previous one. Most integration time is spent waiting on
// restic subprocesses and the S3 server, so two files at a time keep both cores busy without
// oversubscribing them much. RESTIC_TS_TEST_WORKERS overrides (e.g. 1 to debug an ordering
// problem).
const workers = Number(process.env.RESTIC_TS_TEST_WORKERS) || Math.max(2, availableParallelism() - 1);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: workers,
  },
});

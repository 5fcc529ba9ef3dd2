import { defineConfig } from 'vitest/config';

// Integration tests start real services (restic binary, Ceph radosgw); they get long timeouts.
// Files run in parallel across the machine's 2 cores; tests inside one file run in order.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
  },
});

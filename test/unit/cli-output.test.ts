import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/cli/output.js';

describe('formatBytes', () => {
  it('prints sizes as restic 0.14 does, rounding exact ties to even like Go', () => {
    expect(formatBytes(1000)).toBe('1000 B');
    expect(formatBytes(1024)).toBe('1024 B'); // strictly above a unit to use it
    expect(formatBytes(1536)).toBe('1.500 KiB');
    expect(formatBytes(817472)).toBe('798.312 KiB'); // 798.3125: Go rounds to even
    expect(formatBytes(817473)).toBe('798.313 KiB');
    expect(formatBytes(817536)).toBe('798.375 KiB');
    expect(formatBytes(3 * 1024 * 1024 + 65536)).toBe('3.062 MiB'); // 3.0625, a tie
    expect(formatBytes(3 * 1024 * 1024 + 3 * 65536)).toBe('3.188 MiB'); // 3.1875 rounds up to even
    expect(formatBytes(5 * 1024 ** 4 + 1)).toBe('5.000 TiB');
  });
});

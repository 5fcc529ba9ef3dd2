import { lstatSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GoTime } from '../../src/format/gotime.js';
import { applyExactTimes, applyExactTimesWithPerl } from '../../src/restorer/metadata.js';

const dir = mkdtempSync(join(tmpdir(), 'restic-ts-times-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nsOf = (t: GoTime): bigint => BigInt(t.unixSeconds) * 1_000_000_000n + BigInt(t.nanos);

describe('applyExactTimes', () => {
  it('sets atime and mtime to the nanosecond on files with any name bytes and on symlinks themselves, and skips vanished paths', async () => {
    const odd = Buffer.concat([Buffer.from(join(dir, 'odd ')), Buffer.from([0xff, 0x0a, 0x20, 0x5c])]);
    writeFileSync(odd, 'x');
    const plain = join(dir, 'plain');
    writeFileSync(plain, 'y');
    const link = join(dir, 'link');
    symlinkSync('plain', link);
    const jobs = [
      { path: odd, atime: new GoTime(1_000_000_000, 123_456_789), mtime: new GoTime(-5, 999_999_999) },
      { path: Buffer.from(plain), atime: new GoTime(1_700_000_000, 1), mtime: new GoTime(1_700_000_001, 2) },
      { path: Buffer.from(link), atime: new GoTime(1_600_000_000, 7), mtime: new GoTime(1_600_000_000, 7) },
      { path: Buffer.from(join(dir, 'gone')), atime: new GoTime(1, 1), mtime: new GoTime(1, 1) },
    ];
    await applyExactTimes(jobs);
    for (const job of jobs.slice(0, 3)) {
      const st = lstatSync(job.path, { bigint: true });
      expect(st.atimeNs).toBe(nsOf(job.atime));
      expect(st.mtimeNs).toBe(nsOf(job.mtime));
    }
    // the symlink's target kept its own times
    expect(lstatSync(plain, { bigint: true }).mtimeNs).toBe(nsOf(jobs[1].mtime));
  });

  it('uses the one-process perl helper on Linux x86-64/arm64 (where perl is installed, as on the CI image)', async () => {
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return;
    const p = join(dir, 'perl-route');
    writeFileSync(p, 'z');
    const job = { path: Buffer.from(p), atime: new GoTime(1_234_567_890, 987_654_321), mtime: new GoTime(1_234_567_891, 1) };
    expect(await applyExactTimesWithPerl([job])).toBe(true);
    const st = lstatSync(p, { bigint: true });
    expect(st.atimeNs).toBe(nsOf(job.atime));
    expect(st.mtimeNs).toBe(nsOf(job.mtime));
  });
});

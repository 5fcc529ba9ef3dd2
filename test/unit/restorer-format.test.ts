/**
 * Small formatting helpers of the restore side, each checked against what restic 0.14 / Go
 * prints (values taken from the real binary's output where noted): Go's Time.String and
 * Duration.String, ls/find node JSON, fs.HasPathPrefix, dev_t splitting, touch's time syntax.
 */
import { describe, expect, it } from 'vitest';
import { findNodeJson } from '../../src/cli/commands/find.js';
import { goStringList, goTimeString, hasPathPrefix, lsNodeJson } from '../../src/cli/commands/ls.js';
import { goDurationMs } from '../../src/cli/commands/restore.js';
import { GoTime } from '../../src/format/gotime.js';
import { newNode } from '../../src/format/node.js';
import { splitDevice, touchTime } from '../../src/restorer/metadata.js';

describe('Go formatting', () => {
  it("Time.String as restic's ls/restore headers print it", () => {
    // from restic 0.14: "restoring <Snapshot 6a29e965 of [/tmp/rr/src] at 2026-11-26 12:54:32.759173743 +0000 UTC by root@vm>"
    expect(goTimeString(GoTime.parse('2026-11-26T12:54:32.759173743Z'))).toBe('2026-11-26 12:54:32.759173743 +0000 UTC');
    // from restic 0.14 on a 2015 fixture (TZ=UTC): "at 2015-07-24 21:24:46.505831173 +0200 +0200"
    expect(goTimeString(GoTime.parse('2015-07-24T21:24:46.505831173+02:00'))).toBe('2015-07-24 21:24:46.505831173 +0200 +0200');
    expect(goTimeString(GoTime.parse('2020-01-02T03:04:05.5-07:30'))).toBe('2020-01-02 03:04:05.5 -0730 -0730');
    expect(goTimeString(GoTime.parse('2020-01-02T03:04:05Z'))).toBe('2020-01-02 03:04:05 +0000 UTC');
  });

  it('Duration.String of a duration rounded to milliseconds', () => {
    expect(goDurationMs(0)).toBe('0s');
    expect(goDurationMs(31)).toBe('31ms');
    expect(goDurationMs(1000)).toBe('1s');
    expect(goDurationMs(1234)).toBe('1.234s');
    expect(goDurationMs(61_500)).toBe('1m1.5s');
    expect(goDurationMs(3_600_000 + 120_000)).toBe('1h2m0s');
  });

  it('%v of a string slice', () => {
    expect(goStringList(['/a', '/b c'])).toBe('[/a /b c]');
    expect(goStringList(null)).toBe('[]');
  });
});

describe('node lines', () => {
  const t = GoTime.parse('2020-01-02T03:04:05.123456789Z');
  it("ls --json: restic's field order, size only for files, mode omitted when 0", () => {
    const file = newNode({ name: 'a.txt', type: 'file', mode: 420, mtime: t, atime: t, ctime: t, size: 6n, inode: 5n, user: 'root' });
    // line from restic 0.14 (with the ctime of this test)
    expect(lsNodeJson(Buffer.from('/src/a.txt'), file)).toBe(
      '{"name":"a.txt","type":"file","path":"/src/a.txt","uid":0,"gid":0,"size":6,"mode":420,"permissions":"-rw-r--r--","mtime":"2020-01-02T03:04:05.123456789Z","atime":"2020-01-02T03:04:05.123456789Z","ctime":"2020-01-02T03:04:05.123456789Z","struct_type":"node"}',
    );
    const odd = newNode({ name: Buffer.from([0x62, 0xff]), type: 'fifo', mtime: t, atime: t, ctime: t });
    expect(lsNodeJson(Buffer.from([0x2f, 0x62, 0xff]), odd)).toContain('"name":"b\\ufffd","type":"fifo","path":"/b\\ufffd","uid":0,"gid":0,"permissions":"----------"');
  });

  it('find --json: path and permissions first, no name/inode/content, omitempty fields', () => {
    const link = newNode({ name: 'link', type: 'symlink', mode: 134218239, mtime: t, atime: t, ctime: t, user: 'root', group: 'root', deviceId: 65024n, links: 1n, linkTarget: Buffer.from('a.txt'), inode: 9n });
    expect(findNodeJson(Buffer.from('/src/link'), link)).toBe(
      '{"path":"/src/link","permissions":"Lrwxrwxrwx","type":"symlink","mode":134218239,"mtime":"2020-01-02T03:04:05.123456789Z","atime":"2020-01-02T03:04:05.123456789Z","ctime":"2020-01-02T03:04:05.123456789Z","uid":0,"gid":0,"user":"root","group":"root","device_id":65024,"links":1,"linktarget":"a.txt"}',
    );
  });

  it('fs.HasPathPrefix', () => {
    expect(hasPathPrefix('/src', '/src/a')).toBe(true);
    expect(hasPathPrefix('/src', '/src')).toBe(true);
    expect(hasPathPrefix('/src', '/srcx')).toBe(false);
    expect(hasPathPrefix('/', '/anything')).toBe(true);
    expect(hasPathPrefix('/a/b/', '/a/b/c')).toBe(true);
  });
});

describe('restore helpers', () => {
  it("splits Linux dev_t like glibc's major()/minor()", () => {
    expect(splitDevice(0x103n)).toEqual({ major: 1n, minor: 3n });
    expect(splitDevice(0x7c8n)).toEqual({ major: 7n, minor: 200n });
    // large numbers use the high bits
    const makedev = (major: bigint, minor: bigint): bigint =>
      ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
    expect(splitDevice(makedev(0x123456n, 0xabc78n))).toEqual({ major: 0x123456n, minor: 0xabc78n });
    expect(splitDevice(makedev(259n, 1048575n))).toEqual({ major: 259n, minor: 1048575n });
  });

  it('touch -d times: nanoseconds, and a negative fraction counted away from zero', () => {
    expect(touchTime(GoTime.parse('2020-01-02T03:04:05.000000001Z'))).toBe('@1577934245.000000001');
    expect(touchTime(new GoTime(-101, 750_000_000))).toBe('@-100.250000000');
    expect(touchTime(new GoTime(-5, 0))).toBe('@-5.000000000');
  });
});

/**
 * The tar header encoder against Go archive/tar's rules (what restic's dump writes): USTAR
 * field formatting and checksum, prefix/name splitting, PAX records for what USTAR cannot
 * hold, mtime rounding. The byte-for-byte comparison with restic's own dump output is in
 * test/integration/restore-restic.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { encodeTarHeader, tarEnd, tarPadding, TypeDir, TypeReg, type TarHeader } from '../../src/restorer/tar.js';

const base: TarHeader = {
  name: Buffer.from('dir/a.txt'),
  typeflag: TypeReg,
  mode: 0o644,
  uid: 1000,
  gid: 100,
  uname: 'user',
  gname: 'users',
  size: 6n,
  mtimeSeconds: 1577934245,
  mtimeNanos: 123456789,
};

const field = (b: Uint8Array, off: number, len: number): string => Buffer.from(b.subarray(off, off + len)).toString('latin1');

function checksumOk(block: Uint8Array): boolean {
  const copy = Uint8Array.from(block);
  copy.fill(0x20, 148, 156);
  const sum = copy.reduce((a, b) => a + b, 0);
  return field(block, 148, 8) === sum.toString(8).padStart(6, '0') + '\0 ';
}

describe('tar headers (Go archive/tar, format chosen automatically)', () => {
  it('a plain entry is one USTAR block with Go number formatting', () => {
    const h = encodeTarHeader(base);
    expect(h.length).toBe(512);
    expect(field(h, 0, 10)).toBe('dir/a.txt\0');
    expect(field(h, 100, 8)).toBe('0000644\0');
    expect(field(h, 108, 8)).toBe('0001750\0');
    expect(field(h, 116, 8)).toBe('0000144\0');
    expect(field(h, 124, 12)).toBe('00000000006\0');
    expect(field(h, 136, 12)).toBe((1577934245).toString(8).padStart(11, '0') + '\0');
    expect(h[156]).toBe(TypeReg);
    expect(field(h, 257, 8)).toBe('ustar\x0000');
    expect(field(h, 265, 5)).toBe('user\0');
    expect(field(h, 297, 6)).toBe('users\0');
    expect(field(h, 329, 16)).toBe('0000000\x000000000\0');
    expect(checksumOk(h)).toBe(true);
  });

  it('rounds the mtime to the second like Go (half up)', () => {
    const at = (nanos: number): string => field(encodeTarHeader({ ...base, mtimeNanos: nanos }), 136, 11);
    expect(at(499_999_999)).toBe((1577934245).toString(8).padStart(11, '0'));
    expect(at(500_000_000)).toBe((1577934246).toString(8).padStart(11, '0'));
  });

  it('splits a long ASCII path into prefix and name', () => {
    const long = 'p'.repeat(120) + '/' + 'n'.repeat(50);
    const h = encodeTarHeader({ ...base, name: Buffer.from(long) });
    expect(h.length).toBe(512);
    expect(field(h, 0, 51)).toBe('n'.repeat(50) + '\0');
    expect(field(h, 345, 121)).toBe('p'.repeat(120) + '\0');
    expect(checksumOk(h)).toBe(true);
  });

  it('a non-ASCII name gets a PAX path record in PaxHeaders.0, the main name loses the non-ASCII bytes', () => {
    const name = Buffer.concat([Buffer.from('src/bad'), Buffer.from([0xff]), Buffer.from('name')]);
    const h = encodeTarHeader({ ...base, name });
    expect(h.length).toBe(3 * 512);
    expect(field(h, 0, 25)).toBe('src/PaxHeaders.0/badname\0');
    expect(h[156]).toBe(0x78);
    const data = Buffer.from(h.subarray(512, 1024));
    const record = Buffer.concat([Buffer.from('21 path=src/bad'), Buffer.from([0xff]), Buffer.from('name\n')]);
    expect(record.length).toBe(21);
    expect(data.subarray(0, record.length).equals(record)).toBe(true);
    expect(field(h, 124, 12)).toBe('00000000025\0');
    expect(checksumOk(h.subarray(0, 512))).toBe(true);
    const main = h.subarray(1024);
    expect(field(main, 0, 12)).toBe('src/badname\0');
    expect(checksumOk(main)).toBe(true);
  });

  it('PAX records are sorted by key and cover ids and sizes that do not fit', () => {
    const h = encodeTarHeader({ ...base, uid: 3_000_000, size: 9n * 1024n ** 3n, paxRecords: { 'SCHILY.xattr.user.k': Buffer.from('v') } });
    const data = Buffer.from(h.subarray(512, 1024)).toString('latin1').replace(/\0+$/, '');
    expect(data).toBe('25 SCHILY.xattr.user.k=v\n19 size=9663676416\n15 uid=3000000\n');
    // numbers that do not fit are zero in the main header
    expect(field(h.subarray(1024), 108, 8)).toBe('0000000\0');
  });

  it('a directory entry, padding and the end marker', () => {
    const h = encodeTarHeader({ ...base, name: Buffer.from('dir/'), typeflag: TypeDir, mode: 0o755, size: 0n });
    expect(h[156]).toBe(TypeDir);
    expect(tarPadding(6n).length).toBe(506);
    expect(tarPadding(512n).length).toBe(0);
    expect(tarEnd()).toEqual(new Uint8Array(1024));
  });
});

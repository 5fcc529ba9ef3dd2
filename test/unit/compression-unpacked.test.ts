import { describe, expect, it } from 'vitest';
import { decodeUnpacked, encodeUnpacked } from '../../src/repository/unpacked.js';
import { isResticError } from '../../src/errors.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const json = enc(JSON.stringify({ packs: Array.from({ length: 50 }, (_, i) => ({ id: String(i).repeat(8), blobs: [] })) }));

describe('unpacked files', () => {
  it('version 1 stores the raw JSON', async () => {
    const plain = await encodeUnpacked(json, 1, 'auto');
    expect(dec(plain)).toBe(dec(json));
    expect(dec(await decodeUnpacked(plain, 'index/1'))).toBe(dec(json));
  });
  for (const mode of ['auto', 'off', 'max', 'fastest', 'better'] as const) {
    it(`version 2 with compression ${mode} writes 0x02 + a zstd frame and decodes back`, async () => {
      const plain = await encodeUnpacked(json, 2, mode);
      expect(Array.from(plain.subarray(0, 5))).toEqual([0x02, 0x28, 0xb5, 0x2f, 0xfd]);
      expect(plain.length).toBeLessThan(json.length);
      expect(dec(await decodeUnpacked(plain, 'index/1'))).toBe(dec(json));
    });
  }
  it('reads raw JSON objects and arrays in any version, and empty plaintext as is', async () => {
    expect(dec(await decodeUnpacked(enc('[1,2]'), 'x'))).toBe('[1,2]');
    expect(dec(await decodeUnpacked(enc('{"a":1}\n'), 'x'))).toBe('{"a":1}\n');
    expect((await decodeUnpacked(new Uint8Array(0), 'x')).length).toBe(0);
  });
  it('rejects an unknown first byte with CORRUPT "not supported encoding format" naming the file', async () => {
    for (const first of [0x00, 0x01, 0x03, 0x20, 0xff]) {
      try {
        await decodeUnpacked(new Uint8Array([first, 1, 2, 3]), 'snapshots/abc');
        expect.unreachable();
      } catch (err) {
        expect(isResticError(err, 'CORRUPT')).toBe(true);
        expect((err as Error).message).toMatch(/snapshots\/abc: not supported encoding format/);
      }
    }
  });
  it('rejects a damaged zstd payload with CORRUPT naming the file', async () => {
    await expect(decodeUnpacked(new Uint8Array([0x02, 0x28, 0xb5, 0x2f, 0xfd, 0x00]), 'locks/9')).rejects.toMatchObject({
      code: 'CORRUPT',
      message: expect.stringContaining('locks/9'),
    });
  });
});

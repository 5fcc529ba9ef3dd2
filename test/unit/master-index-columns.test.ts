import { describe, expect, it } from 'vitest';
import { MasterIndex } from '../../src/index/master-index.js';
import type { PackedBlob } from '../../src/pack/header.js';

const id = (n: number) => n.toString(16).padStart(64, '0');
const blob = (type: 'data' | 'tree', n: number, offset: number, length = 100): PackedBlob => ({ type, id: id(n), offset, length, uncompressedLength: 0 });

describe('MasterIndex column access (prune planning)', () => {
  const index = new MasterIndex();
  index.addPack(id(0xa1), [blob('data', 1, 0), blob('tree', 1, 100), blob('data', 2, 200)]);
  index.addPack(id(0xa2), [blob('data', 2, 0), blob('data', 3, 100)]);
  // the same entries again from another index file: not new entries
  index.addPack(id(0xa2), [blob('data', 2, 0), blob('data', 3, 100)]);
  index.addPack(id(0xa3), [blob('data', 2, 0, 50), blob('data', 1, 50)]);

  it('lists entries as columns in the order of entries()', () => {
    const cols = index.entryColumns();
    const entries = [...index.entries()];
    expect(cols.count).toBe(entries.length);
    expect(cols.count).toBe(7);
    for (let e = 0; e < cols.count; e++) {
      expect(cols.types[e] === 1 ? 'tree' : 'data').toBe(entries[e].type);
      expect(index.packIdOf(cols.packOf[e])).toBe(entries[e].packId);
      expect(cols.lengths[e]).toBe(entries[e].length);
      expect(cols.uncompressedLengths[e]).toBe(entries[e].uncompressedLength);
    }
  });

  it('maps every entry to the first copy of its blob; types are told apart', () => {
    // entries: 0 d1@a1, 1 t1@a1, 2 d2@a1, 3 d2@a2, 4 d3@a2, 5 d2@a3, 6 d1@a3
    expect([...index.firstCopies()]).toEqual([0, 1, 2, 2, 4, 2, 0]);
    expect(index.firstEntry('data', id(2))).toBe(2);
    expect(index.firstEntry('tree', id(1))).toBe(1);
    expect(index.firstEntry('tree', id(2))).toBe(-1);
    expect(index.firstEntry('data', 'not an id')).toBe(-1);
  });

  it('keeps first copies right across table growth (rehash)', () => {
    const big = new MasterIndex();
    for (let p = 0; p < 30; p++) {
      const blobs: PackedBlob[] = [];
      for (let i = 0; i < 200; i++) blobs.push(blob('data', (p * 200 + i) % 2500, i * 100));
      big.addPack(id(0x10000 + p), blobs);
    }
    const first = big.firstCopies();
    const seen = new Map<string, number>();
    let e = 0;
    for (const entry of big.entries()) {
      if (!seen.has(entry.id)) seen.set(entry.id, e);
      expect(first[e]).toBe(seen.get(entry.id));
      e++;
    }
  });
});

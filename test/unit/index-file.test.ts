import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { encodeIndexFile, parseIndexFile, type IndexedPack } from '../../src/index/index-file.js';

function fakeId(n: number | string): string {
  return createHash('sha256').update(String(n)).digest('hex');
}

const FILE = fakeId('index-file');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const P1 = fakeId('p1');
const P2 = fakeId('p2');
const B1 = fakeId('b1');
const B2 = fakeId('b2');

function samplePacks(): IndexedPack[] {
  return [
    {
      id: P1,
      blobs: [
        { type: 'data', id: B1, offset: 0, length: 876156, uncompressedLength: 876093 },
        { type: 'tree', id: B2, offset: 876156, length: 42, uncompressedLength: 0 },
      ],
    },
    { id: P2, blobs: [{ type: 'tree', id: B1, offset: 0, length: 100, uncompressedLength: 0 }] },
  ];
}

function expectCorrupt(json: string, ...fragments: string[]): void {
  try {
    parseIndexFile(enc(json), FILE);
  } catch (err) {
    expect(isResticError(err, 'CORRUPT'), String(err)).toBe(true);
    expect((err as Error).message).toContain(`index/${FILE}`);
    for (const f of fragments) expect((err as Error).message).toContain(f);
    return;
  }
  throw new Error(`expected CORRUPT for ${json}`);
}

describe('encodeIndexFile', () => {
  it('writes restic JSON: field order, omitempty uncompressed_length, trailing newline', () => {
    const text = new TextDecoder().decode(encodeIndexFile(samplePacks()));
    expect(text).toBe(
      `{"packs":[{"id":"${P1}","blobs":[` +
        `{"id":"${B1}","type":"data","offset":0,"length":876156,"uncompressed_length":876093},` +
        `{"id":"${B2}","type":"tree","offset":876156,"length":42}]},` +
        `{"id":"${P2}","blobs":[{"id":"${B1}","type":"tree","offset":0,"length":100}]}]}\n`,
    );
  });

  it('writes an empty index as "packs":[]', () => {
    expect(new TextDecoder().decode(encodeIndexFile([]))).toBe('{"packs":[]}\n');
  });

  it('round-trips through parseIndexFile', () => {
    expect(parseIndexFile(encodeIndexFile(samplePacks()), FILE)).toEqual({ packs: samplePacks(), legacy: false });
  });
});

describe('parseIndexFile', () => {
  it('reads the pre-0.17 form with supersedes (returned, not acted on)', () => {
    const sup = [fakeId('old1'), fakeId('old2').toUpperCase()];
    const json = `{"supersedes":${JSON.stringify(sup)},"packs":[{"id":"${P1}","blobs":[{"id":"${B1}","type":"data","offset":0,"length":5}]}]}`;
    const content = parseIndexFile(enc(json), FILE);
    expect(content.supersedes).toEqual(sup.map((s) => s.toLowerCase()));
    expect(content.legacy).toBe(false);
    expect(content.packs[0].blobs[0]).toEqual({ type: 'data', id: B1, offset: 0, length: 5, uncompressedLength: 0 });
  });

  it('reads the legacy top-level array form', () => {
    const json = `[{"id":"${P1}","blobs":[{"id":"${B1}","type":"tree","offset":0,"length":38}]}]`;
    const content = parseIndexFile(enc(json), FILE);
    expect(content.legacy).toBe(true);
    expect(content.packs).toEqual([{ id: P1, blobs: [{ type: 'tree', id: B1, offset: 0, length: 38, uncompressedLength: 0 }] }]);
  });

  it('accepts "packs":[] and null lists as Go does, ignores unknown fields, normalises hex case', () => {
    expect(parseIndexFile(enc('{"packs":[]}'), FILE).packs).toEqual([]);
    expect(parseIndexFile(enc('{"packs":null}'), FILE).packs).toEqual([]);
    expect(parseIndexFile(enc('{}'), FILE).packs).toEqual([]);
    const json = `{"packs":[{"id":"${P1.toUpperCase()}","blobs":null,"extra":1}],"future":true}`;
    expect(parseIndexFile(enc(json), FILE).packs).toEqual([{ id: P1, blobs: [] }]);
  });

  it('keeps the same blob in several packs and the same pack twice as written', () => {
    const packs = samplePacks();
    packs.push(packs[0]);
    expect(parseIndexFile(encodeIndexFile(packs), FILE).packs).toHaveLength(3);
  });

  it('rejects bad input with CORRUPT naming the file and the problem', () => {
    expectCorrupt('{"packs":[', 'not valid JSON');
    expectCorrupt('"hello"', 'top level is a string');
    expectCorrupt('{"packs":{}}', '"packs" is an object');
    expectCorrupt('{"packs":[1]}', 'pack 0 is a number');
    expectCorrupt(`{"packs":[{"blobs":[]}]}`, 'pack 0 "id" is missing');
    expectCorrupt(`{"packs":[{"id":"abc","blobs":[]}]}`, 'pack 0 "id" is not a 64-character hex ID');
    expectCorrupt(`{"packs":[{"id":"${'z'.repeat(64)}","blobs":[]}]}`, 'not a 64-character hex ID');
    expectCorrupt(`{"packs":[{"id":"${P1}","blobs":{}}]}`, '"blobs" is an object');
    const blob = (fields: string): string => `{"packs":[{"id":"${P1}","blobs":[${fields}]}]}`;
    expectCorrupt(blob(`{"id":"${B1}","type":"blob","offset":0,"length":1}`), 'blob 0', 'unknown type "blob"');
    expectCorrupt(blob(`{"id":"${B1}","offset":0,"length":1}`), 'has no "type"');
    expectCorrupt(blob(`{"type":"data","offset":0,"length":1}`), 'blob 0 "id" is missing');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","length":1}`), '"offset" is missing');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":0}`), '"length" is missing');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":-1,"length":1}`), '"offset" is -1');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":0,"length":1.5}`), '"length" is 1.5');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":0,"length":4294967296}`), '"length" is 4294967296');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":0,"length":1,"uncompressed_length":"9"}`), '"uncompressed_length" is "9"');
    expectCorrupt(`{"supersedes":"x","packs":[]}`, '"supersedes" is not a list');
    expectCorrupt(`{"supersedes":["x"],"packs":[]}`, 'supersedes[0]');
  });
});

describe('parseIndexFile accepts what Go encoding/json accepts', () => {
  const blobJson = (b: { id: string; type: string; offset: number; length: number; uncompressedLength: number }): Record<string, unknown> => {
    const o: Record<string, unknown> = { id: b.id, type: b.type, offset: b.offset, length: b.length };
    if (b.uncompressedLength) o.uncompressed_length = b.uncompressedLength;
    return o;
  };

  it('reads pretty-printed JSON with any key order and unknown nested values', () => {
    const packs = samplePacks();
    const doc = {
      extra: { nested: [1, 2.5e-3, -0, 'x\\"y', { a: null, b: true, c: false }] },
      packs: packs.map((p) => ({ blobs: p.blobs.map((b) => ({ ...Object.fromEntries(Object.entries(blobJson(b)).reverse()), note: [[]] })), id: p.id })),
      supersedes: [fakeId('s')],
    };
    const parsed = parseIndexFile(enc(JSON.stringify(doc, null, '\t')), FILE);
    expect(parsed.packs).toEqual(packs);
    expect(parsed.supersedes).toEqual([fakeId('s')]);
    expect(parseIndexFile(enc(` \r\n${JSON.stringify(doc, null, 2)}\n\n `), FILE).packs).toEqual(packs);
  });

  it('matches key names case-insensitively and decodes escaped keys and IDs', () => {
    const json = `{"PACKS":[{"Id":"${P1}","bLoBs":[{"ID":"${B1}","Type":"tree","OFFSET":7,"Length":9,"Uncompressed_Length":null}]}],"p\\u0061cks2":1}`;
    expect(parseIndexFile(enc(json), FILE).packs).toEqual([{ id: P1, blobs: [{ type: 'tree', id: B1, offset: 7, length: 9, uncompressedLength: 0 }] }]);
    const escapedId = `\\u00${B1.charCodeAt(0).toString(16)}` + B1.slice(1);
    const json2 = `{"p\\u0061cks":[{"id":"${P1}","blobs":[{"id":"${escapedId}","type":"data","offset":0,"length":1}]}]}`;
    expect(parseIndexFile(enc(json2), FILE).packs[0].blobs[0].id).toBe(B1);
  });

  it('takes the last of duplicate keys, as Go does', () => {
    const json = `{"packs":[{"id":"${P2}","blobs":[{"id":"${B2}","type":"data","offset":0,"length":1}],"id":"${P1}","blobs":[{"id":"${B1}","type":"data","type":"tree","offset":3,"length":4}]}]}`;
    expect(parseIndexFile(enc(json), FILE).packs).toEqual([{ id: P1, blobs: [{ type: 'tree', id: B1, offset: 3, length: 4, uncompressedLength: 0 }] }]);
  });

  it('rejects malformed JSON with the byte position', () => {
    expectCorrupt('', 'not valid JSON', 'end of data');
    expectCorrupt('{"packs":[]} x', 'not valid JSON', 'byte 13', 'after the top-level value');
    expectCorrupt('{"packs":[],}', 'not valid JSON');
    expectCorrupt('{"packs":[]', 'not valid JSON');
    expectCorrupt('{"packs" []}', 'after an object key');
    expectCorrupt('{"packs":[{"id":"abc', 'unterminated');
    expectCorrupt(`{"packs":[{"id":"${P1}","blobs":[],"x":01}]}`, 'not valid JSON');
    expectCorrupt(`{"packs":[{"id":"${P1}","blobs":[],"x":tru}]}`, 'not valid JSON');
    expectCorrupt('{"packs":[null]}', 'pack 0 is null');
    const blob = (fields: string): string => `{"packs":[{"id":"${P1}","blobs":[${fields}]}]}`;
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":1e3,"length":1}`), '"offset" is 1e3');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":1.0,"length":1}`), '"offset" is 1.0');
    expectCorrupt(blob(`{"id":"${B1}","type":"da\\u0074a","offset":1,"length":1}`), 'unknown type');
    expectCorrupt(blob(`{"id":"${B1}","type":"data","offset":0,"length":1}, 5`), 'blob 1 is a number');
    expectCorrupt(blob(`{"id":12,"type":"data","offset":0,"length":1}`), '"id" is not a 64-character hex ID: 12');
    expectCorrupt(blob(`{"id":"${B1}0","type":"data","offset":0,"length":1}`), 'not a 64-character hex ID');
  });

  it('agrees with JSON.parse on randomly shaped index files', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const packs: IndexedPack[] = [];
      for (let p = rnd(4); p > 0; p--) {
        const blobs = [];
        for (let b = rnd(6); b > 0; b--) {
          blobs.push({ type: rnd(2) ? ('data' as const) : ('tree' as const), id: fakeId(`${round}-${p}-${b}`), offset: rnd(2 ** 31), length: rnd(2) ? 2 ** 32 - 1 : rnd(1000), uncompressedLength: rnd(2) ? rnd(100_000) : 0 });
        }
        packs.push({ id: fakeId(`${round}-${p}`), blobs });
      }
      const doc = { packs: packs.map((p) => ({ id: p.id, blobs: p.blobs.map(blobJson) })) };
      const text = rnd(2) ? JSON.stringify(doc) : JSON.stringify(doc, null, rnd(4));
      expect(parseIndexFile(enc(text), FILE).packs).toEqual(packs);
    }
  });
});

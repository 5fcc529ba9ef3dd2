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

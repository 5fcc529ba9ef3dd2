import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { encodeConfig, newConfig, parseConfig } from '../../src/format/config.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const ID = '6d91ad6a01b3a6f2ea4ae7fdf5cbd1b1b8d2c55ee8e4c1c2cbf7d4ce3f1f2edc';

function expectError(code: 'CORRUPT' | 'UNSUPPORTED_VERSION', fn: () => unknown, re: RegExp): void {
  try {
    fn();
    expect.unreachable();
  } catch (err) {
    expect(isResticError(err, code), String(err)).toBe(true);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).toMatch(/config/);
  }
}

describe('config', () => {
  it('parses and re-encodes restic bytes exactly', () => {
    const text = `{"version":2,"id":"${ID}","chunker_polynomial":"35e47c26afc4ed"}`;
    const c = parseConfig(enc(text));
    expect(c).toEqual({ version: 2, id: ID, chunker_polynomial: 0x35e47c26afc4edn });
    expect(new TextDecoder().decode(encodeConfig(c))).toBe(text);
  });
  it('accepts version 1 and ignores unknown fields', () => {
    const c = parseConfig(enc(`{"version":1,"id":"${ID}","chunker_polynomial":"3DA3358B4DC173","extra":true}`));
    expect(c.version).toBe(1);
    expect(c.chunker_polynomial).toBe(0x3da3358b4dc173n);
  });
  it('rejects versions other than 1 and 2 with UNSUPPORTED_VERSION', () => {
    expectError('UNSUPPORTED_VERSION', () => parseConfig(enc(`{"version":3,"id":"${ID}","chunker_polynomial":"1"}`)), /unsupported repository version 3/);
    expectError('UNSUPPORTED_VERSION', () => parseConfig(enc(`{"id":"${ID}","chunker_polynomial":"1"}`)), /version 0/);
  });
  it('rejects malformed configs with CORRUPT', () => {
    expectError('CORRUPT', () => parseConfig(enc('{"version":2,')), /not valid JSON/);
    expectError('CORRUPT', () => parseConfig(enc('"x"')), /not a JSON object/);
    expectError('CORRUPT', () => parseConfig(enc(`{"version":"2","id":"${ID}","chunker_polynomial":"1"}`)), /"version"/);
    expectError('CORRUPT', () => parseConfig(enc(`{"version":2,"chunker_polynomial":"1"}`)), /"id"/);
    expectError('CORRUPT', () => parseConfig(enc(`{"version":2,"id":"${ID}","chunker_polynomial":"0x3da3"}`)), /chunker_polynomial/);
    expectError('CORRUPT', () => parseConfig(enc(`{"version":2,"id":"${ID}","chunker_polynomial":"11112222333344445"}`)), /chunker_polynomial/);
    expectError('CORRUPT', () => parseConfig(enc(`{"version":2,"id":"${ID}","chunker_polynomial":12345}`)), /chunker_polynomial/);
    expectError('CORRUPT', () => parseConfig(enc(`{"version":2,"id":"${ID}"}`)), /chunker_polynomial/);
  });
  it('makes new configs with a random 64-hex id', () => {
    const c = newConfig(0x3da3358b4dc173n);
    expect(c.version).toBe(2);
    expect(c.id).toMatch(/^[0-9a-f]{64}$/);
    expect(newConfig(1n).id).not.toBe(c.id);
  });
});

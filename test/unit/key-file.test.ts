import { describe, expect, it } from 'vitest';
import { encodeMasterKey, generateMasterKey, open, seal, sha256, type MasterKey } from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';
import {
  calibrateScrypt,
  createKeyFile,
  deriveUserKey,
  encodeKeyFile,
  openKeyFile,
  parseKeyFile,
  type KeyFile,
} from '../../src/format/key-file.js';
import { GoTime } from '../../src/format/gotime.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const FAST = { N: 1024, r: 1, p: 1 };

function expectCorrupt(fn: () => unknown, ...fragments: RegExp[]): void {
  try {
    fn();
    expect.unreachable('expected CORRUPT');
  } catch (err) {
    expect(isResticError(err, 'CORRUPT'), String(err)).toBe(true);
    for (const f of fragments) expect((err as Error).message).toMatch(f);
  }
}

function sameKey(a: MasterKey, b: MasterKey): boolean {
  return toHex(a.encrypt) === toHex(b.encrypt) && toHex(a.macK) === toHex(b.macK) && toHex(a.macR) === toHex(b.macR);
}

describe('createKeyFile / openKeyFile', () => {
  it('creates restic-shaped JSON whose ID is its SHA-256 and opens with the password', async () => {
    const master = generateMasterKey();
    const created = GoTime.parse('2026-11-26T10:11:37.045973636Z');
    const { id, bytes, keyFile } = await createKeyFile(master, 'secret', { params: FAST, username: 'u<1>', hostname: 'h&', created });
    expect(id).toBe(toHex(sha256(bytes)));
    const text = new TextDecoder().decode(bytes);
    expect(text).toMatch(
      /^\{"created":"2026-11-26T10:11:37.045973636Z","username":"u\\u003c1\\u003e","hostname":"h\\u0026","kdf":"scrypt","N":1024,"r":1,"p":1,"salt":"[A-Za-z0-9+/=]{88}","data":"[A-Za-z0-9+/=]{216}"\}$/,
    );
    expect(keyFile.data.length).toBe(160);
    const parsed = parseKeyFile(bytes, `keys/${id}`);
    expect(toHex(encodeKeyFile(parsed))).toBe(toHex(bytes));
    const opened = await openKeyFile(parsed, 'secret', `keys/${id}`);
    expect(opened && sameKey(opened, master)).toBe(true);
  });

  it('returns null (not an error) for a wrong password', async () => {
    const { bytes } = await createKeyFile(generateMasterKey(), 'right', { params: FAST, username: 'u', hostname: 'h' });
    expect(await openKeyFile(parseKeyFile(bytes, 'keys/x'), 'wrong', 'keys/x')).toBeNull();
  });

  it('accepts the password as bytes (UTF-8) equal to the string form', async () => {
    const master = generateMasterKey();
    const { keyFile } = await createKeyFile(master, 'pässwörd', { params: FAST, username: 'u', hostname: 'h' });
    const opened = await openKeyFile(keyFile, enc('pässwörd'));
    expect(opened && sameKey(opened, master)).toBe(true);
  });

  it('is CORRUPT when the data verifies but holds no valid master key', async () => {
    const salt = new Uint8Array(64).fill(9);
    const userKey = await deriveUserKey('pw', salt, FAST);
    const keyFile: KeyFile = {
      created: '2020-01-01T00:00:00Z', username: 'u', hostname: 'h', kdf: 'scrypt', ...FAST, salt,
      data: seal(userKey, enc('{"mac":{}}')),
    };
    await expect(openKeyFile(keyFile, 'pw', 'keys/bad')).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining('keys/bad') });
    // sanity: the sealed bytes open with that user key
    expect(new TextDecoder().decode(open(userKey, keyFile.data, 'x'))).toBe('{"mac":{}}');
    expect(encodeMasterKey(generateMasterKey()).length).toBe(128);
  });
});

describe('parseKeyFile errors', () => {
  const salt = Buffer.alloc(64, 1).toString('base64');
  const data = Buffer.alloc(160, 2).toString('base64');
  const base = { created: '2020-01-01T00:00:00Z', username: 'u', hostname: 'h', kdf: 'scrypt', N: 32768, r: 8, p: 1, salt, data };
  const variant = (patch: Record<string, unknown>): Uint8Array => enc(JSON.stringify({ ...base, ...patch }));

  it('parses a well-formed key file', () => {
    const k = parseKeyFile(variant({}), 'keys/ok');
    expect(k).toMatchObject({ N: 32768, r: 8, p: 1, kdf: 'scrypt', username: 'u' });
    expect(k.salt.length).toBe(64);
  });
  it('names the file and the problem', () => {
    expectCorrupt(() => parseKeyFile(enc('{"created":'), 'keys/k1'), /keys\/k1/, /not valid JSON/);
    expectCorrupt(() => parseKeyFile(enc('[1]'), 'keys/k1'), /not a JSON object/);
    expectCorrupt(() => parseKeyFile(variant({ kdf: 'argon2' }), 'keys/k1'), /only supported KDF is scrypt/);
    expectCorrupt(() => parseKeyFile(variant({ N: 1000 }), 'keys/k1'), /N=1000/);
    expectCorrupt(() => parseKeyFile(variant({ N: '32768' }), 'keys/k1'), /"N"/);
    expectCorrupt(() => parseKeyFile(variant({ r: 0 }), 'keys/k1'), /r=0/);
    expectCorrupt(() => parseKeyFile(variant({ p: 0 }), 'keys/k1'), /p=0/);
    expectCorrupt(() => parseKeyFile(variant({ N: 2 ** 30, r: 8 }), 'keys/k1'), /MiB of memory/);
    expectCorrupt(() => parseKeyFile(variant({ salt: Buffer.alloc(32).toString('base64') }), 'keys/k1'), /salt has 32 bytes, want 64/);
    expectCorrupt(() => parseKeyFile(variant({ salt: '***' }), 'keys/k1'), /"salt" is not a base64/);
    expectCorrupt(() => parseKeyFile(variant({ data: Buffer.alloc(20).toString('base64') }), 'keys/k1'), /data has 20 bytes/);
    expectCorrupt(() => parseKeyFile(variant({ data: undefined }), 'keys/k1'), /"data"/);
  });
});

describe('calibrateScrypt', () => {
  it('follows restic: r=8, N a power of two at most 32768 for 60 MiB, p >= 1', async () => {
    // A short timeout keeps the test quick; the shape of the answer is what matters.
    const params = await calibrateScrypt({ timeoutMs: 30, memoryMiB: 1 });
    expect(params.r).toBe(8);
    expect(params.N & (params.N - 1)).toBe(0);
    expect(params.N).toBeLessThanOrEqual(512); // 128*8*512 = 512 KiB < 1 MiB
    expect(params.p).toBeGreaterThanOrEqual(1);
  });
});

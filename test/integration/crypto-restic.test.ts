/**
 * Cross-checks the crypto, key-file, config and unpacked-file layer against the real restic:
 * we open what restic wrote, and restic opens what we wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_PASSWORD, makeResticRepo, requireRestic, restic, tempDir } from '../support/restic.js';
import { encodeMasterKey, open, seal, setCryptoImplementation, sha256, type MasterKey } from '../../src/crypto/index.js';
import { createKeyFile, encodeKeyFile, openKeyFile, parseKeyFile } from '../../src/format/key-file.js';
import { encodeConfig, parseConfig } from '../../src/format/config.js';
import { decodeUnpacked, encodeUnpacked } from '../../src/repository/unpacked.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

function readRepoFile(repo: string, type: string, name: string): Uint8Array {
  return Uint8Array.from(readFileSync(join(repo, type, name)));
}

async function openMaster(repo: string, password: string): Promise<{ id: string; key: MasterKey }> {
  for (const name of listDir(join(repo, 'keys'))) {
    const key = await openKeyFile(parseKeyFile(readRepoFile(repo, 'keys', name), `keys/${name}`), password, `keys/${name}`);
    if (key) return { id: name, key };
  }
  throw new Error('no key opened');
}

describe('crypto layer against the real restic', () => {
  let tmp: { path: string; cleanup: () => void };
  let repo: string;
  let master: MasterKey;

  beforeAll(async () => {
    requireRestic();
    tmp = tempDir('restic-ts-crypto-');
    repo = join(tmp.path, 'repo');
    restic(['init', '--repo', repo]);
    const src = join(tmp.path, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'hello restic-ts\n'.repeat(1000));
    writeFileSync(join(src, 'sub', 'b.bin'), Buffer.alloc(50_000, 7));
    restic(['backup', '--repo', repo, '--host', 'h1', src]);
    // Later cases decrypt with the master key; open it here so each case stands alone.
    const [name] = listDir(join(repo, 'keys'));
    const opened = await openKeyFile(parseKeyFile(readRepoFile(repo, 'keys', name!), `keys/${name}`), TEST_PASSWORD, `keys/${name}`);
    if (!opened) throw new Error("restic's key does not open with the test password");
    master = opened;
  });
  afterAll(() => tmp?.cleanup());

  it("opens restic's key file with the password and re-encodes it byte for byte", async () => {
    const [name] = listDir(join(repo, 'keys'));
    const bytes = readRepoFile(repo, 'keys', name!);
    expect(toHex(sha256(bytes))).toBe(name);
    const keyFile = parseKeyFile(bytes, `keys/${name}`);
    // restic calibrates N by timing (halving while one run exceeds 500 ms), so under load it
    // may pick less than 32768; r is fixed at 8 and N is always a power of two.
    expect(keyFile).toMatchObject({ kdf: 'scrypt', r: 8 });
    expect(keyFile.N <= 32768 && (keyFile.N & (keyFile.N - 1)) === 0).toBe(true);
    expect(toHex(encodeKeyFile(keyFile))).toBe(toHex(bytes));
    const key = await openKeyFile(keyFile, TEST_PASSWORD, `keys/${name}`);
    expect(key).not.toBeNull();
    expect(encodeMasterKey(key!)).toEqual(encodeMasterKey(master));
    const restics = JSON.parse(restic(['cat', 'masterkey', '--repo', repo]).stdout) as { mac: { k: string; r: string }; encrypt: string };
    expect(dec(encodeMasterKey(master))).toBe(JSON.stringify(restics));
  });

  it('gives the "does not open" result for a wrong password', async () => {
    const [name] = listDir(join(repo, 'keys'));
    const keyFile = parseKeyFile(readRepoFile(repo, 'keys', name!), `keys/${name}`);
    expect(await openKeyFile(keyFile, 'not the password', `keys/${name}`)).toBeNull();
  });

  it('decrypts config (version 2, a polynomial) and re-encodes it byte for byte', () => {
    const sealed = readRepoFile(repo, '', 'config');
    const plain = open(master, sealed, 'config');
    const config = parseConfig(plain);
    expect(config.version).toBe(2);
    expect(config.chunker_polynomial).toBeGreaterThan(0n);
    const restics = JSON.parse(restic(['cat', 'config', '--repo', repo]).stdout) as { id: string; chunker_polynomial: string };
    expect(config.id).toBe(restics.id);
    expect(config.chunker_polynomial.toString(16)).toBe(restics.chunker_polynomial);
    expect(dec(encodeConfig(config))).toBe(dec(plain));
  });

  it('decodes the compressed index and snapshot files restic wrote, with both crypto implementations', async () => {
    for (const impl of ['node', 'portable'] as const) {
      setCryptoImplementation(impl);
      try {
        for (const type of ['index', 'snapshots']) {
          const names = listDir(join(repo, type));
          expect(names.length).toBeGreaterThan(0);
          for (const name of names) {
            const sealed = readRepoFile(repo, type, name);
            expect(toHex(sha256(sealed))).toBe(name);
            const plain = open(master, sealed, `${type}/${name}`);
            expect(plain[0]).toBe(0x02); // v2: compressed
            const json = JSON.parse(dec(await decodeUnpacked(plain, `${type}/${name}`))) as Record<string, unknown>;
            expect(json).toHaveProperty(type === 'index' ? 'packs' : 'tree');
          }
        }
      } finally {
        setCryptoImplementation('node');
      }
    }
  });

  it('restic compresses unpacked files in v2 even with --compression off (as encodeUnpacked does)', async () => {
    const before = new Set(listDir(join(repo, 'snapshots')));
    restic(['backup', '--repo', repo, '--compression', 'off', '--host', 'h1', join(tmp.path, 'src')]);
    const added = listDir(join(repo, 'snapshots')).filter((n) => !before.has(n));
    expect(added.length).toBe(1);
    const plain = open(master, readRepoFile(repo, 'snapshots', added[0]!), 'snap');
    expect(plain[0]).toBe(0x02);
    expect((await encodeUnpacked(new TextEncoder().encode('{}'), 2, 'off'))[0]).toBe(0x02);
  });

  it('restic reads unpacked files we encode (native and WebAssembly zstd frames)', () => {
    const [snapName] = listDir(join(repo, 'snapshots'));
    return (async () => {
      const original = await decodeUnpacked(open(master, readRepoFile(repo, 'snapshots', snapName!), 'snap'), 'snap');
      const added: string[] = [];
      for (const mode of ['auto', 'max'] as const) {
        // Same snapshot, another host, so restic lists it as a separate snapshot.
        const json = new TextEncoder().encode(dec(original).replace('"hostname":"h1"', `"hostname":"ours-${mode}"`));
        const sealed = seal(master, await encodeUnpacked(json, 2, mode));
        const id = toHex(sha256(sealed));
        writeFileSync(join(repo, 'snapshots', id), sealed);
        added.push(id);
      }
      const listed = JSON.parse(restic(['snapshots', '--json', '--repo', repo]).stdout) as { id: string; hostname: string }[];
      expect(listed.map((s) => s.hostname).sort()).toEqual(['h1', 'h1', 'ours-auto', 'ours-max']);
      expect(listed.map((s) => s.id)).toEqual(expect.arrayContaining(added));
      restic(['check', '--repo', repo]);
    })();
  });

  it('restic accepts a key file we create', async () => {
    const { id, bytes } = await createKeyFile(master, 'our-password', {
      params: { N: 16384, r: 8, p: 1 },
      username: 'restic-ts',
      hostname: 'test-host',
    });
    writeFileSync(join(repo, 'keys', id), bytes);
    const keys = JSON.parse(restic(['key', 'list', '--json', '--repo', repo], { password: 'our-password' }).stdout) as {
      current: boolean;
      id: string;
      userName: string;
      hostName: string;
    }[];
    const ours = keys.find((k) => k.current);
    // restic 0.14 lists the short form of the ID
    expect(ours && id.startsWith(ours.id)).toBe(true);
    expect(ours).toMatchObject({ userName: 'restic-ts', hostName: 'test-host' });
    restic(['snapshots', '--repo', repo], { password: 'our-password' });
    // and our opener finds the same master key through our new key file
    const opened = await openMaster(repo, 'our-password');
    expect(opened.id).toBe(id);
    expect(toHex(opened.key.encrypt)).toBe(toHex(master.encrypt));
  });

  it('reads a version 1 repository: config version 1, raw JSON unpacked files', async () => {
    const repo1 = join(tmp.path, 'repo1');
    // The main repository above keeps restic's calibrated key; this one need not.
    await makeResticRepo(repo1, { version: 1 });
    restic(['backup', '--repo', repo1, join(tmp.path, 'src')]);
    const { key } = await openMaster(repo1, TEST_PASSWORD);
    expect(parseConfig(open(key, readRepoFile(repo1, '', 'config'), 'config')).version).toBe(1);
    const [snap] = listDir(join(repo1, 'snapshots'));
    const plain = open(key, readRepoFile(repo1, 'snapshots', snap!), `snapshots/${snap}`);
    expect(plain[0]).toBe(0x7b);
    expect(JSON.parse(dec(await decodeUnpacked(plain, 'snap')))).toHaveProperty('tree');
  });
});

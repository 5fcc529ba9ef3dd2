import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { open } from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';
import { parseConfig } from '../../src/format/config.js';
import { parseKeyFile, openKeyFile } from '../../src/format/key-file.js';
import { isIrreducible } from '../../src/chunker/polynomial.js';
import { initRepository } from '../../src/repository/init.js';
import { LocalBackend } from '../../src/backend/local.js';
import { restic, tempDir } from '../support/restic.js';
import { ours } from '../support/cli.js';

const fastKdf = { N: 1024, r: 8, p: 1 };

describe('initRepository', () => {
  it('writes one key and an uncompressed sealed config', async () => {
    const backend = new MemoryBackend();
    const res = await initRepository({ backend, password: 'pw', kdfParams: fastKdf });
    const keys: string[] = [];
    for await (const f of backend.list('key')) keys.push(f.name);
    expect(keys).toEqual([res.keyId]);
    const keyFile = parseKeyFile(await backend.read('key', res.keyId), 'key');
    expect(keyFile.N).toBe(1024);
    const master = await openKeyFile(keyFile, 'pw');
    expect(master).not.toBeNull();
    const plain = open(master!, await backend.read('config', 'config'), 'config');
    expect(plain[0]).toBe(0x7b); // '{': never compressed
    const config = parseConfig(plain);
    expect(config.version).toBe(2);
    expect(config.id).toMatch(/^[0-9a-f]{64}$/);
    expect(isIrreducible(config.chunker_polynomial)).toBe(true);
  });

  it('honours version 1 and a given polynomial', async () => {
    const backend = new MemoryBackend();
    const res = await initRepository({ backend, password: 'pw', kdfParams: fastKdf, version: 1, chunkerPolynomial: 0x3da3358b4dc173n });
    expect(res.config.version).toBe(1);
    expect(res.config.chunker_polynomial).toBe(0x3da3358b4dc173n);
  });

  it('refuses an existing repository, keys or snapshots', async () => {
    const backend = new MemoryBackend();
    await initRepository({ backend, password: 'pw', kdfParams: fastKdf });
    await expect(initRepository({ backend, password: 'pw', kdfParams: fastKdf })).rejects.toSatisfy((e) => isResticError(e, 'ALREADY_EXISTS'));
    const b2 = new MemoryBackend();
    await b2.write('snapshot', 'a'.repeat(64), new Uint8Array(1));
    await expect(initRepository({ backend: b2, password: 'pw', kdfParams: fastKdf })).rejects.toThrow(/snapshots/);
    const b3 = new MemoryBackend();
    await b3.write('key', 'b'.repeat(64), new Uint8Array(1));
    await expect(initRepository({ backend: b3, password: 'pw', kdfParams: fastKdf })).rejects.toThrow(/key files/);
  });

  it('rejects bad versions and reducible polynomials', async () => {
    await expect(initRepository({ backend: new MemoryBackend(), password: 'pw', kdfParams: fastKdf, version: 3 })).rejects.toSatisfy((e) => isResticError(e, 'UNSUPPORTED_VERSION'));
    await expect(initRepository({ backend: new MemoryBackend(), password: 'pw', kdfParams: fastKdf, chunkerPolynomial: 4n })).rejects.toThrow(/irreducible/);
  });

  it('creates a local repository the real restic opens (v1 and v2)', async () => {
    for (const version of [1, 2]) {
      const dir = tempDir();
      try {
        const repo = dir.path + '/repo';
        await initRepository({ backend: new LocalBackend(repo), password: 'test-password', kdfParams: fastKdf, version });
        const cfg = JSON.parse(restic(['cat', 'config'], { repo }).stdout);
        expect(cfg.version).toBe(version);
        restic(['check'], { repo });
        const again = await initRepository({ backend: new LocalBackend(repo), password: 'x', kdfParams: fastKdf }).catch((e: unknown) => e);
        expect(isResticError(again, 'ALREADY_EXISTS')).toBe(true);
      } finally {
        dir.cleanup();
      }
    }
  });

  it('CLI: --copy-chunker-params --from-repo takes the polynomial of a restic repository', async () => {
    const dir = tempDir();
    try {
      const theirs = dir.path + '/theirs';
      const mine = dir.path + '/mine';
      restic(['init'], { repo: theirs });
      const r = await ours(['-r', mine, 'init', '--repository-version', '1', '--copy-chunker-params', '--from-repo', theirs], {
        RESTIC_PASSWORD: 'test-password',
        RESTIC_FROM_PASSWORD: 'test-password',
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^created restic repository [0-9a-f]{10} at /);
      const a = JSON.parse(restic(['cat', 'config'], { repo: theirs }).stdout);
      const b = JSON.parse(restic(['cat', 'config'], { repo: mine }).stdout);
      expect(b.chunker_polynomial).toBe(a.chunker_polynomial);
      expect(b.version).toBe(1);
      expect(b.id).not.toBe(a.id);
      const bad = await ours(['-r', dir.path + '/x', 'init', '--repository-version', '3'], { RESTIC_PASSWORD: 'p' });
      expect(bad.code).toBe(24);
      expect(bad.stderr).toMatch(/only repository versions between 1 and 2/);
    } finally {
      dir.cleanup();
    }
  });
});

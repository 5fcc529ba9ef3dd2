/**
 * Repository on the in-memory backend: opening (keys, hint, config checks), raw/unpacked
 * loading with hash and MAC checks, blobs with several copies, trees and snapshot lookup.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { compress } from '../../src/compression/index.js';
import { seal, sha256, type MasterKey } from '../../src/crypto/index.js';
import { isResticError, type ErrorCode } from '../../src/errors.js';
import { createKeyFile } from '../../src/format/key-file.js';
import { encodeTree, newNode } from '../../src/format/node.js';
import { encodeIndexFile } from '../../src/index/index-file.js';
import { encodePackHeader, type PackedBlob } from '../../src/pack/header.js';
import { initRepository } from '../../src/repository/init.js';
import { Repository } from '../../src/repository/repository.js';
import { encodeUnpacked } from '../../src/repository/unpacked.js';

const KDF = { N: 1024, r: 1, p: 1 };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

async function expectCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp | string): Promise<Error> {
  try {
    await p;
  } catch (err) {
    expect(isResticError(err), String(err)).toBe(true);
    expect((err as { code: string }).code, (err as Error).message).toBe(code);
    if (message !== undefined) expect((err as Error).message).toMatch(message);
    return err as Error;
  }
  throw new Error(`expected ${code}`);
}

async function newRepo(version = 2): Promise<{ backend: MemoryBackend; masterKey: MasterKey; keyId: string }> {
  const backend = new MemoryBackend();
  const r = await initRepository({ backend, password: 'pw', version, kdfParams: KDF, username: 'u', hostname: 'h' });
  return { backend, masterKey: r.masterKey, keyId: r.keyId };
}

async function saveUnpacked(backend: MemoryBackend, key: MasterKey, type: 'snapshot' | 'index' | 'lock', json: string, version = 2): Promise<string> {
  const sealed = seal(key, await encodeUnpacked(utf8(json), version, 'auto'));
  const id = hex(sha256(sealed));
  await backend.write(type, id, sealed);
  return id;
}

/** Writes one pack holding the given blobs (optionally compressed) and returns its ID and entries. */
async function savePack(backend: MemoryBackend, key: MasterKey, blobs: { type: 'data' | 'tree'; data: Uint8Array; compressed?: boolean }[]) {
  const parts: Uint8Array[] = [];
  const entries: PackedBlob[] = [];
  let offset = 0;
  for (const b of blobs) {
    const plain = b.compressed ? await compress(b.data, 'auto') : b.data;
    const sealed = seal(key, plain);
    entries.push({ type: b.type, id: hex(sha256(b.data)), offset, length: sealed.length, uncompressedLength: b.compressed ? b.data.length : 0 });
    parts.push(sealed);
    offset += sealed.length;
  }
  const header = seal(key, encodePackHeader(entries));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, header.length, true);
  const pack = Buffer.concat([...parts, header, len]);
  const id = hex(sha256(pack));
  await backend.write('pack', id, pack);
  return { id, entries };
}

describe('Repository.open', () => {
  it('opens with the password and keeps key ID, config and master key', async () => {
    const { backend, keyId, masterKey } = await newRepo();
    const repo = await Repository.open({ backend, password: 'pw' });
    expect(repo.keyId).toBe(keyId);
    expect(repo.config.version).toBe(2);
    expect(hex(repo.masterKey.encrypt)).toBe(hex(masterKey.encrypt));
    const again = await Repository.open({ backend, masterKey });
    expect(again.config.id).toBe(repo.config.id);
  });

  it('tries every key, the hint first; wrong password is WRONG_PASSWORD', async () => {
    const { backend, masterKey } = await newRepo();
    const second = await createKeyFile(masterKey, 'second', { params: KDF, username: 'x', hostname: 'y' });
    await backend.write('key', second.id, second.bytes);
    const seen: string[] = [];
    const repo = await Repository.open({ backend, password: 'second', keyHint: second.id.slice(0, 5), onProgress: (e) => e.keyId && seen.push(e.keyId) });
    expect(repo.keyId).toBe(second.id);
    expect(seen[0]).toBe(second.id);
    expect((await Repository.open({ backend, password: 'second' })).keyId).toBe(second.id);
    await expectCode(Repository.open({ backend, password: 'nope' }), 'WRONG_PASSWORD', 'wrong password or no key found');
    await expectCode(Repository.open({ backend, password: 'second', maxKeys: 0 }), 'WRONG_PASSWORD');
  });

  it('missing config is REPOSITORY_NOT_FOUND', async () => {
    await expectCode(Repository.open({ backend: new MemoryBackend('memory:empty'), password: 'pw' }), 'REPOSITORY_NOT_FOUND', /memory:empty/);
  });

  it('a malformed key file is CORRUPT naming it', async () => {
    const { backend } = await newRepo();
    const bad = utf8('{"kdf":"scrypt","N":"x"}');
    const id = hex(sha256(bad));
    await backend.write('key', id, bad);
    await expectCode(Repository.open({ backend, password: 'other', keyHint: id }), 'CORRUPT', `keys/${id}`);
    // the intact key still opens, the damaged one is reported and skipped
    const skipped: string[] = [];
    const repo = await Repository.open({ backend, password: 'pw', keyHint: id, onProgress: (e) => e.phase === 'key-damaged' && skipped.push(e.keyId!) });
    expect(skipped).toEqual([id]);
    expect(repo.keyId).not.toBe(id);
  });

  it('a key file whose content does not match its name is CORRUPT', async () => {
    const { backend, keyId } = await newRepo();
    const bytes = await backend.read('key', keyId);
    const wrongName = 'f'.repeat(64);
    await backend.write('key', wrongName, bytes);
    await expectCode(Repository.open({ backend, password: 'wrong', keyHint: 'ffff' }), 'CORRUPT', /hash does not match/);
  });

  it('config: MAC failure, version 3 and a reducible polynomial are refused', async () => {
    for (const [plain, code] of [
      [null, 'MAC_FAILED'],
      ['{"version":3,"id":"ab","chunker_polynomial":"3da3358b4dc173"}', 'UNSUPPORTED_VERSION'],
      ['{"version":2,"id":"ab","chunker_polynomial":"3c"}', 'CORRUPT'],
    ] as const) {
      const { backend, masterKey } = await newRepo();
      const old = await backend.read('config', 'config');
      await backend.remove('config', 'config');
      if (plain === null) {
        const damaged = Uint8Array.from(old);
        damaged[20] ^= 1;
        await backend.write('config', 'config', damaged);
      } else {
        await backend.write('config', 'config', seal(masterKey, utf8(plain)));
      }
      const err = await expectCode(Repository.open({ backend, password: 'pw' }), code);
      expect(err.message).toMatch(/^config: /);
    }
  });
});

describe('Repository reading', () => {
  it('loads snapshots, the index, blobs (compressed and not) and trees', async () => {
    const { backend, masterKey } = await newRepo();
    const content = utf8('hello world\n');
    const big = utf8('x'.repeat(5000));
    const fileNode = newNode({ name: 'hello.txt', type: 'file', content: [hex(sha256(content))], size: BigInt(content.length) });
    const sub = encodeTree([fileNode]);
    const dirNode = newNode({ name: 'docs', type: 'dir', subtree: hex(sha256(sub)) });
    const root = encodeTree([dirNode]);
    const p1 = await savePack(backend, masterKey, [
      { type: 'data', data: content },
      { type: 'data', data: big, compressed: true },
    ]);
    const p2 = await savePack(backend, masterKey, [
      { type: 'tree', data: sub, compressed: true },
      { type: 'tree', data: root },
    ]);
    await saveUnpacked(backend, masterKey, 'index', Buffer.from(encodeIndexFile([{ id: p1.id, blobs: p1.entries }, { id: p2.id, blobs: p2.entries }])).toString());
    const rootId = hex(sha256(root));
    const snapId = await saveUnpacked(
      backend,
      masterKey,
      'snapshot',
      `{"time":"2022-01-02T03:04:05.123456789+01:00","tree":"${rootId}","paths":["/data"],"hostname":"box","username":"me","tags":["a"]}`,
    );

    const repo = await Repository.open({ backend, password: 'pw' });
    const snaps = await repo.listSnapshots();
    expect(snaps.map((s) => s.id)).toEqual([snapId]);
    expect(snaps[0].snapshot.hostname).toBe('box');

    const progress: number[] = [];
    const index = await repo.loadIndex({ onProgress: (p) => progress.push(p.loadedFiles) });
    expect(progress).toEqual([1]);
    expect(index.has('data', hex(sha256(big)))).toBe(true);
    expect(Buffer.from(await repo.loadBlob('data', hex(sha256(content)))).toString()).toBe('hello world\n');
    expect((await repo.loadBlob('data', hex(sha256(big)))).length).toBe(5000);
    await expectCode(repo.loadBlob('data', 'a'.repeat(64)), 'BLOB_NOT_FOUND');

    const found = await repo.findSnapshot(`${snapId.slice(0, 6)}:docs`);
    expect(found.id).toBe(snapId);
    expect(found.tree).toBe(hex(sha256(sub)));
    expect((await repo.loadTree(found.tree)).nodes[0].nameText).toBe('hello.txt');
    expect((await repo.findSnapshot('latest')).tree).toBe(rootId);
    await expectCode(repo.findSnapshot(`${snapId}:/docs/nothing`), 'SNAPSHOT_NOT_FOUND', '/docs/nothing');
    await expectCode(repo.findSnapshot(`${snapId}:docs/hello.txt`), 'SNAPSHOT_NOT_FOUND', 'not a directory');
    await expectCode(repo.findSnapshot('latest', { hosts: ['other'] }), 'SNAPSHOT_NOT_FOUND');
  });

  it('tries the next copy of a blob when one is damaged; names pack and blob when none is intact', async () => {
    const { backend, masterKey } = await newRepo();
    const data = utf8('precious');
    const good = await savePack(backend, masterKey, [{ type: 'data', data }]);
    const badPack = await savePack(backend, masterKey, [{ type: 'data', data: utf8('other') }]);
    // index claims the blob also lives in badPack (whose bytes are something else): MAC ok, hash wrong
    const lying = { ...badPack.entries[0], id: good.entries[0].id };
    await saveUnpacked(backend, masterKey, 'index', Buffer.from(encodeIndexFile([{ id: badPack.id, blobs: [lying] }, { id: good.id, blobs: good.entries }])).toString());
    const repo = await Repository.open({ backend, password: 'pw' });
    expect(Buffer.from(await repo.loadBlob('data', good.entries[0].id)).toString()).toBe('precious');

    const { backend: b2, masterKey: k2 } = await newRepo();
    const only = await savePack(b2, k2, [{ type: 'data', data }]);
    const raw = Uint8Array.from(await b2.read('pack', only.id));
    raw[5] ^= 1;
    await b2.remove('pack', only.id);
    await b2.write('pack', only.id, raw); // name no longer matches, but blob reads use ranges
    await saveUnpacked(b2, k2, 'index', Buffer.from(encodeIndexFile([{ id: only.id, blobs: only.entries }])).toString());
    const repo2 = await Repository.open({ backend: b2, password: 'pw' });
    const err = await expectCode(repo2.loadBlob('data', only.entries[0].id), 'MAC_FAILED');
    expect(err.message).toContain(`data/${only.id.slice(0, 2)}/${only.id}`);
    expect(err.message).toContain(only.entries[0].id);
  });

  it('snapshot prefixes: unique, ambiguous, unknown; damaged snapshot files are named', async () => {
    const { backend, masterKey } = await newRepo();
    const ids: string[] = [];
    for (let i = 0; ids.length < 2 || new Set(ids.map((id) => id[0])).size === ids.length; i++) {
      ids.push(await saveUnpacked(backend, masterKey, 'snapshot', `{"time":"2022-01-0${(i % 9) + 1}T00:00:00Z","tree":"${'0'.repeat(64)}","paths":["/p${i}"]}`));
    }
    const repo = await Repository.open({ backend, password: 'pw' });
    const shared = ids.map((id) => id[0]).find((c, i, all) => all.indexOf(c) !== i)!;
    await expectCode(repo.findSnapshotId(shared), 'SNAPSHOT_AMBIGUOUS', `multiple IDs with prefix "${shared}" found`);
    expect(await repo.findSnapshotId(ids[0])).toBe(ids[0]);
    const unused = '0123456789abcdef'.split('').find((c) => !ids.some((id) => id.startsWith(c)))!;
    await expectCode(repo.findSnapshotId(unused), 'SNAPSHOT_NOT_FOUND', `no matching ID found for prefix "${unused}"`);

    const sealed = Uint8Array.from(await backend.read('snapshot', ids[0]));
    await backend.remove('snapshot', ids[0]);
    await backend.write('snapshot', ids[0], sealed.subarray(0, 20));
    await expectCode(repo.listSnapshots(), 'CORRUPT', `snapshots/${ids[0]}`);
    const skipped: string[] = [];
    const rest = await repo.listSnapshots({ onDamaged: (id) => skipped.push(id) });
    expect(skipped).toEqual([ids[0]]);
    expect(rest.map((e) => e.id).sort()).toEqual(ids.slice(1).sort());
  });

  it('v1: an index with compressed entries is UNSUPPORTED_VERSION', async () => {
    const { backend, masterKey } = await newRepo(1);
    const p = await savePack(backend, masterKey, [{ type: 'data', data: utf8('zzzz'), compressed: true }]);
    await saveUnpacked(backend, masterKey, 'index', Buffer.from(encodeIndexFile([{ id: p.id, blobs: p.entries }])).toString(), 1);
    const repo = await Repository.open({ backend, password: 'pw' });
    await expectCode(repo.loadIndex(), 'UNSUPPORTED_VERSION');
  });
});

import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backend/s3.js';
import { openBackend } from '../../src/backend/open.js';
import { RetryBackend } from '../../src/backend/retry.js';
import { createTestBucket, deleteTestBucket, openTestS3Backend, s3Server, testS3Client } from '../support/s3.js';
import { collect, contentId, describeBackendContract, expectError } from '../unit/backend-contract.js';

function backendFor(bucket: string, prefix: string, extra: Partial<ConstructorParameters<typeof S3Backend>[0]> = {}): S3Backend {
  const server = s3Server();
  return new S3Backend({
    endpoint: server.endpoint,
    bucket,
    prefix,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...extra,
  });
}

function uniqueBucketName(stem: string): string {
  return `${stem}-${randomBytes(6).toString('hex')}`;
}

// create() makes the (new) bucket, so the contract suite also covers bucket creation.
describeBackendContract('S3Backend with a prefix', async () => {
  const bucket = uniqueBucketName('contract-prefix');
  return { backend: backendFor(bucket, 'restic/repo'), cleanup: () => deleteTestBucket(bucket) };
});

describeBackendContract('S3Backend at the bucket root', async () => {
  const bucket = uniqueBucketName('contract-root');
  return { backend: backendFor(bucket, ''), cleanup: () => deleteTestBucket(bucket) };
});

describeBackendContract('S3 through openBackend (retry + limit)', async () => {
  const server = s3Server();
  const bucket = uniqueBucketName('contract-open');
  const env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
  return { backend: await openBackend(`s3:${server.endpoint}/${bucket}/p`, { env }), cleanup: () => deleteTestBucket(bucket) };
});

describe('S3Backend against radosgw', () => {
  let client: S3Client;
  let bucket: string;
  beforeAll(async () => {
    client = testS3Client();
    bucket = await createTestBucket({ stem: 'layout' });
  });
  afterAll(async () => {
    await deleteTestBucket(bucket, client);
    client.destroy();
  });

  const rawKeys = async (prefix: string) => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => o.Key!).sort();
  };

  it('stores objects under restic\'s keys, with Content-Type and no leading slash', async () => {
    const be = backendFor(bucket, 'a/b/');
    expect(be.prefix).toBe('a/b');
    const cleaned = backendFor(bucket, 'a/b');
    const data = randomBytes(33);
    const id = contentId(data);
    await cleaned.write('pack', id, data);
    await cleaned.write('config', 'config', data);
    await cleaned.write('key', id, data);
    expect(await rawKeys('a/')).toEqual([`a/b/config`, `a/b/data/${id.slice(0, 2)}/${id}`, `a/b/keys/${id}`]);
    const root = backendFor(bucket, '');
    await root.write('index', id, data);
    expect(await rawKeys('index/')).toEqual([`index/${id}`]);
    await cleaned.close();
    await root.close();
    await be.close();
  });

  it('skips foreign keys: non-IDs, nested keys, packs in the wrong data/XX or flat under data/', async () => {
    const be = backendFor(bucket, 'foreign');
    const id = contentId(randomBytes(5));
    const other = contentId(randomBytes(6));
    const wrongDir = other.slice(0, 2) === 'ff' ? '00' : 'ff';
    for (const key of [
      'foreign/index/README',
      `foreign/index/sub/${id}`,
      `foreign/index/${id}-tmp`,
      `foreign/data/${id}`,
      `foreign/data/${wrongDir}/${other}`,
      `foreign/key/${id}`,
      `foreign/snapshots/`,
    ]) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    }
    const good = Buffer.from('good');
    await be.write('index', id, good);
    expect(await collect(be.list('index'))).toEqual([{ name: id, size: 4 }]);
    expect(await collect(be.list('pack'))).toEqual([]);
    expect(await collect(be.list('key'))).toEqual([]);
    expect(await collect(be.list('snapshot'))).toEqual([]);
    await be.close();
  });

  it('paginates listings (small pages, and more than 1000 objects with the server default)', async () => {
    const be = backendFor(bucket, 'many', { listPageSize: 7 });
    const names: string[] = [];
    for (let i = 0; i < 23; i++) {
      const data = randomBytes(8 + i);
      names.push(contentId(data));
      await be.write('snapshot', contentId(data), data);
    }
    const listed = await collect(be.list('snapshot'));
    expect(listed.map((f) => f.name)).toEqual([...names].sort());

    // 1001 packs spread over data/XX, written with the raw client in parallel (fast).
    const ids = Array.from({ length: 1001 }, (_, i) => contentId(Buffer.from(`pack ${i}`)));
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((id) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `many/data/${id.slice(0, 2)}/${id}`, Body: id }))));
    }
    const big = backendFor(bucket, 'many');
    const packs = await collect(big.list('pack'));
    expect(packs).toHaveLength(1001);
    expect(packs.map((p) => p.name)).toEqual([...ids].sort());
    expect(packs.every((p) => p.size === 64)).toBe(true);
    await be.close();
    await big.close();
  });

  it('makes PUTs conditional (If-None-Match) on radosgw, so a concurrent writer cannot overwrite', async () => {
    // Skip the HEAD check by racing two writers many times: every round exactly one wins.
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'race/probe', Body: 'first' }));
    const second = client.send(new PutObjectCommand({ Bucket: bucket, Key: 'race/probe', Body: 'second', IfNoneMatch: '*' }));
    await expect(second).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    const be = backendFor(bucket, 'race', { conditionalWrites: 'always' });
    for (let round = 0; round < 5; round++) {
      const name = contentId(randomBytes(16));
      const results = await Promise.allSettled([be.write('lock', name, randomBytes(10)), be.write('lock', name, randomBytes(10))]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    }
    await be.close();
  });

  it('writes into an object-locked bucket (Content-MD5 satisfies its integrity check)', async () => {
    const be = await openTestS3Backend({ stem: 'locked', objectLock: { mode: 'GOVERNANCE', days: 1 }, prefix: 'repo' });
    const data = randomBytes(100);
    await be.write('pack', contentId(data), data);
    expect(Buffer.from(await be.read('pack', contentId(data))).equals(data)).toBe(true);
    await be.close();
  });
});

describe('S3 bad input', () => {
  it('wrong credentials → BACKEND_AUTH naming endpoint and bucket', async () => {
    const bucket = await createTestBucket({ stem: 'auth' });
    const be = backendFor(bucket, 'p', { credentials: { accessKeyId: 'wrongkey', secretAccessKey: 'wrongsecret' } });
    await expectError(collect(be.list('snapshot')), 'BACKEND_AUTH', new RegExp(`bucket "${bucket}" at ${s3Server().endpoint}`));
    await expectError(be.read('config', 'config'), 'BACKEND_AUTH', /InvalidAccessKeyId/);
    await expectError(be.stat('config', 'config'), 'BACKEND_AUTH');
    await expectError(be.write('key', contentId(Buffer.from('x')), Buffer.from('x')), 'BACKEND_AUTH');
    const server = s3Server();
    const badSecret = backendFor(bucket, 'p', { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong' } });
    await expectError(collect(badSecret.list('key')), 'BACKEND_AUTH', /SignatureDoesNotMatch/);
    await be.close();
    await badSecret.close();
    await deleteTestBucket(bucket);
  });

  it('missing bucket → BUCKET_NOT_FOUND for list, stat, read and write', async () => {
    const bucket = uniqueBucketName('missing');
    const be = await openBackend(`s3:${s3Server().endpoint}/${bucket}/prefix`, {
      env: { AWS_ACCESS_KEY_ID: s3Server().accessKeyId, AWS_SECRET_ACCESS_KEY: s3Server().secretAccessKey },
    });
    const message = new RegExp(`bucket "${bucket}" does not exist at ${s3Server().endpoint}`);
    await expectError(collect(be.list('snapshot')), 'BUCKET_NOT_FOUND', message);
    await expectError(collect(be.list('config')), 'BUCKET_NOT_FOUND', message);
    await expectError(be.stat('config', 'config'), 'BUCKET_NOT_FOUND', message);
    await expectError(be.read('config', 'config'), 'BUCKET_NOT_FOUND', message);
    await expectError(be.read('pack', contentId(Buffer.from('p')), { offset: 0, length: 10 }), 'BUCKET_NOT_FOUND', message);
    await expectError(be.write('key', contentId(Buffer.from('x')), Buffer.from('x')), 'BUCKET_NOT_FOUND', message);
    await be.close();
  });

  it('closed port on 127.0.0.1 → BACKEND_UNREACHABLE at once, through the retry decorator', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    let retries = 0;
    const be = await openBackend(`s3:http://127.0.0.1:${port}/bucket/prefix`, {
      env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' },
      retry: { onRetry: () => retries++ },
    });
    expect(be).toBeInstanceOf(RetryBackend);
    await expectError(be.stat('config', 'config'), 'BACKEND_UNREACHABLE', new RegExp(`cannot reach S3 server http://127.0.0.1:${port}.*ECONNREFUSED`));
    await expectError(collect(be.list('snapshot')), 'BACKEND_UNREACHABLE');
    expect(retries).toBe(0);
    await be.close();
  }, 15_000);

  it('a server that accepts but never answers → BACKEND_UNREACHABLE after the idle timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    const port = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)));
    try {
      const be = new S3Backend({ endpoint: `127.0.0.1:${port}`, useHttp: true, bucket: 'b', env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }, idleTimeoutMs: 500 });
      await expectError(be.stat('config', 'config'), 'BACKEND_UNREACHABLE', /did not answer in time/);
      await be.close();
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 15_000);
});

/**
 * A fault-injecting HTTP proxy in front of radosgw: the first requests fail the way a busy
 * or flaky S3 service fails (503 SlowDown, a connection reset), the rest pass through
 * untouched (the Host header is kept, so signatures stay valid).
 */
async function faultyProxy(target: string, faults: ('slowdown' | 'reset' | 'internal')[]) {
  const upstream = new URL(target);
  let requests = 0;
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const fault = faults.shift();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault) {
      const [status, code] = fault === 'slowdown' ? [503, 'SlowDown'] : [500, 'InternalError'];
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
      return;
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return { endpoint: `http://127.0.0.1:${port}`, requests: () => requests, close: () => new Promise((r) => server.close(r)) };
}

describe('S3 transient failures are retried through openBackend', () => {
  it('503 SlowDown, 500 InternalError and a reset connection are retried, then the operation succeeds', async () => {
    const server = s3Server();
    const bucket = await createTestBucket({ stem: 'retry' });
    const proxy = await faultyProxy(server.endpoint, ['slowdown', 'reset', 'internal']);
    const events: string[] = [];
    try {
      const be = await openBackend(`s3:${proxy.endpoint}/${bucket}/p`, {
        env: { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey },
        retry: { baseDelayMs: 10, onRetry: (e) => events.push(`${e.operation}#${e.attempt}: ${(e.error as Error).message.slice(0, 60)}`) },
      });
      const data = randomBytes(1000);
      await be.write('snapshot', contentId(data), data);
      expect(events).toHaveLength(3);
      expect(events[0]).toMatch(/^write#1: S3 server error/);
      expect(events[1]).toMatch(/^write#2: S3 server .*dropped the connection|^write#2: S3 server .*did not answer/);
      expect(Buffer.from(await be.read('snapshot', contentId(data))).equals(data)).toBe(true);
      await be.close();
    } finally {
      await proxy.close();
      await deleteTestBucket(bucket);
    }
  });

  it('a server that keeps failing gives up after the bounded attempts with the last error', async () => {
    const server = s3Server();
    const proxy = await faultyProxy(server.endpoint, Array(10).fill('slowdown'));
    try {
      const be = await openBackend(`s3:${proxy.endpoint}/whatever/p`, {
        env: { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey },
        retry: { maxAttempts: 3, baseDelayMs: 10 },
      });
      // GET, not HEAD: a HEAD answer has no body, so no error code to show.
      await expectError(be.read('config', 'config'), 'FATAL', /S3 server error to read "p\/config".*SlowDown \(HTTP 503\)/);
      expect(proxy.requests()).toBe(3);
      await be.close();
    } finally {
      await proxy.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backend/s3.js';
import { parseLocation } from '../../src/backend/location.js';
import { openBackend, innermostBackend } from '../../src/backend/open.js';
import { expectError } from './backend-contract.js';

const id = 'ab'.padEnd(64, '0');
const env = { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' };

function backend(prefix: string, extra: Partial<ConstructorParameters<typeof S3Backend>[0]> = {}): S3Backend {
  return new S3Backend({ endpoint: '127.0.0.1:1', useHttp: true, bucket: 'b', prefix, env, ...extra });
}

describe('S3Backend key mapping (restic default layout)', () => {
  it('maps files to keys with and without prefix', () => {
    const root = backend('');
    expect(root.objectKey('config', 'config')).toBe('config');
    expect(root.objectKey('pack', id)).toBe(`data/ab/${id}`);
    expect(root.objectKey('snapshot', id)).toBe(`snapshots/${id}`);
    expect(root.objectKey('key', id)).toBe(`keys/${id}`);
    expect(root.objectKey('index', id)).toBe(`index/${id}`);
    expect(root.objectKey('lock', id)).toBe(`locks/${id}`);
    const pre = backend('some/prefix');
    expect(pre.objectKey('config', 'config')).toBe('some/prefix/config');
    expect(pre.objectKey('pack', id)).toBe(`some/prefix/data/ab/${id}`);
    expect(pre.typePrefix('pack')).toBe('some/prefix/data/');
    expect(root.typePrefix('lock')).toBe('locks/');
  });

  it('cleans the prefix, and rejects an endpoint that is not host[:port]', () => {
    expect(backend('a//b/').prefix).toBe('a/b');
    expect(backend('./').prefix).toBe('');
    expect(backend('a/b/').keyToFile('a/b/config')).toEqual({ type: 'config', name: 'config' });
    expect(() => backend('', { endpoint: 'host:port:bad' })).toThrow(/invalid S3 endpoint "host:port:bad"/);
  });

  it('maps keys back to files and rejects everything else', () => {
    const pre = backend('p');
    expect(pre.keyToFile('p/config')).toEqual({ type: 'config', name: 'config' });
    expect(pre.keyToFile(`p/data/ab/${id}`)).toEqual({ type: 'pack', name: id });
    expect(pre.keyToFile(`p/locks/${id}`)).toEqual({ type: 'lock', name: id });
    expect(pre.keyToFile(`p/keys/${id}`)).toEqual({ type: 'key', name: id });
    for (const bad of ['config', `data/ab/${id}`, `p/data/cd/${id}`, `p/data/${id}`, `p/index/x`, `p/key/${id}`, `p/index/sub/${id}`, 'p2/config', `p/snapshots/${id}/`]) {
      expect(pre.keyToFile(bad), bad).toBeUndefined();
    }
    expect(backend('').keyToFile(`index/${id}`)).toEqual({ type: 'index', name: id });
  });

  it('takes the region from options, env, or an AWS host name', () => {
    expect(backend('').region).toBe('us-east-1');
    expect(backend('', { region: 'eu-west-3' }).region).toBe('eu-west-3');
    expect(backend('', { env: { ...env, AWS_DEFAULT_REGION: 'ap-south-1' } }).region).toBe('ap-south-1');
    expect(new S3Backend({ endpoint: 's3.eu-central-1.amazonaws.com', bucket: 'b', env }).region).toBe('eu-central-1');
  });

  it('uses path style except for AWS hosts (bucket-lookup auto), honouring dns/path', async () => {
    const style = async (b: S3Backend) => (await b.client.config.forcePathStyle) as boolean | undefined;
    expect(await style(backend(''))).toBe(true);
    expect(await style(new S3Backend({ endpoint: 's3.amazonaws.com', bucket: 'b', env }))).toBe(false);
    expect(await style(new S3Backend({ endpoint: 's3.amazonaws.com', bucket: 'with.dots', env }))).toBe(true);
    expect(await style(new S3Backend({ endpoint: 's3.amazonaws.com', bucket: 'b', env, bucketLookup: 'path' }))).toBe(true);
    expect(await style(backend('', { bucketLookup: 'dns' }))).toBe(false);
  });

  it('names half-set credentials as the problem', async () => {
    await expectError(
      openBackend('s3:http://127.0.0.1:1/b', { env: { AWS_ACCESS_KEY_ID: 'k' } }),
      'BACKEND_AUTH',
      /AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is empty/,
    );
  });

  it('openBackend stacks retry over limit over the S3 backend', async () => {
    const b = await openBackend(parseLocation('s3:http://127.0.0.1:1/bucket/pre/fix'), { env });
    const inner = innermostBackend(b);
    expect(inner).toBeInstanceOf(S3Backend);
    expect((inner as S3Backend).prefix).toBe('pre/fix');
    expect((inner as S3Backend).bucket).toBe('bucket');
    expect((inner as S3Backend).endpointUrl).toBe('http://127.0.0.1:1');
    await b.close();
  });
});

describe('parseExtendedOptions (-o key=value)', () => {
  it('maps restic options', async () => {
    const { parseExtendedOptions } = await import('../../src/backend/open.js');
    expect(
      parseExtendedOptions(['s3.region=eu-west-1', 's3.bucket-lookup=dns', 's3.connections=8', 's3.storage-class=STANDARD_IA', 's3.retries=2', 's3.connect-timeout=1.5']),
    ).toEqual({
      connections: 8,
      retry: { maxAttempts: 3 },
      s3: { region: 'eu-west-1', bucketLookup: 'dns', storageClass: 'STANDARD_IA', connectTimeoutMs: 1500 },
    });
    expect(parseExtendedOptions(['local.connections=1']).connections).toBe(1);
  });

  it('rejects unknown options and bad values with USAGE', async () => {
    const { parseExtendedOptions } = await import('../../src/backend/open.js');
    for (const [pair, msg] of [
      ['s3.bucket-lookup=virtual', /want auto, dns or path/],
      ['s3.connections=0', /positive whole number/],
      ['sftp.command=ssh', /unknown option "sftp.command"/],
      ['s3.region=', /want a region name/],
    ] as const) {
      let caught: unknown;
      try {
        parseExtendedOptions([pair]);
      } catch (err) {
        caught = err;
      }
      expect((caught as { code?: string }).code).toBe('USAGE');
      expect((caught as Error).message).toMatch(msg);
      expect((caught as Error).message).toContain(pair);
    }
  });
});

describe('S3Backend without credentials', () => {
  it('says how to provide them (BACKEND_AUTH)', async () => {
    const be = new S3Backend({
      endpoint: '127.0.0.1:1',
      useHttp: true,
      bucket: 'b',
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      },
    });
    await expectError(be.stat('config', 'config'), 'BACKEND_AUTH', /no S3 credentials found for s3:http:\/\/127\.0\.0\.1:1\/b: set AWS_ACCESS_KEY_ID/);
    await be.close();
  });
});

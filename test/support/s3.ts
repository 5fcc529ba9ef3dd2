/**
 * Helpers for tests that use the real S3 test server started by global-setup.ts.
 * A test that needs S3 fails (never skips) when the server is not there.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  DeleteBucketCommand,
  S3Client,
  type ObjectLockRetentionMode,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { inject } from 'vitest';
import type { S3ServerInfo } from './global-setup.js';
import { S3Backend, type S3BackendOptions } from '../../src/backend/s3.js';

export type { S3ServerInfo };

/** The running S3 test server; throws (so the test fails) when this run has none. */
export function s3Server(): S3ServerInfo {
  const info = inject('s3Server');
  if (!info) {
    throw new Error(
      'the S3 test server was not started for this run: global-setup.ts starts it unless only test/unit/ files are selected; ' +
        'run the integration tests through `npx vitest run` (Ceph packages required: see .ci/run)',
    );
  }
  return info;
}

/** An S3Client for the test server with the settings radosgw needs. */
export function testS3Client(server: S3ServerInfo = s3Server(), credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: credentials ?? { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface TestBucketOptions {
  /** Turn versioning on. */
  versioning?: boolean;
  /** Create with object lock (implies versioning); optionally a default retention. */
  objectLock?: boolean | { mode: ObjectLockRetentionMode; days: number };
  /** Name stem (a random suffix is added). */
  stem?: string;
}

/** Creates a uniquely named bucket and returns its name. */
export async function createTestBucket(options: TestBucketOptions = {}, client: S3Client = testS3Client()): Promise<string> {
  const bucket = `${(options.stem ?? 'rts').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40)}-${randomBytes(6).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: options.objectLock ? true : undefined }));
  if (options.versioning && !options.objectLock) {
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  if (typeof options.objectLock === 'object') {
    const { mode, days } = options.objectLock;
    const body = { ObjectLockEnabled: 'Enabled' as const, Rule: { DefaultRetention: { Mode: mode, Days: days } } };
    // radosgw wants Content-MD5 on object-lock configuration PUTs; the SDK adds it only
    // when asked for checksums, so it is computed by hand in a middleware.
    const command = new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: body });
    command.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body?: unknown; headers: Record<string, string> };
        if (typeof request.body === 'string') request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
        return next(args);
      },
      { step: 'build', name: 'contentMd5ForObjectLock' },
    );
    await client.send(command);
  }
  return bucket;
}

/** Deletes every object version and the bucket (best effort; locked versions stay). */
export async function deleteTestBucket(bucket: string, client: S3Client = testS3Client()): Promise<void> {
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
    if (objects.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}

/** The repository string the real restic uses for `bucket/prefix` on the test server. */
export function resticS3Repository(bucket: string, prefix = '', server: S3ServerInfo = s3Server()): string {
  return `s3:${server.endpoint}/${bucket}${prefix === '' ? '' : '/' + prefix}`;
}

/** Environment for running the real restic (or our CLI) against the test server. */
export function resticS3Env(server: S3ServerInfo = s3Server()): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_DEFAULT_REGION: server.region,
  };
}

/**
 * An S3Backend on the test server: a new bucket (unless one is given) and the prefix.
 * Close it with `backend.close()`; remove the bucket with `deleteTestBucket(backend.bucket)`.
 */
export async function openTestS3Backend(
  options: { bucket?: string; prefix?: string } & TestBucketOptions & Partial<S3BackendOptions> = {},
): Promise<S3Backend> {
  const server = s3Server();
  const { bucket: given, prefix, versioning, objectLock, stem, ...rest } = options;
  const bucket = given ?? (await createTestBucket({ versioning, objectLock, stem }));
  return new S3Backend({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...rest,
    bucket,
    prefix: prefix ?? '',
  });
}

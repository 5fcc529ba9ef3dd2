/**
 * `openBackend(location, options)`: restic's repository string → a ready backend, stacked
 * as retry(limit(local | s3)). Retry sits outside the limit so a request waiting out its
 * back-off does not hold one of the connection slots.
 */
import type { Backend } from './backend.js';
import { LimitBackend, type LimitOptions } from './limit.js';
import { LocalBackend } from './local.js';
import { parseLocation, type Location } from './location.js';
import { RetryBackend, type RetryOptions } from './retry.js';
import { S3Backend, type BucketLookup, type S3Credentials } from './s3.js';

export interface S3Options {
  region?: string;
  bucketLookup?: BucketLookup;
  credentials?: S3Credentials;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  conditionalWrites?: 'auto' | 'always' | 'never';
  storageClass?: string;
  /** Test-only: ListObjectsV2 page size. */
  listPageSize?: number;
}

export interface BackendOptions {
  /** Environment for AWS_* variables (default process.env). */
  env?: Record<string, string | undefined>;
  s3?: S3Options;
  /** Concurrent operations; default as restic: 5 for S3 (`s3.connections`), 2 for local (`local.connections`). */
  connections?: number | LimitOptions;
  /** Retry policy, or false for none. */
  retry?: RetryOptions | false;
}

export async function openBackend(location: string | Location, options: BackendOptions = {}): Promise<Backend> {
  const parsed = typeof location === 'string' ? parseLocation(location) : location;
  const display = typeof location === 'string' ? location : undefined;
  let backend: Backend;
  let defaultConnections: number;
  if (parsed.scheme === 'local') {
    backend = new LocalBackend(parsed.path, display ?? parsed.path);
    defaultConnections = 2;
  } else {
    const s3 = options.s3 ?? {};
    backend = new S3Backend({
      endpoint: parsed.endpoint,
      useHttp: parsed.useHttp,
      bucket: parsed.bucket,
      prefix: parsed.prefix,
      location: display,
      env: options.env,
      ...s3,
    });
    defaultConnections = 5;
  }
  const limits = typeof options.connections === 'number' ? { reads: options.connections } : (options.connections ?? { reads: defaultConnections });
  backend = new LimitBackend(backend, limits);
  if (options.retry !== false) backend = new RetryBackend(backend, options.retry ?? {});
  return backend;
}

/** The backend under all decorators (e.g. the S3Backend, for the versioned-S3 features). */
export function innermostBackend(backend: Backend): Backend {
  let b = backend as Backend & { inner?: Backend };
  while (b.inner !== undefined) b = b.inner as Backend & { inner?: Backend };
  return b;
}

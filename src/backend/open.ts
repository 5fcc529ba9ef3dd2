/**
 * `openBackend(location, options)`: restic's repository string → a ready backend, stacked
 * as retry(limit(local | s3)). Retry sits outside the limit so a request waiting out its
 * back-off does not hold one of the connection slots.
 */
import { ResticError } from '../errors.js';
import type { Backend } from './backend.js';
import { LimitBackend, type LimitOptions } from './limit.js';
import { LocalBackend } from './local.js';
import { parseLocation, type Location } from './location.js';
import { RetryBackend, type RetryOptions } from './retry.js';
import type { BucketLookup, ObjectRetention, S3Credentials } from './s3.js';

export interface S3Options {
  region?: string;
  bucketLookup?: BucketLookup;
  credentials?: S3Credentials;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  conditionalWrites?: 'auto' | 'always' | 'never';
  storageClass?: string;
  /** Object-lock retention on every object written (`-o s3.retention=DAYS`, `--retention`). */
  retention?: ObjectRetention;
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
    if (options.s3?.retention !== undefined) {
      throw new ResticError('USAGE', `--retention (s3.retention) needs an S3 repository with object lock; ${display ?? parsed.path} is a local directory`);
    }
    backend = new LocalBackend(parsed.path, display ?? parsed.path);
    defaultConnections = 2;
  } else {
    const s3 = options.s3 ?? {};
    // Loaded only for S3 locations: the AWS SDK alone costs ~0.25 s of CPU to import, which a
    // local repository (and every CLI start) should not pay.
    const { S3Backend } = await import('./s3.js');
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

/**
 * restic's extended options (`-o key=value`, repeatable) as BackendOptions. Supported:
 * `s3.connections`, `s3.region`, `s3.bucket-lookup=auto|dns|path`, `s3.storage-class`,
 * `s3.retries` (retries after the first attempt), `local.connections`, and ours:
 * `s3.conditional-writes=auto|always|never`, `s3.connect-timeout` / `s3.idle-timeout`
 * (seconds), `s3.retention=DAYS` and `s3.retention-mode=GOVERNANCE|COMPLIANCE` (object lock
 * on every object written; the CLI's `--retention` / `--retention-mode` set the same). Anything else is a USAGE error naming the option.
 */
export function parseExtendedOptions(pairs: readonly string[], base: BackendOptions = {}): BackendOptions {
  const out: BackendOptions = { ...base, s3: { ...base.s3 } };
  const s3 = out.s3!;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    const bad = (why: string) => new ResticError('USAGE', `invalid option -o ${pair}: ${why}`);
    const positiveInt = () => {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw bad('want a positive whole number');
      return Number(value);
    };
    const seconds = () => {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n) || n <= 0) throw bad('want a number of seconds');
      return Math.round(n * 1000);
    };
    switch (key) {
      case 's3.connections':
      case 'local.connections':
        out.connections = positiveInt();
        break;
      case 's3.region':
        if (value === '') throw bad('want a region name');
        s3.region = value;
        break;
      case 's3.bucket-lookup':
        if (value !== 'auto' && value !== 'dns' && value !== 'path') throw bad('want auto, dns or path');
        s3.bucketLookup = value;
        break;
      case 's3.storage-class':
        s3.storageClass = value === '' ? undefined : value;
        break;
      case 's3.retries': {
        if (!/^\d+$/.test(value)) throw bad('want a whole number');
        out.retry = { ...(out.retry || {}), maxAttempts: Number(value) + 1 };
        break;
      }
      case 's3.conditional-writes':
        if (value !== 'auto' && value !== 'always' && value !== 'never') throw bad('want auto, always or never');
        s3.conditionalWrites = value;
        break;
      case 's3.connect-timeout':
        s3.connectTimeoutMs = seconds();
        break;
      case 's3.idle-timeout':
        s3.idleTimeoutMs = seconds();
        break;
      case 's3.retention': {
        const m = /^(\d+)d?$/i.exec(value);
        if (!m || Number(m[1]) < 1 || Number(m[1]) > 36500) throw bad('want a number of days from 1 to 36500');
        s3.retention = { mode: s3.retention?.mode ?? 'GOVERNANCE', days: Number(m[1]) };
        break;
      }
      case 's3.retention-mode': {
        const mode = value.toUpperCase();
        if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') throw bad('want GOVERNANCE or COMPLIANCE');
        s3.retention = { days: s3.retention?.days ?? 0, mode };
        break;
      }
      default:
        throw bad(`unknown option "${key}" (restic-ts knows s3.connections, s3.region, s3.bucket-lookup, s3.storage-class, s3.retries, s3.conditional-writes, s3.connect-timeout, s3.idle-timeout, s3.retention, s3.retention-mode, local.connections)`);
    }
  }
  if (s3.retention !== undefined && s3.retention.days === 0) {
    throw new ResticError('USAGE', 'invalid option -o s3.retention-mode: it needs a retention in days too (--retention DAYS or -o s3.retention=DAYS)');
  }
  return out;
}

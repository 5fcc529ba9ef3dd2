/**
 * A repository in an S3 bucket (AWS or any S3-compatible server), with restic's object keys
 * (restic: internal/backend/s3/s3.go, layout_default.go):
 *
 *   <prefix>/config, <prefix>/data/<2 hex>/<id>, <prefix>/{keys,index,snapshots,locks}/<id>
 *
 * (no leading slash when the prefix is empty). Files are written with one PutObject
 * carrying Content-MD5 (object-lock buckets demand an integrity header; it also lets the
 * server reject a damaged upload). Write-once is enforced twice: a HEAD first gives a clear
 * ALREADY_EXISTS, and `If-None-Match: *` makes the PUT itself conditional on servers that
 * support it, so two concurrent writers cannot replace each other's object.
 *
 * `client`, `bucket`, `prefix`, `objectKey()` and `keyToFile()` are public so the
 * versioned-S3 features (point-in-time view, rollback, audit) reuse this connection and
 * key mapping instead of re-deriving them.
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
  type S3ClientConfig,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { ResticError } from '../errors.js';
import { isId } from '../format/id.js';
import { relativePath, TYPE_DIRS, type Backend, type ByteRange, type FileInfo, type FileType } from './backend.js';
import { alreadyExists, checkRange, fileNotFound, TransientBackendError, truncated } from './errors.js';
import { goPathClean, goPathJoin } from '../format/go-path.js';

export type BucketLookup = 'auto' | 'dns' | 'path';

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What S3Client accepts as credentials: static keys or a provider function. */
export type S3Credentials = NonNullable<S3ClientConfig['credentials']>;

export interface S3BackendOptions {
  /** `host` or `host:port` (restic's endpoint), or a full `http(s)://host[:port]` URL. */
  endpoint: string;
  /** Plain HTTP instead of HTTPS (restic's `s3:http://…`). Ignored when `endpoint` is a URL. */
  useHttp?: boolean;
  bucket: string;
  /** Key prefix, already cleaned (see location.ts); `''` = bucket root. */
  prefix?: string;
  /** Shown in messages; defaults to `s3:<endpoint URL>/<bucket>/<prefix>`. */
  location?: string;
  /** Signing region. Default: AWS_DEFAULT_REGION, AWS_REGION, the region in an AWS host name, else us-east-1. */
  region?: string;
  /**
   * restic's `-o s3.bucket-lookup`: `path` (https://host/bucket/key), `dns` (virtual host,
   * https://bucket.host/key), or `auto` (default): virtual host on AWS, where path style is
   * deprecated, and path style everywhere else, which every S3-compatible server supports
   * and which needs no wildcard DNS.
   */
  bucketLookup?: BucketLookup;
  /** Static credentials or a provider; default: AWS_ACCESS_KEY_ID/… from `env`, else the SDK's chain (profile, SSO, IMDS…). */
  credentials?: S3Credentials;
  /** Environment to read AWS_* variables from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Give up connecting after this long (default 5 000 ms), so an unreachable server fails fast. */
  connectTimeoutMs?: number;
  /** Give up on a connection idle for this long mid-request (default 60 000 ms). */
  idleTimeoutMs?: number;
  /** `If-None-Match: *` on PUT: `auto` (default: use it, stop if the server rejects it), `always`, `never`. */
  conditionalWrites?: 'auto' | 'always' | 'never';
  /** Storage class for every object written (restic's `-o s3.storage-class`). */
  storageClass?: string;
  /** ListObjectsV2 page size (default: the server's, 1000). Smaller only for tests. */
  listPageSize?: number;
  /** Use this client instead of making one (it is then not destroyed by close()). */
  client?: S3Client;
  /**
   * Object lock (`--retention DAYS`): every file written except lock files gets this
   * retention (PutObject with ObjectLockMode + ObjectLockRetainUntilDate = now + days).
   * Lock files are left out: they are not needed for recovery, and a locked version of
   * every lock refresh would only cost storage. The bucket must have object lock; that is
   * checked before the first write (UNSUPPORTED otherwise).
   */
  retention?: ObjectRetention;
}

export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface ObjectRetention {
  days: number;
  mode: RetentionMode;
}

/** S3 error names that mean "these credentials may not do this". */
const AUTH_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidSecurity',
  'CredentialsProviderError',
]);

/** S3 error names for overload or a passing server-side failure. */
const TRANSIENT_ERRORS = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/** Connection errors that mean nobody answers at that address: final, not retried. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_NONAME', 'EHOSTDOWN']);
/** Connection errors that may pass: retried. */
const FLAKY_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);

/**
 * The SDK prints a NodeVersionSupportWarning on stderr when the first client is made on Node
 * < 22, which would land in the middle of restic-style CLI output. It is about the SDK's own
 * future releases, not about anything this backend does, so it is silenced unless the user set
 * the SDK's switch (`AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED`) themselves.
 */
function suppressNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export class S3Backend implements Backend {
  readonly location: string;
  readonly client: S3Client;
  readonly bucket: string;
  /** Cleaned key prefix; `''` for the bucket root. */
  readonly prefix: string;
  /** `http(s)://host[:port]`, for messages. */
  readonly endpointUrl: string;
  readonly region: string;
  private readonly ownsClient: boolean;
  private readonly storageClass: StorageClass | undefined;
  private readonly listPageSize: number | undefined;
  private conditionalWrites: boolean;
  private readonly conditionalMode: 'auto' | 'always' | 'never';
  private bucketKnownToExist = false;
  readonly retention: ObjectRetention | undefined;
  private retentionChecked: Promise<void> | undefined;

  constructor(options: S3BackendOptions) {
    const env = options.env ?? process.env;
    this.bucket = options.bucket;
    // Cleaned like restic's location parser does, so objectKey() and keyToFile() agree.
    const prefix = options.prefix ? goPathClean(options.prefix) : '';
    this.prefix = prefix === '.' ? '' : prefix;
    this.endpointUrl = /^https?:\/\//i.test(options.endpoint)
      ? options.endpoint.replace(/\/+$/, '')
      : `${options.useHttp ? 'http' : 'https'}://${options.endpoint}`;
    let host: string;
    try {
      host = new URL(this.endpointUrl).hostname;
    } catch (err) {
      throw new ResticError('INVALID_LOCATION', `invalid S3 endpoint ${JSON.stringify(options.endpoint)}: not a host[:port]`, { cause: err });
    }
    this.region = options.region || env.AWS_DEFAULT_REGION || env.AWS_REGION || awsRegionFromHost(host) || 'us-east-1';
    this.location = options.location ?? `s3:${this.endpointUrl}/${this.bucket}${this.prefix === '' ? '' : '/' + this.prefix}`;
    this.storageClass = options.storageClass as StorageClass | undefined;
    this.listPageSize = options.listPageSize;
    this.conditionalMode = options.conditionalWrites ?? 'auto';
    if (options.retention !== undefined) {
      const { days, mode } = options.retention;
      if (!Number.isInteger(days) || days < 1 || days > 36500) throw new ResticError('USAGE', `invalid retention ${days} days: want a whole number of days from 1 to 36500`);
      if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') throw new ResticError('USAGE', `invalid retention mode ${JSON.stringify(mode)}: want GOVERNANCE or COMPLIANCE`);
    }
    this.retention = options.retention;
    this.conditionalWrites = this.conditionalMode !== 'never';
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      const lookup = options.bucketLookup ?? 'auto';
      const virtualHost =
        lookup === 'dns' ||
        (lookup === 'auto' && isAwsHost(host) && !(this.bucket.includes('.') && this.endpointUrl.startsWith('https:')));
      const config: S3ClientConfig = {
        endpoint: this.endpointUrl,
        region: this.region,
        forcePathStyle: !virtualHost,
        // AWS redirects a request signed for the wrong region; follow it instead of failing.
        followRegionRedirects: true,
        // The SDK's default (flexible checksums on every request, aws-chunked uploads) is
        // not understood by many S3-compatible servers (radosgw 16 answers 411).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        // Retries are the RetryBackend's job (one policy for every backend, visible to the caller).
        maxAttempts: 1,
        requestHandler: {
          connectionTimeout: options.connectTimeoutMs ?? 5_000,
          socketTimeout: options.idleTimeoutMs ?? 60_000,
        },
      };
      const credentials = options.credentials ?? credentialsFromEnv(env, this.location);
      if (credentials) config.credentials = credentials;
      else if (env.AWS_PROFILE) config.profile = env.AWS_PROFILE;
      suppressNodeVersionWarning();
      this.client = new S3Client(config);
      this.ownsClient = true;
    }
  }

  /** The object key of a repository file: `path.Join(prefix, relativePath)`, as restic. */
  objectKey(type: FileType, name: string): string {
    return goPathJoin(this.prefix, relativePath(type, name));
  }

  /** The key prefix of one file type's directory, with a trailing slash. */
  typePrefix(type: Exclude<FileType, 'config'>): string {
    return goPathJoin(this.prefix, TYPE_DIRS[type]) + '/';
  }

  /**
   * The repository file an object key names, or undefined when the key is outside the
   * prefix or not a repository file (`data/ab/` must match the ID's first two characters).
   */
  keyToFile(key: string): { type: FileType; name: string } | undefined {
    let rel = key;
    if (this.prefix !== '') {
      if (!key.startsWith(this.prefix + '/')) return undefined;
      rel = key.slice(this.prefix.length + 1);
    }
    if (rel === 'config') return { type: 'config', name: 'config' };
    const parts = rel.split('/');
    if (parts.length === 3 && parts[0] === 'data' && isId(parts[2]) && parts[1] === parts[2].slice(0, 2)) {
      return { type: 'pack', name: parts[2] };
    }
    if (parts.length === 2 && isId(parts[1])) {
      for (const type of ['key', 'snapshot', 'index', 'lock'] as const) if (TYPE_DIRS[type] === parts[0]) return { type, name: parts[1] };
    }
    return undefined;
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    // Packs live one level down (data/XX/); the other types are flat, so a delimiter keeps
    // anything nested below them out, as restic's non-recursive listing does.
    const prefix = type === 'config' ? this.objectKey('config', 'config') : this.typePrefix(type);
    let token: string | undefined;
    do {
      const page = await this.call('list', prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            Delimiter: type === 'pack' || type === 'config' ? undefined : '/',
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
        ),
      );
      this.bucketKnownToExist = true;
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        const file = this.keyToFile(object.Key);
        if (file?.type === type) yield { name: file.name, size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(type: FileType, name: string): Promise<FileInfo> {
    const key = this.objectKey(type, name);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { name, size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) throw await this.notFound(type, name, err);
      throw this.mapError(err, 'stat', key, relativePath(type, name));
    }
  }

  async read(type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    const key = this.objectKey(type, name);
    const file = relativePath(type, name);
    if (range !== undefined) {
      checkRange(range);
      if (range.length === 0) {
        // An HTTP range cannot be empty; check the bounds with a HEAD instead.
        const { size } = await this.stat(type, name);
        if (range.offset > size) throw truncated(this.location, type, name, size, range.offset, 0);
        return new Uint8Array(0);
      }
    }
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined,
        }),
      );
      const body = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
      if (range && body.length !== range.length) {
        const size = totalSizeFromContentRange(res.ContentRange) ?? range.offset + body.length;
        throw truncated(this.location, type, name, size, range.offset, range.length);
      }
      if (!range && res.ContentLength !== undefined && body.length !== res.ContentLength) {
        throw new TransientBackendError('BACKEND_UNREACHABLE', `${file}: the download from ${this.location} ended after ${body.length} of ${res.ContentLength} bytes`, { file });
      }
      return body;
    } catch (err) {
      if (err instanceof ResticError) throw err;
      if (isNotFound(err)) throw await this.notFound(type, name, err);
      if (range && errorName(err) === 'InvalidRange') {
        const size = await this.stat(type, name).then((i) => i.size, () => -1);
        throw truncated(this.location, type, name, size, range.offset, range.length);
      }
      throw this.mapError(err, 'read', key, file);
    }
  }

  async write(type: FileType, name: string, data: Uint8Array): Promise<void> {
    const key = this.objectKey(type, name);
    const file = relativePath(type, name);
    const retain = this.retention !== undefined && type !== 'lock';
    if (this.retention !== undefined) await (this.retentionChecked ??= this.checkObjectLock());
    if (await this.exists(type, name)) throw alreadyExists(this.location, type, name);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const lockMode = retain ? this.retention!.mode : undefined;
    const put = (conditional: boolean) =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentMD5: createHash('md5').update(body).digest('base64'),
          ContentType: 'application/octet-stream',
          StorageClass: this.storageClass,
          IfNoneMatch: conditional ? '*' : undefined,
          // Computed per attempt, so a retried upload is not retained for less than asked.
          ObjectLockMode: lockMode,
          ObjectLockRetainUntilDate: lockMode ? new Date(Date.now() + this.retention!.days * 86_400_000) : undefined,
        }),
      );
    try {
      try {
        await put(this.conditionalWrites);
      } catch (err) {
        // A server that does not know conditional PUTs says so (501/400); go on without.
        if (this.conditionalWrites && this.conditionalMode === 'auto' && rejectsConditionalPut(err)) {
          this.conditionalWrites = false;
          await put(false);
        } else {
          throw err;
        }
      }
      this.bucketKnownToExist = true;
    } catch (err) {
      const status = httpStatus(err);
      if (status === 412 || errorName(err) === 'PreconditionFailed' || errorName(err) === 'ConditionalRequestConflict') {
        throw alreadyExists(this.location, type, name);
      }
      if (lockMode && errorName(err) === 'InvalidRequest') throw this.noObjectLock(err);
      throw this.mapError(err, 'write', key, file);
    }
  }

  async remove(type: FileType, name: string): Promise<void> {
    const key = this.objectKey(type, name);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return;
      throw this.mapError(err, 'remove', key, relativePath(type, name));
    }
  }

  /**
   * Before the first write with retention: the bucket must have object lock enabled, or
   * every PUT would fail (after the lock file was written). Credentials that may not read
   * the configuration go on; the PUT itself then fails with the same message.
   */
  private async checkObjectLock(): Promise<void> {
    try {
      const res = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
      if (res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled') return;
      throw this.noObjectLock(undefined);
    } catch (err) {
      if (err instanceof ResticError) throw err;
      const name = errorName(err);
      if (name === 'ObjectLockConfigurationNotFoundError' || name === 'ObjectLockConfigurationNotFound') throw this.noObjectLock(err);
      const mapped = this.mapError(err, 'read the object lock configuration of', this.bucket);
      if (mapped instanceof ResticError && mapped.code === 'BACKEND_AUTH') return;
      this.retentionChecked = undefined; // transient: ask again next time
      throw mapped;
    }
  }

  private noObjectLock(cause: unknown): ResticError {
    return new ResticError(
      'UNSUPPORTED',
      `bucket "${this.bucket}" at ${this.endpointUrl} has no object lock, so --retention cannot be applied (nothing was written). ` +
        'Object lock can only be enabled when a bucket is created (see docs/securing-backups-on-s3.md); drop --retention to write without it',
      { cause },
    );
  }

  /** Creates the bucket when it is missing; refuses when the prefix already holds a repository. */
  async create(): Promise<void> {
    let bucketExists = true;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isNotFound(err) && errorName(err) !== 'NoSuchBucket') throw this.mapError(err, 'check', this.bucket);
      bucketExists = false;
    }
    if (!bucketExists) {
      const onAws = isAwsHost(new URL(this.endpointUrl).hostname);
      try {
        await this.client.send(
          new CreateBucketCommand({
            Bucket: this.bucket,
            // --retention on a new bucket: object lock can only be switched on now.
            ObjectLockEnabledForBucket: this.retention !== undefined ? true : undefined,
            // AWS wants the region spelled out everywhere except us-east-1.
            CreateBucketConfiguration:
              onAws && this.region !== 'us-east-1' ? { LocationConstraint: this.region as BucketLocationConstraint } : undefined,
          }),
        );
      } catch (err) {
        if (errorName(err) !== 'BucketAlreadyOwnedByYou') throw this.mapError(err, 'create bucket', this.bucket);
      }
    }
    this.bucketKnownToExist = true;
    if (await this.exists('config', 'config')) {
      throw new ResticError('ALREADY_EXISTS', `repository ${this.location} already exists (it has a config object)`, { file: 'config' });
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private async exists(type: FileType, name: string): Promise<boolean> {
    try {
      await this.stat(type, name);
      return true;
    } catch (err) {
      // A missing bucket is reported by the write itself, with its own message.
      if (err instanceof ResticError && (err.code === 'FILE_NOT_FOUND' || err.code === 'BUCKET_NOT_FOUND')) return false;
      throw err;
    }
  }

  /**
   * A 404 on HEAD carries no error code, so it cannot tell a missing object from a missing
   * bucket; one HeadBucket (once per backend) tells them apart.
   */
  private async notFound(type: FileType, name: string, cause: unknown): Promise<ResticError> {
    if (errorName(cause) === 'NoSuchBucket') return this.bucketNotFound(cause);
    if (!this.bucketKnownToExist) {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
        this.bucketKnownToExist = true;
      } catch (err) {
        if (isNotFound(err) || errorName(err) === 'NoSuchBucket') return this.bucketNotFound(err);
        return this.mapError(err, 'check', this.bucket) as ResticError;
      }
    }
    return fileNotFound(this.location, type, name, cause);
  }

  private bucketNotFound(cause: unknown): ResticError {
    return new ResticError('BUCKET_NOT_FOUND', `bucket "${this.bucket}" does not exist at ${this.endpointUrl} (repository ${this.location})`, { cause });
  }

  private async call<T>(what: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.mapError(err, what, key);
    }
  }

  /**
   * Turns an SDK or network error into a ResticError that names endpoint, bucket and key
   * (TransientBackendError for what may pass). Public so views built on this backend's
   * client (versioned reads) report errors the same way.
   */
  mapError(err: unknown, op: string, key: string, file?: string): Error {
    if (err instanceof ResticError) return err;
    const name = errorName(err);
    const status = httpStatus(err);
    const code = systemCode(err);
    const label = code !== undefined && (name === undefined || name === 'Error') ? code : (name ?? 'error');
    const detail = `${label}${status ? ` (HTTP ${status})` : ''}: ${(err as Error)?.message ?? String(err)}`;
    const target = `${op} "${key}" in bucket "${this.bucket}" at ${this.endpointUrl}`;
    const options = { cause: err, file };
    if (name === 'NoSuchBucket') return this.bucketNotFound(err);
    if (name === 'CredentialsProviderError') {
      return new ResticError(
        'BACKEND_AUTH',
        `no S3 credentials found for ${this.location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE ` +
          `with a profile in ~/.aws (${(err as Error).message})`,
        options,
      );
    }
    if ((name !== undefined && AUTH_ERRORS.has(name)) || status === 403 || status === 401) {
      return new ResticError('BACKEND_AUTH', `S3 refused the credentials or permission to ${target}: ${detail}`, options);
    }
    // Never connected within connectTimeoutMs: nobody answers there; final like a refusal.
    const neverConnected = name === 'TimeoutError' && /establish a connection/i.test((err as Error)?.message ?? '');
    if ((code !== undefined && UNREACHABLE_CODES.has(code)) || neverConnected) {
      return new ResticError('BACKEND_UNREACHABLE', `cannot reach S3 server ${this.endpointUrl} to ${op} "${key}": ${detail}`, options);
    }
    if ((code !== undefined && FLAKY_CODES.has(code)) || name === 'TimeoutError' || name === 'AbortError') {
      return new TransientBackendError('BACKEND_UNREACHABLE', `S3 server ${this.endpointUrl} did not answer in time or dropped the connection to ${target}: ${detail}`, options);
    }
    if ((name !== undefined && TRANSIENT_ERRORS.has(name)) || (status !== undefined && (status >= 500 || status === 429))) {
      return new TransientBackendError('FATAL', `S3 server error to ${target}: ${detail}`, options);
    }
    return new ResticError('FATAL', `S3 failed to ${target}: ${detail}`, options);
  }
}

function errorName(err: unknown): string | undefined {
  const e = err as { name?: unknown; Code?: unknown } | null;
  if (typeof e?.Code === 'string') return e.Code;
  return typeof e?.name === 'string' ? e.name : undefined;
}

function httpStatus(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The errno-style code of a network error, also when wrapped (cause) or aggregated (happy eyeballs). */
function systemCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown; errors?: unknown[] } | null, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const inner = systemCode(e.errors[0]);
      if (inner) return inner;
    }
    e = e.cause as typeof e;
  }
  return undefined;
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NotFound' || name === 'NoSuchKey' || (httpStatus(err) === 404 && name !== 'NoSuchBucket');
}

function rejectsConditionalPut(err: unknown): boolean {
  const status = httpStatus(err);
  const name = errorName(err);
  return status === 501 || name === 'NotImplemented' || (status === 400 && /if-none-match|conditional/i.test((err as Error)?.message ?? ''));
}

function totalSizeFromContentRange(contentRange: string | undefined): number | undefined {
  const m = contentRange ? /\/(\d+)$/.exec(contentRange) : null;
  return m ? Number(m[1]) : undefined;
}

function isAwsHost(host: string): boolean {
  return /(^|\.)amazonaws\.com(\.cn)?$/i.test(host);
}

/** `s3.eu-central-1.amazonaws.com`, `s3-eu-west-1.amazonaws.com`, `s3.dualstack.us-west-2.amazonaws.com` → the region. */
function awsRegionFromHost(host: string): string | undefined {
  const m = /^s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(\.cn)?$/i.exec(host);
  return m?.[1];
}

/**
 * Static credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) in
 * `env`; undefined to let the SDK's default chain (profile, SSO, web identity, IMDS) decide.
 * Half a key pair is a mistake worth naming, as restic does.
 */
function credentialsFromEnv(env: Record<string, string | undefined>, location: string): StaticCredentials | undefined {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN || undefined };
  if (id && !secret) throw new ResticError('BACKEND_AUTH', `no S3 credentials for ${location}: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is empty`);
  if (!id && secret) throw new ResticError('BACKEND_AUTH', `no S3 credentials for ${location}: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is empty`);
  return undefined;
}

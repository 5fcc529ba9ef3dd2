/**
 * Parses restic repository strings (`-r` / `RESTIC_REPOSITORY`) the way restic does
 * (restic: internal/backend/location/location.go, internal/backend/s3/config.go):
 *
 * - `PATH`, `local:PATH`                          → a local directory
 * - `s3:host[:port]/bucket[/prefix]`, `s3://host/bucket[/prefix]` → S3 over HTTPS
 * - `s3:https://host[:port]/bucket[/prefix]`, `s3:http://…`     → S3, scheme as written
 *
 * The prefix is everything after the bucket, cleaned like Go's `path.Clean` (so a trailing
 * slash is dropped); an empty prefix means the bucket root. Anything else is an
 * INVALID_LOCATION error that says what is wrong.
 */
import { ResticError } from '../errors.js';
import { goPathClean } from '../format/go-path.js';

export interface LocalLocation {
  scheme: 'local';
  path: string;
}

export interface S3Location {
  scheme: 's3';
  /** `host` or `host:port`, as written (restic also accepts an AWS region name here). */
  endpoint: string;
  /** `s3:http://…` was given: talk plain HTTP. Every other form uses HTTPS. */
  useHttp: boolean;
  bucket: string;
  /** Key prefix after Go's path.Clean (no trailing slash); `''` = bucket root. */
  prefix: string;
}

export type Location = LocalLocation | S3Location;

/** Backends restic has and restic-ts does not (yet): a clear "not supported" instead of "invalid". */
const OTHER_RESTIC_BACKENDS = ['sftp', 'rest', 'b2', 'azure', 'gs', 'swift', 'rclone', 'smb'];

export function parseLocation(s: string): Location {
  if (s === '') {
    throw invalid(s, 'no repository given (use -r/--repo or RESTIC_REPOSITORY)');
  }
  const colon = s.indexOf(':');
  const scheme = colon < 0 ? '' : s.slice(0, colon);

  if (scheme === 'local') {
    const path = s.slice('local:'.length);
    if (path === '') throw invalid(s, 'the local: form needs a path, e.g. local:/srv/restic-repo');
    return { scheme: 'local', path };
  }
  if (scheme === 's3') return parseS3(s);
  if (OTHER_RESTIC_BACKENDS.includes(scheme)) {
    throw invalid(s, `the ${scheme} backend is not supported by restic-ts (supported: a local path, local:PATH, s3:…)`);
  }
  if (colon >= 0 && !isPath(s)) {
    throw invalid(
      s,
      `unknown backend "${scheme}" (supported: a local path, local:PATH, s3:…); ` +
        'if the repository is in a local directory, add a `local:` prefix',
    );
  }
  return { scheme: 'local', path: s };
}

/** A human-readable form for messages; restic's locations carry no secrets, so it is the input. */
export function describeLocation(location: Location): string {
  if (location.scheme === 'local') return location.path;
  const scheme = location.useHttp ? 'http' : 'https';
  return `s3:${scheme}://${location.endpoint}/${location.bucket}${location.prefix === '' ? '' : '/' + location.prefix}`;
}

function parseS3(s: string): S3Location {
  let endpoint: string;
  let rest: string;
  let useHttp = false;
  const url = /^s3:(https?):\/\/([^/?#]*)(.*)$/i.exec(s);
  if (url) {
    // A URL: host (with port) is the endpoint, the path holds bucket and prefix.
    useHttp = url[1].toLowerCase() === 'http';
    endpoint = url[2];
    const path = url[3];
    if (/[?#]/.test(path)) throw invalid(s, 'an S3 URL must not contain a query or fragment');
    if (path === '' || path === '/') throw invalid(s, 'bucket name not found (want s3:http[s]://host[:port]/bucket[/prefix])');
    rest = path.slice(1);
  } else {
    const body = s.startsWith('s3://') ? s.slice(5) : s.slice(3);
    const slash = body.indexOf('/');
    endpoint = slash < 0 ? body : body.slice(0, slash);
    rest = slash < 0 ? '' : body.slice(slash + 1);
  }
  if (endpoint === '') throw invalid(s, 'host/region not found (want s3:host[:port]/bucket[/prefix])');
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const rawPrefix = slash < 0 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw invalid(s, 'bucket name not found (want s3:host[:port]/bucket[/prefix])');
  if (!/^[A-Za-z0-9._-]+$/.test(bucket)) {
    throw invalid(s, `"${bucket}" is not a valid bucket name (letters, digits, '.', '-', '_' only)`);
  }
  let prefix = rawPrefix === '' ? '' : goPathClean(rawPrefix);
  // path.Join(".", "config") is "config": a prefix of "." is the bucket root.
  if (prefix === '.') prefix = '';
  return { scheme: 's3', endpoint, useHttp, bucket, prefix };
}

/** restic's isPath: an absolute, `../` or Windows drive path is a path even with a colon in it. */
function isPath(s: string): boolean {
  if (s.startsWith('../') || s.startsWith('..\\') || s.startsWith('/') || s.startsWith('\\')) return true;
  return /^[A-Za-z]:[\\/]/.test(s);
}

function invalid(input: string, why: string): ResticError {
  return new ResticError('INVALID_LOCATION', `invalid repository location ${JSON.stringify(input)}: ${why}`);
}

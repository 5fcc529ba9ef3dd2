import { describe, expect, it } from 'vitest';
import { describeLocation, parseLocation } from '../../src/backend/location.js';
import { goPathClean } from '../../src/format/go-path.js';
import { isResticError } from '../../src/errors.js';

// Cases from restic's internal/backend/s3/config_test.go and location/location_test.go.
const s3Cases: [string, { endpoint: string; bucket: string; prefix: string; useHttp?: boolean }][] = [
  ['s3://eu-central-1/bucketname', { endpoint: 'eu-central-1', bucket: 'bucketname', prefix: '' }],
  ['s3://eu-central-1/bucketname/', { endpoint: 'eu-central-1', bucket: 'bucketname', prefix: '' }],
  ['s3://eu-central-1/bucketname/prefix/directory', { endpoint: 'eu-central-1', bucket: 'bucketname', prefix: 'prefix/directory' }],
  ['s3://eu-central-1/bucketname/prefix/directory/', { endpoint: 'eu-central-1', bucket: 'bucketname', prefix: 'prefix/directory' }],
  ['s3:eu-central-1/foobar', { endpoint: 'eu-central-1', bucket: 'foobar', prefix: '' }],
  ['s3:eu-central-1/foobar/', { endpoint: 'eu-central-1', bucket: 'foobar', prefix: '' }],
  ['s3:eu-central-1/foobar/prefix/directory', { endpoint: 'eu-central-1', bucket: 'foobar', prefix: 'prefix/directory' }],
  ['s3:eu-central-1/foobar/prefix/directory/', { endpoint: 'eu-central-1', bucket: 'foobar', prefix: 'prefix/directory' }],
  ['s3:hostname.foo/foobar', { endpoint: 'hostname.foo', bucket: 'foobar', prefix: '' }],
  ['s3:hostname.foo/foobar/prefix/directory', { endpoint: 'hostname.foo', bucket: 'foobar', prefix: 'prefix/directory' }],
  ['s3:https://hostname/foobar', { endpoint: 'hostname', bucket: 'foobar', prefix: '' }],
  ['s3:https://hostname:9999/foobar', { endpoint: 'hostname:9999', bucket: 'foobar', prefix: '' }],
  ['s3:https://hostname:9999/foobar/', { endpoint: 'hostname:9999', bucket: 'foobar', prefix: '' }],
  ['s3:http://hostname:9999/foobar', { endpoint: 'hostname:9999', bucket: 'foobar', prefix: '', useHttp: true }],
  ['s3:http://hostname:9999/foobar/', { endpoint: 'hostname:9999', bucket: 'foobar', prefix: '', useHttp: true }],
  ['s3:http://hostname:9999/bucket/prefix/directory', { endpoint: 'hostname:9999', bucket: 'bucket', prefix: 'prefix/directory', useHttp: true }],
  ['s3:http://hostname:9999/bucket/prefix/directory/', { endpoint: 'hostname:9999', bucket: 'bucket', prefix: 'prefix/directory', useHttp: true }],
  ['s3:s3.amazonaws.com/bucket/prefix', { endpoint: 's3.amazonaws.com', bucket: 'bucket', prefix: 'prefix' }],
  ['s3:http://127.0.0.1:7480/b/a//b/./c/../d/', { endpoint: '127.0.0.1:7480', bucket: 'b', prefix: 'a/b/d', useHttp: true }],
  ['s3:host/bucket/.', { endpoint: 'host', bucket: 'bucket', prefix: '' }],
];

describe('parseLocation: s3', () => {
  for (const [input, want] of s3Cases) {
    it(input, () => {
      expect(parseLocation(input)).toEqual({ scheme: 's3', useHttp: false, ...want });
    });
  }
});

describe('parseLocation: local', () => {
  // restic's TestParseFallback: all of these are local paths.
  const fallback = [
    'dir1/dir2',
    '/dir1/dir2',
    '/dir1:foobar/dir2',
    '\\dir1\\foobar\\dir2',
    'c:\\dir1\\foobar\\dir2',
    'C:\\Users\\appveyor\\AppData\\Local\\Temp\\1\\restic-test-879453535\\repo',
    'c:/dir1/foobar/dir2',
    '../repo:with-colon',
    'repo',
  ];
  for (const path of fallback) {
    it(path, () => expect(parseLocation(path)).toEqual({ scheme: 'local', path }));
  }
  it('local:PATH', () => {
    expect(parseLocation('local:example')).toEqual({ scheme: 'local', path: 'example' });
    expect(parseLocation('local:/srv/a:b')).toEqual({ scheme: 'local', path: '/srv/a:b' });
  });
});

describe('parseLocation: invalid', () => {
  const bad: [string, RegExp][] = [
    ['', /no repository given/],
    ['local:', /needs a path/],
    ['s3:', /host\/region not found/],
    ['s3://', /host\/region not found/],
    ['s3:///bucket/prefix', /host\/region not found/],
    ['s3:host', /bucket name not found/],
    ['s3:host/', /bucket name not found/],
    ['s3://host//prefix', /bucket name not found/],
    ['s3:https://host', /bucket name not found/],
    ['s3:https://host/', /bucket name not found/],
    ['s3:http:///bucket', /host\/region not found/],
    ['s3:host/bu cket', /not a valid bucket name/],
    ['sftp:user@host:/srv/repo', /sftp backend is not supported/],
    ['rest:http://host:8000/', /rest backend is not supported/],
    ['b2:bucket:path', /b2 backend is not supported/],
    ['foobar:xxx', /unknown backend "foobar".*local:/],
    ['foobar:/dir/dir2', /unknown backend "foobar"/],
  ];
  for (const [input, message] of bad) {
    it(JSON.stringify(input), () => {
      let caught: unknown;
      try {
        parseLocation(input);
      } catch (err) {
        caught = err;
      }
      expect(isResticError(caught, 'INVALID_LOCATION')).toBe(true);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).toContain(JSON.stringify(input));
    });
  }
});

describe('goPathClean (Go path.Clean)', () => {
  const cases: [string, string][] = [
    ['', '.'], ['abc', 'abc'], ['abc/', 'abc'], ['a//b', 'a/b'], ['a/./b', 'a/b'], ['a/../b', 'b'],
    ['../a', '../a'], ['a/../..', '..'], ['/../a', '/a'], ['/', '/'], ['./', '.'], ['a/b/../../..', '..'],
  ];
  for (const [input, want] of cases) it(JSON.stringify(input), () => expect(goPathClean(input)).toBe(want));
});

describe('describeLocation', () => {
  it('renders s3 and local', () => {
    expect(describeLocation(parseLocation('s3:host/b/p/'))).toBe('s3:https://host/b/p');
    expect(describeLocation(parseLocation('s3:http://h:1/b'))).toBe('s3:http://h:1/b');
    expect(describeLocation(parseLocation('/srv/r'))).toBe('/srv/r');
  });
});

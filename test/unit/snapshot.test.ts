import { describe, expect, it } from 'vitest';
import { GoTime } from '../../src/format/gotime.js';
import { encodeLock, parseLock } from '../../src/format/lock-file.js';
import { encodeSnapshot, parseSnapshot, snapshotToCliJson, type Snapshot } from '../../src/format/snapshot.js';
import { expectResticError } from '../support/errors.js';

const ID = '3ef6fe0634e5a4c2a00aa2cc4f5bd8ff4592c236b99bffac9786eefa9a6327fa';
const TREE = '3527e5d181acd957e659931572823a7d2736e07e6d1bb476a20252742c268c56';
const PARENT = 'ea85809fd8f3c03be1ebec9d985b59b2e359f3d18bb5743a74bc79aff0dc92f2';

/** Written by restic 0.14 (`restic backup --tag b,a --host h1 src /tmp/rx/src/sub`, TZ=Europe/Berlin). */
const resticSnapshot = `{"time":"2026-11-26T13:47:36.206480521+01:00","tree":"${TREE}","paths":["/tmp/rx/src","/tmp/rx/src/sub"],"hostname":"h1","username":"root","tags":["b","a"]}`;

const expectError = expectResticError;

describe('parseSnapshot / encodeSnapshot', () => {
  it('round-trips a restic 0.14 snapshot byte for byte', () => {
    const sn = parseSnapshot(Buffer.from(resticSnapshot), ID);
    expect(sn).toMatchObject({ tree: TREE, paths: ['/tmp/rx/src', '/tmp/rx/src/sub'], hostname: 'h1', username: 'root', tags: ['b', 'a'], id: ID });
    expect(sn.uid).toBeUndefined();
    expect(sn.time.toString()).toBe('2026-11-26T13:47:36.206480521+01:00');
    expect(encodeSnapshot(sn)).toBe(resticSnapshot);
  });

  it('writes every field in Go struct order, with the summary, and reads it back', () => {
    const full =
      `{"time":"2024-02-29T23:59:59.000000001-07:30","parent":"${PARENT}","tree":"${TREE}","paths":["/b","/a"],"hostname":"host<1>","username":"me&you",` +
      `"uid":1000,"gid":100,"excludes":["*.tmp","/x"],"tags":["t1","t2"],"original":"${ID}","program_version":"restic 0.17.0",` +
      `"summary":{"backup_start":"2024-02-29T23:59:00Z","backup_end":"2024-02-29T23:59:59.5Z","files_new":1,"files_changed":2,"files_unmodified":3,` +
      `"dirs_new":4,"dirs_changed":5,"dirs_unmodified":6,"data_blobs":7,"tree_blobs":8,"data_added":18446744073709551615,"data_added_packed":9007199254740993,` +
      `"total_files_processed":11,"total_bytes_processed":12}}`;
    const sn = parseSnapshot(full, ID);
    expect(sn.summary).toMatchObject({ filesNew: 1, dirsUnmodified: 6, dataAdded: 18446744073709551615n, dataAddedPacked: 9007199254740993n, totalBytesProcessed: 12n });
    expect(sn.hostname).toBe('host<1>');
    expect(encodeSnapshot(sn)).toBe(full.replace('host<1>', 'host\\u003c1\\u003e').replace('me&you', 'me\\u0026you'));
  });

  it('omits zero and empty fields but writes paths null for a nil list', () => {
    const sn: Snapshot = { time: GoTime.parse('2020-01-02T03:04:05Z'), tree: TREE, paths: null, uid: 0, gid: 0, tags: [], excludes: [], hostname: '' };
    expect(encodeSnapshot(sn)).toBe(`{"time":"2020-01-02T03:04:05Z","tree":"${TREE}","paths":null}`);
    expect(encodeSnapshot({ ...sn, paths: [] })).toBe(`{"time":"2020-01-02T03:04:05Z","tree":"${TREE}","paths":[]}`);
  });

  it('keeps unknown fields, and a trailing newline is accepted (early restic)', () => {
    const text = `{"time":"2015-01-01T00:00:00Z","tree":"${TREE}","paths":["/x"],"future":{"a":1},"hostname":"h"}\n`;
    const sn = parseSnapshot(text, ID);
    expect(sn.extra).toEqual({ future: '{"a":1}' });
    expect(encodeSnapshot(sn)).toBe(`{"time":"2015-01-01T00:00:00Z","tree":"${TREE}","paths":["/x"],"hostname":"h","future":{"a":1}}`);
  });

  it('accepts the pretty-printed form restic cat snapshot shows', () => {
    const pretty = JSON.stringify(JSON.parse(resticSnapshot), null, 2);
    expect(encodeSnapshot(parseSnapshot(pretty, ID))).toBe(resticSnapshot);
  });

  const bad: [string, string][] = [
    ['{"time":"2015-01-01T00:00:00Z","paths":[]}', 'no tree'],
    ['{"time":"2015-01-01T00:00:00Z","tree":null}', 'no tree'],
    [`{"tree":"${TREE}"`, 'invalid JSON'],
    [`{"tree":"${TREE}","time":"not a time"}`, 'field time'],
    [`{"tree":"abc"}`, 'field tree: invalid ID'],
    [`{"tree":"${TREE}","paths":"x"}`, 'field paths'],
    [`{"tree":"${TREE}","uid":-1}`, 'field uid'],
    [`{"tree":"${TREE}","summary":{"files_new":"1"}}`, 'summary.files_new'],
    ['"just a string"', 'expected a JSON object'],
  ];
  it.each(bad)('%s → CORRUPT naming snapshots/<id>', (text, fragment) => {
    expectError(() => parseSnapshot(Buffer.from(text), ID), 'CORRUPT', `snapshots/${ID}`, fragment);
    try {
      parseSnapshot(text, ID);
    } catch (err) {
      expect((err as { file?: string }).file).toBe(`snapshots/${ID}`);
    }
  });
});

describe('snapshotToCliJson', () => {
  it('prints the object restic 0.14 snapshots --json prints (id, short_id last; paths sorted)', () => {
    const sn = parseSnapshot(resticSnapshot.replace('["/tmp/rx/src","/tmp/rx/src/sub"]', '["/tmp/rx/src/sub","/tmp/rx/src"]'), ID);
    expect(snapshotToCliJson(sn)).toBe(resticSnapshot.slice(0, -1) + `,"id":"${ID}","short_id":"3ef6fe06"}`);
  });

  it('leaves unknown fields out, as restic does', () => {
    const sn = parseSnapshot(`{"time":"2015-01-01T00:00:00Z","tree":"${TREE}","paths":["/x"],"future":1}`, ID);
    expect(snapshotToCliJson(sn)).not.toContain('future');
  });
});

describe('lock files', () => {
  it('round-trips the design document example in restic order', () => {
    const text = '{"time":"2015-06-27T12:18:51.759239612+02:00","exclusive":false,"hostname":"kasimir","username":"fd0","pid":13607,"uid":1000,"gid":100}';
    const lock = parseLock(text, ID);
    expect(lock).toMatchObject({ exclusive: false, hostname: 'kasimir', username: 'fd0', pid: 13607, uid: 1000, gid: 100 });
    expect(encodeLock(lock)).toBe(text);
  });

  it('omits uid/gid when 0 and writes the other fields always', () => {
    const lock = { time: GoTime.parse('2020-01-02T03:04:05Z'), exclusive: true, hostname: '', username: '', pid: 0, uid: 0 };
    expect(encodeLock(lock)).toBe('{"time":"2020-01-02T03:04:05Z","exclusive":true,"hostname":"","username":"","pid":0}');
  });

  it('rejects bad lock files naming locks/<id>', () => {
    expectError(() => parseLock('{"time":', ID), 'CORRUPT', `locks/${ID}`);
    expectError(() => parseLock('{"exclusive":"yes"}', ID), 'CORRUPT', `locks/${ID}`, 'exclusive');
    expectError(() => parseLock('{"pid":1.5}', ID), 'CORRUPT', 'pid');
  });
});

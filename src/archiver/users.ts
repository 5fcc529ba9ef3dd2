/**
 * uid → user name and gid → group name, as restic records them in nodes (`user`, `group`).
 *
 * restic (Go's os/user without cgo) reads /etc/passwd and /etc/group; an unknown id gives an
 * empty name, which the node then omits. We read the files once per backup and cache them.
 */
import { readFileSync } from 'node:fs';

export interface NameLookup {
  userName(uid: number): string;
  groupName(gid: number): string;
}

function parseIdFile(path: string): Map<number, string> {
  const names = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 3) continue;
    const id = Number(fields[2]);
    // The first entry for an id wins, as a sequential scan of the file finds it.
    if (Number.isInteger(id) && !names.has(id)) names.set(id, fields[0]);
  }
  return names;
}

export class SystemNameLookup implements NameLookup {
  private users?: Map<number, string>;
  private groups?: Map<number, string>;

  constructor(
    private readonly passwdPath = '/etc/passwd',
    private readonly groupPath = '/etc/group',
  ) {}

  userName(uid: number): string {
    this.users ??= parseIdFile(this.passwdPath);
    return this.users.get(uid) ?? '';
  }

  groupName(gid: number): string {
    this.groups ??= parseIdFile(this.groupPath);
    return this.groups.get(gid) ?? '';
  }
}

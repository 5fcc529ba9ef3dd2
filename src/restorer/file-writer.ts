/**
 * Verifies a restored file against its blob IDs (`restore --verify`). Writing content is
 * pack-restorer.ts's job.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { sha256 } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import type { TreeNode } from '../format/node.js';

/** Plaintext size of a data blob from the index (what `--verify` reads per blob). */
export type BlobSizeLookup = (id: Id) => number | undefined;

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Opens without updating the access time just restored (O_NOATIME needs ownership or root). */
async function openForVerify(path: Buffer): Promise<fsp.FileHandle> {
  const noatime = fsConstants.O_NOATIME;
  if (noatime !== undefined) {
    try {
      return await fsp.open(path, fsConstants.O_RDONLY | noatime);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return fsp.open(path, 'r');
}

/**
 * restic's verifyFile: the file has the node's size, and each blob-sized slice hashes to the
 * blob ID. CORRUPT naming the file and offset otherwise.
 */
export async function verifyFileContent(node: TreeNode, path: Buffer, blobSize: BlobSizeLookup, shownPath: string): Promise<void> {
  const handle = await openForVerify(path);
  try {
    const st = await handle.stat({ bigint: true });
    if (st.size !== node.size) {
      throw new ResticError('CORRUPT', `Invalid file size for ${shownPath}: expected ${node.size}, got ${st.size}`);
    }
    let offset = 0;
    let buf = Buffer.alloc(0);
    for (const id of node.content ?? []) {
      const length = blobSize(id);
      if (length === undefined) throw new ResticError('BLOB_NOT_FOUND', `Unable to fetch blob ${id} (for ${shownPath})`);
      if (buf.length < length) buf = Buffer.alloc(length * 2);
      const view = buf.subarray(0, length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(view, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== length || hex(sha256(view)) !== id) {
        throw new ResticError('CORRUPT', `Unexpected content in ${shownPath}, starting at offset ${offset}`);
      }
      offset += length;
    }
  } finally {
    await handle.close();
  }
}

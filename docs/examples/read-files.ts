/**
 * Walk a snapshot's tree and stream one file's content with bounded memory; dump a
 * directory as a tar archive.
 *
 *   npx tsx docs/examples/read-files.ts [REPOSITORY] [PASSWORD_FILE] [SNAPSHOT] [TAR_OUTPUT]
 *
 * Lists every entry of SNAPSHOT (default `latest`), prints the first regular file's content,
 * and, when TAR_OUTPUT is given, writes the whole snapshot there as a tar (as `restic dump
 * SNAPSHOT / > out.tar`). In your own project import from 'restic-ts'.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { dumpTreeAsTar, openBackend, pathText, Repository, streamFileContent, walkTree, type TreeNode } from '../../src/index.js';

const [location = 'fixtures/example-repo', passwordFile = 'fixtures/example-repo.password', ref = 'latest', tarOutput] = process.argv.slice(2);
const password = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
const repo = await Repository.open({ backend: await openBackend(location), password });
try {
  const found = await repo.findSnapshot(ref); // also accepts `ID:subpath`
  let firstFile: { path: string; node: TreeNode } | undefined;

  // Depth-first in restic's order (names sorted bytewise); `path` is bytes (names may be any bytes).
  for await (const { path, node } of walkTree(repo, found.tree)) {
    const size = node.type === 'file' ? ` ${node.size} bytes` : node.type === 'symlink' ? ` -> ${Buffer.from(node.linkTarget).toString()}` : '';
    console.log(`${node.type.padEnd(7)} ${pathText(path)}${size}`);
    if (node.type === 'file' && node.size > 0n && firstFile === undefined) firstFile = { path: pathText(path), node };
  }

  if (firstFile) {
    console.log(`--- content of ${firstFile.path}:`);
    // Blobs are loaded a few at a time (MAC, decrypt, decompress, SHA-256 checked): memory stays bounded.
    for await (const chunk of streamFileContent(repo, firstFile.node)) process.stdout.write(chunk);
  }

  if (tarOutput !== undefined) {
    const out = createWriteStream(tarOutput);
    await dumpTreeAsTar(repo, found.tree, new Uint8Array(), async (chunk) => {
      if (!out.write(chunk)) await once(out, 'drain');
    });
    out.end();
    await once(out, 'finish');
    console.log(`--- wrote ${tarOutput}`);
  }
} finally {
  await repo.close();
}

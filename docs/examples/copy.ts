/**
 * Copy every snapshot of one repository into another (`restic-ts copy`), creating the
 * destination with the source's chunker polynomial when it does not exist yet, so that both
 * cut files alike and the copy is made of the stored blobs as they are.
 *
 *   npx tsx docs/examples/copy.ts SOURCE SOURCE_PASSWORD_FILE DESTINATION DESTINATION_PASSWORD_FILE
 *
 * Snapshots already present in the destination (same content, restic's rule) are skipped,
 * so running it again copies only what is new. In your own project import from 'restic-ts'.
 */
import { readFile } from 'node:fs/promises';
import { acquireLock, copySnapshots, initRepository, isResticError, openBackend, Repository, shortId } from '../../src/index.js';

const [srcLocation, srcPasswordFile, dstLocation, dstPasswordFile] = process.argv.slice(2);
if (srcLocation === undefined || srcPasswordFile === undefined || dstLocation === undefined || dstPasswordFile === undefined) {
  console.error('usage: copy.ts SOURCE SOURCE_PASSWORD_FILE DESTINATION DESTINATION_PASSWORD_FILE');
  process.exit(2);
}
const readPassword = async (file: string) => (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
const src = await Repository.open({ backend: await openBackend(srcLocation), password: await readPassword(srcPasswordFile) });

const dstBackend = await openBackend(dstLocation);
const dstPassword = await readPassword(dstPasswordFile);
let dst: Repository;
try {
  dst = await Repository.open({ backend: dstBackend, password: dstPassword });
} catch (err) {
  if (!isResticError(err, 'REPOSITORY_NOT_FOUND')) throw err;
  // Same polynomial as the source: like `init --copy-chunker-params --from-repo SOURCE`.
  await initRepository({ backend: dstBackend, password: dstPassword, chunkerPolynomial: src.config.chunker_polynomial });
  dst = await Repository.open({ backend: dstBackend, password: dstPassword });
}

// Shared locks on both sides, as restic takes them for copy.
const srcLock = await acquireLock(src, { exclusive: false });
const dstLock = await acquireLock(dst, { exclusive: false });
try {
  const result = await copySnapshots(src, dst, await src.listSnapshots(), {
    onEvent: (e) => {
      if (e.kind === 'saved') console.log(`copied ${shortId(e.id)} -> ${shortId(e.newId)}`);
      if (e.kind === 'skipped') console.log(`skipped ${shortId(e.id)}: already there as ${shortId(e.existing)}`);
    },
  });
  console.log(`${result.copied.length} copied, ${result.skipped.length} skipped; ${result.dataBlobs} data and ${result.treeBlobs} tree blobs written`);
} finally {
  await dstLock.release();
  await srcLock.release();
  await src.close();
  await dst.close();
}

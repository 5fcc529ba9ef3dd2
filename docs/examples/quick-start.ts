/**
 * The README's library quick start, verbatim (test/unit/public-api.test.ts checks that the two
 * stay equal; test/integration/docs-examples.test.ts runs it). Run from the project root:
 *
 *   npx tsx docs/examples/quick-start.ts
 */
import { openBackend, Repository, streamFileContent, walkTree, pathText } from '../../src/index.js';

const repo = await Repository.open({
  backend: await openBackend('fixtures/example-repo'), // or 's3:https://host/bucket/prefix'
  password: 'correct horse battery staple',
});
for (const { id, snapshot } of await repo.listSnapshots()) console.log(id.slice(0, 8), snapshot.time.toString(), snapshot.paths);

const latest = await repo.findSnapshot('latest');
for await (const { path, node } of walkTree(repo, latest.tree)) {
  if (node.type === 'file') {
    console.log(pathText(path));
    for await (const chunk of streamFileContent(repo, node)) process.stdout.write(chunk);
  }
}
await repo.close();

/**
 * Print the least-privilege IAM policies for a repository bucket (`restic-ts s3 policy`):
 * the backup host may read, list and write but delete only its own lock files; maintenance
 * (forget/prune, run elsewhere) may delete; neither may touch object versions or bucket
 * settings. Needs no network.
 *
 *   npx tsx docs/examples/s3-policy.ts BUCKET [PREFIX]
 *
 * In your own project import from 'restic-ts'.
 */
import { buildPolicy, policyAllows, POLICY_ROLES } from '../../src/index.js';

const [bucket = 'my-backups', prefix = 'laptop'] = process.argv.slice(2);
for (const role of POLICY_ROLES) {
  const policy = buildPolicy({ bucket, prefix, role });
  console.log(`# role ${role}`);
  console.log(JSON.stringify(policy, null, 2));
}

// The documents can be queried, e.g. to show what the backup role cannot do.
const backup = buildPolicy({ bucket, prefix, role: 'backup' });
for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutBucketVersioning']) {
  const resource = action === 's3:PutBucketVersioning' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${prefix}/data/00/0000`;
  console.log(`backup role ${policyAllows(backup, action, resource) ? 'may' : 'may not'} ${action} on ${resource}`);
}

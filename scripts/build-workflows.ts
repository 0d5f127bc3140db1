// `npm run build:workflows`: the prebuilt workflow bundle production workers and the Lambda function load
// (bundling at start-up takes seconds; a Lambda cold start should not pay for it).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIdFor, loadWorkflowBundle } from '../src/runtime/worker';

async function run(): Promise<void> {
  const out = process.argv[2] ?? join(__dirname, '..', 'dist', 'workflow-bundle.js');
  const bundle = await loadWorkflowBundle();
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(`${out}.tmp`, bundle.code);
  renameSync(`${out}.tmp`, out);
  process.stdout.write(`${out} (build id ${buildIdFor(bundle)})\n`);
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});

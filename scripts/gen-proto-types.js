// Generates TypeScript types for the Talos API protos (`npm run proto:gen`), or with --check fails when the
// committed types in src/talos/generated/ no longer match the .proto files (part of `npm test`).
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync, readdirSync, readFileSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const os = require('node:os');

const root = join(__dirname, '..');
const protoDir = join(root, 'src', 'talos', 'proto');
const outDir = join(root, 'src', 'talos', 'generated');
// Keep in step with the conversion options in src/talos/codec.ts.
const files = ['machine/machine.proto', 'machine/image.proto', 'machine/lifecycle.proto', 'cluster/cluster.proto', 'v1alpha1/state.proto', 'resource/config/config.proto', 'resource/definitions/runtime/runtime.proto', 'resource/definitions/k8s/k8s.proto'];
const options = ['--longs', 'String', '--enums', 'String', '--defaults', '--oneofs', '--grpcLib', '@grpc/grpc-js'];

function generate(dir) {
  rmSync(dir, { recursive: true, force: true });
  const bin = join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
  // A relative include path keeps the machine's directory out of the generated "Original file" comments.
  execFileSync(bin, [...options, '-I', relative(root, protoDir), '-O', dir, ...files], { stdio: 'inherit', cwd: root });
}

function listFiles(base, dir = base) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(base, path));
    else out.push(relative(base, path));
  }
  return out.sort();
}

if (process.argv.includes('--check')) {
  const tmp = mkdtempSync(join(os.tmpdir(), 'proto-gen-'));
  try {
    generate(tmp);
    const want = listFiles(tmp);
    const have = listFiles(outDir);
    const stale = want.filter((f) => !have.includes(f) || readFileSync(join(tmp, f), 'utf8') !== readFileSync(join(outDir, f), 'utf8'));
    const extra = have.filter((f) => !want.includes(f));
    if (stale.length || extra.length) {
      console.error(`src/talos/generated is out of date (${[...stale, ...extra].join(', ')}): run \`npm run proto:gen\``);
      process.exit(1);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  generate(outDir);
}

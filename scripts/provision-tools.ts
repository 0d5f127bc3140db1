// `npm run tools`: provides every external program the project runs (see the README's Tools section).
//   npm run tools                        build or fetch what is missing, once per machine, and link it into .tools/
//   npm run tools -- --with talosctl     also an optional one
//   npm run tools -- --only etcd-3.6     just these
//   npm run tools -- --list              where each binary is found now, and why (builds nothing)
import { parseArgs } from 'node:util';
import { FleetError } from '../src/errors';
import { reportedVersion } from '../src/tools/binaries';
import { listTools, provisionTools } from '../src/tools/provision';

const { values } = parseArgs({
  options: { list: { type: 'boolean' }, with: { type: 'string', multiple: true }, only: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
});
const ids = (v: string[] | undefined): string[] => (v ?? []).flatMap((w) => w.split(',')).filter(Boolean);
const choice = { with: ids(values.with), only: ids(values.only) };

async function main(): Promise<void> {
  if (values.help) {
    process.stdout.write('usage: npm run tools [-- --with ID] [-- --only ID] [-- --list]\n');
  } else if (values.list) {
    for (const { tool, binary, found } of listTools(choice)) {
      const spec = tool.binaries.find((b) => b.name === binary);
      const version = found?.version ?? (found && spec ? reportedVersion(found.path, spec) : undefined) ?? '?';
      const where = found ? `${found.from.padEnd(5)}  ${found.path}  (${found.why})` : `missing  (wanted ${tool.version ?? tool.line}: npm run tools${tool.optional ? ` -- --with ${tool.id}` : ''})`;
      process.stdout.write(`${tool.id.padEnd(12)} ${binary.padEnd(24)} ${(found ? version : '-').padEnd(24)} ${where}\n`);
    }
  } else {
    await provisionTools(choice);
  }
}

main().catch((e: unknown) => {
  if (!(e instanceof FleetError)) throw e;
  process.stderr.write(`\n${e.message}\n`);
  process.exitCode = 1;
});

// `npm run tools`: installs the Temporal CLI and etcd project-locally unless the user already has them.
import { provisionTools } from '../src/tools/binaries';

const found = provisionTools();
for (const [tool, path] of Object.entries(found)) process.stdout.write(`${tool}: ${path}\n`);

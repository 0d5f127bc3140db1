import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const CONFIG_DIR = join(__dirname, '../../src/config');

/** The modules a source file imports, as written. */
function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('the talosconfig model and its files', () => {
  it('src/config never imports src/talos: the client depends on config, not the other way round', () => {
    const offenders = readdirSync(CONFIG_DIR)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => importsOf(join(CONFIG_DIR, f)).filter((m) => m.includes('/talos/')).map((m) => `${f} imports ${m}`));
    expect(offenders).toEqual([]);
  });

  it('the talosconfig model is pure: reading and writing the file happen in src/talos/talosconfig.ts', () => {
    const io = importsOf(join(CONFIG_DIR, 'talosconfig.ts')).filter((m) => /^(node:)?(fs|fs\/promises|os|path)$/.test(m) || m.endsWith('/files'));
    expect(io).toEqual([]);
  });
});

const ROOT = join(__dirname, '../..');
const SRC = join(ROOT, 'src');
/** Not ours or not source: dependencies, tool links, build output, working directories. */
const NOT_SOURCE = new Set(['node_modules', '.git', '.tools', 'dist', 'coverage', '.sim', '.dev']);

/** Every file under `dir` whose name ends with `ext`, as paths relative to the repository root. */
function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return NOT_SOURCE.has(e.name) ? [] : filesUnder(path, ext);
    return e.name.endsWith(ext) ? [relative(ROOT, path)] : [];
  });
}

/** The source files that load a protobuf library at run time (a type-only import does not count). */
function protobufSpeakers(): string[] {
  const runtimeImport = /(?:^import\s+(?!type\s)[^;'"]*?from\s+|^import\s+|require\(\s*|import\(\s*)['"](?:protobufjs|@grpc\/proto-loader)(?:\/[^'"]*)?['"]/m;
  return filesUnder(SRC, '.ts').filter((f) => runtimeImport.test(readFileSync(join(ROOT, f), 'utf8')));
}

describe('one home for each wire protocol', () => {
  it('speaks the Talos protobuf only in src/talos/codec.ts, etcd’s only in src/etcd/services.ts, and the simulator’s apid splicing only reads and writes raw fields', () => {
    expect(protobufSpeakers().sort()).toEqual(['src/etcd/services.ts', 'src/simulator/api/apid-wire.ts', 'src/talos/codec.ts']);
    // A loader is a file that turns .proto text into types; apid-wire uses protobufjs' Reader and Writer only.
    const loader = /\bloadSync\s*\(|\bloadPackageDefinition\s*\(|\bprotobuf\.(?:parse|load)\s*\(|\bnew\s+protobuf\.Root\b|\bRoot\.fromJSON\b/;
    const loaders = filesUnder(SRC, '.ts').filter((f) => loader.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(loaders.sort()).toEqual(['src/etcd/services.ts', 'src/talos/codec.ts']);
  });

  it('keeps the Talos protos in src/talos/proto and etcd’s in src/etcd/rpc.proto, with no copy of any of them anywhere', () => {
    const protos = filesUnder(ROOT, '.proto');
    expect(protos.filter((f) => !f.startsWith('src/talos/proto/'))).toEqual(['src/etcd/rpc.proto']);
    // A copy under any name declares the same top-level messages, services or enums in the same package again.
    const declaredIn = new Map<string, string[]>();
    for (const f of protos) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      const pkg = /^package\s+([\w.]+)\s*;/m.exec(text)?.[1] ?? '';
      for (const [, name] of text.matchAll(/^(?:message|service|enum)\s+(\w+)/gm)) {
        const key = `${pkg}.${name!}`;
        declaredIn.set(key, [...(declaredIn.get(key) ?? []), f]);
      }
    }
    expect(declaredIn.size).toBeGreaterThan(50);
    expect([...declaredIn].filter(([, files]) => files.length > 1)).toEqual([]);
  });
});

describe('activities depend on the TalosApi interface', () => {
  it('outside src/talos, TalosClient appears only where a client is made (TalosClient.withIdentity and the like), never as a type', () => {
    const offenders = filesUnder(SRC, '.ts')
      .filter((f) => !f.startsWith('src/talos/'))
      .flatMap((f) =>
        readFileSync(join(ROOT, f), 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
          .filter(({ line }) => /\bTalosClient\b(?!\.\w)/.test(line) && !/^import \{ TalosClient \} from '[./]+\/talos\/client';$/.test(line))
          .map(({ line, at }) => `${at}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });
});

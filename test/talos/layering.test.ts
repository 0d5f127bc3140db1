import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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

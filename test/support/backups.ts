import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateSecretsBundle, stringifySecretsBundle } from '../../src/config/secrets';
import { stringifyTalosconfig } from '../../src/config/talosconfig';
import { loadInventory, type LoadedInventory } from '../../src/fleet/inventory';
import { requireTool } from '../../src/tools/binaries';
import { onlyValue } from '../../src/talos/replies';
import type { TestFleet } from './fleet';

/** An age identity made by Debian's age-keygen: its file (mode 0600) and public key. */
export function ageKeygen(path: string): { file: string; recipient: string } {
  execFileSync(requireTool('age-keygen'), ['-o', path], { stdio: 'pipe' });
  chmodSync(path, 0o600);
  return { file: path, recipient: /public key: (age1\S+)/.exec(readFileSync(path, 'utf8'))![1]! };
}

/**
 * An inventory for a simulated fleet that is already bootstrapped: its admin talosconfig, an `os:etcd:backup`
 * talosconfig minted by the fleet itself (GenerateClientConfiguration, as `talosctl config new --roles` does), and a
 * backups block. (Its secrets bundle is a fresh one: only installs read it.)
 */
export async function backupInventory(t: TestFleet, opts: { dir: string; cluster: string; store: string; backups?: Record<string, unknown>; policy?: Record<string, unknown> }): Promise<{ inventory: LoadedInventory; identity: { file: string; recipient: string } }> {
  mkdirSync(join(opts.dir, opts.cluster), { recursive: true });
  const identity = ageKeygen(join(opts.dir, opts.cluster, 'backup.agekey'));
  const first = t.fleet.nodes().find((n) => n.role === 'controlplane')!;
  const minted = onlyValue(await t.client().generateClientConfiguration({ roles: ['os:etcd:backup'], crtTtlMs: 24 * 3_600_000 }, { node: first.spec.address }));
  const files: [string, string][] = [
    ['secrets.yaml', stringifySecretsBundle(await generateSecretsBundle({ versionContract: 'v1.10.9' }))],
    ['talosconfig', stringifyTalosconfig(t.talosconfig!)],
    ['backup-talosconfig', minted.talosconfig.toString('utf8')],
  ];
  for (const [name, content] of files) writeFileSync(join(opts.dir, opts.cluster, name), content, { mode: 0o600 });
  const controlPlanes = t.fleet.nodes().filter((n) => n.role === 'controlplane');
  const doc = {
    clusters: [
      {
        name: opts.cluster,
        endpoint: `https://${controlPlanes[0]!.spec.address}:6443`,
        talosVersion: 'v1.10.9',
        secrets: `${opts.cluster}/secrets.yaml`,
        talosconfig: `${opts.cluster}/talosconfig`,
        nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
        policy: { approvers: ['alice', 'bob', 'carol'], allowSelfApproval: false, ...opts.policy },
        backups: { store: opts.store, recipients: [identity.recipient], identity: `${opts.cluster}/backup.agekey`, talosconfig: `${opts.cluster}/backup-talosconfig`, ...opts.backups },
      },
    ],
  };
  const path = join(opts.dir, 'fleet.yaml');
  writeFileSync(path, stringify(doc));
  return { inventory: loadInventory(path), identity };
}

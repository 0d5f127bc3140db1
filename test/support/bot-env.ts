import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import type { TestFleet } from './fleet';

/** The secrets of the test app: made up, token-shaped (so the history scan would notice them), never real. */
export const TEST_SECRETS = { botToken: 'xoxb-1111-2222-testbottoken', signingSecret: 'test-signing-secret-0123456789abcdef', appToken: 'xapp-1-A0FAKE-3333-testapptoken' };

/** One cluster of a test inventory: its fleet, and what goes under its `slack` and `policy` keys. */
export interface TestCluster {
  name: string;
  fleet: TestFleet;
  slack?: Record<string, unknown>;
  policy?: Record<string, unknown>;
}

/**
 * One inventory for several clusters, each on its own simulated fleet: each is scaffolded (fresh secrets bundle and
 * talosconfig) in its fleet's directory, then all are listed in `dir/fleet.yaml` with absolute paths.
 */
export async function multiClusterInventory(dir: string, clusters: TestCluster[]): Promise<string> {
  const entries: Record<string, unknown>[] = [];
  for (const c of clusters) {
    const own = join(c.fleet.dir, `inventory-${c.name}`);
    const loaded = await scaffoldInventory({
      dir: own,
      cluster: c.name,
      nodes: c.fleet.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
      talosVersion: 'v1.10.9',
      approvers: ['placeholder'],
      allowSelfApproval: false,
    });
    const doc = parse(readFileSync(loaded.path, 'utf8')) as { clusters: Record<string, unknown>[] };
    const entry = doc.clusters[0]!;
    entry.secrets = join(own, String(entry.secrets));
    entry.talosconfig = join(own, String(entry.talosconfig));
    entry.policy = { ...(entry.policy as object), ...c.policy };
    if (c.slack) entry.slack = c.slack;
    entries.push(entry);
  }
  const path = join(dir, 'fleet.yaml');
  writeFileSync(path, stringify({ clusters: entries }));
  return path;
}

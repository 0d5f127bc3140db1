import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkInventoryFiles, loadInventory } from '../../src/fleet/inventory';
import { gatePolicy } from '../../src/fleet/policy';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { validateInventory } from '../../src/fleet/schema';

const node = (name: string, address: string, role = 'controlplane') => ({ name, address, role });
const cluster = (extra: Record<string, unknown> = {}) => ({
  name: 'prod',
  endpoint: 'https://10.5.0.10:6443',
  talosVersion: 'v1.10.9',
  secrets: 'prod/secrets.yaml',
  talosconfig: 'prod/talosconfig',
  nodes: [node('cp-1', '10.5.0.2')],
  policy: { approvers: ['alice'] },
  ...extra,
});

describe('the inventory schema', () => {
  it('accepts a minimal cluster and fills in the defaults a user expects', () => {
    const result = validateInventory({ clusters: [cluster()] });
    expect(result.problems).toBeUndefined();
    const c = result.inventory!.clusters[0]!;
    expect(c.nodes[0]).toMatchObject({ installDisk: '/dev/sda', port: 50000, patches: [] });
    expect(gatePolicy(c.policy, 'install')).toEqual({
      approvers: ['alice'],
      allowSelfApproval: false,
      gates: ['start'],
      requiredApprovals: 1,
      approvalTimeoutMs: 3_600_000,
      onTimeout: 'hold',
      reminderEveryMs: 15 * 60_000,
    });
  });

  it('reports every problem at once, each with its path', () => {
    const result = validateInventory({
      clusters: [
        cluster({
          endpoint: '10.5.0.10',
          nodes: [node('cp-1', '10.5.0.2'), node('cp-1', 'not-an-ip', 'worker'), node('w-2', '10.5.0.2', 'gpu')],
          policy: { approvers: [], approvalTimeout: 'soon', colour: 'blue' },
        }),
        cluster({ talosVersion: '1.10', nodes: [node('w-1', '10.5.0.9', 'worker')] }),
      ],
    });
    const problems = result.problems!.map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'clusters[0].nodes[1].address: not an IP address',
        'clusters[0].nodes[2].role: Invalid option: expected one of "controlplane"|"worker"',
        'clusters[0].policy.approvalTimeout: "soon" is not a duration such as 90s, 15m or 1h30m',
        'clusters[0].policy: unknown field "colour"',
        'clusters[1].talosVersion: must be a Talos version such as v1.10.9',
      ]),
    );
    // Cross-field checks run once the fields themselves are valid.
    const crossed = validateInventory({ clusters: [cluster({ endpoint: '10.5.0.10', nodes: [node('cp-1', '10.5.0.2'), node('cp-1', '10.5.0.2', 'worker')], policy: { approvers: [] } }), cluster({ nodes: [node('w-1', '10.5.0.2', 'worker')] })] });
    expect(crossed.problems!.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'clusters[0].endpoint: "10.5.0.10" has no scheme and no port; try "https://10.5.0.10:6443"',
      'clusters[0].nodes[1].name: "cp-1" is used by another node of this cluster',
      'clusters[0].nodes[1].address: 10.5.0.2 is already the address of prod/cp-1',
      'clusters[0].policy.approvers: gates need at least one approver (or set every gate list to [])',
      'clusters[1].name: "prod" is already the name of clusters[0]',
      'clusters[1].nodes: a cluster needs at least one controlplane node',
      'clusters[1].nodes[0].address: 10.5.0.2 is already the address of prod/cp-1',
    ]);
  });
});

describe('the example inventory', () => {
  it('is valid, so users can start from it', () => {
    const result = validateInventory(parse(readFileSync(join(__dirname, '..', '..', 'examples', 'fleet.yaml'), 'utf8')));
    expect(result.problems).toBeUndefined();
    expect(result.inventory!.clusters[0]!.nodes.map((n) => n.name)).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2']);
  });
});

describe('loading an inventory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'talos-fleet-inventory-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file and every field when the YAML is valid but the inventory is not', () => {
    const path = join(dir, 'fleet.yaml');
    writeFileSync(path, 'clusters:\n  - name: Prod\n');
    expect(() => loadInventory(path)).toThrow(new RegExp(`inventory ${path} is invalid:[\\s\\S]*clusters\\[0\\]\\.name: must be lowercase[\\s\\S]*clusters\\[0\\]\\.endpoint: is required`));
  });

  it('refuses an unknown cluster with the list of known ones', async () => {
    const inv = await scaffoldInventory({ dir, cluster: 'demo', nodes: [{ name: 'cp-1', address: '127.0.0.2', role: 'controlplane' }], talosVersion: 'v1.10.9', approvers: ['dev'], allowSelfApproval: true });
    expect(() => inv.cluster('prod')).toThrow(`cluster "prod" is not in ${inv.path}; clusters there: demo`);
    expect(checkInventoryFiles(inv)).toEqual([]);
  });

  it('checks that the talosconfig and the secrets bundle belong to the same cluster, without printing either', async () => {
    const a = await scaffoldInventory({ dir: join(dir, 'a'), cluster: 'demo', nodes: [{ name: 'cp-1', address: '127.0.0.2', role: 'controlplane' }], talosVersion: 'v1.10.9', approvers: ['dev'], allowSelfApproval: true });
    await scaffoldInventory({ dir: join(dir, 'b'), cluster: 'demo', nodes: [{ name: 'cp-1', address: '127.0.0.2', role: 'controlplane' }], talosVersion: 'v1.10.9', approvers: ['dev'], allowSelfApproval: true });
    writeFileSync(join(dir, 'a', 'demo', 'talosconfig'), readFileSync(join(dir, 'b', 'demo', 'talosconfig')));
    const problems = checkInventoryFiles(loadInventory(a.path));
    expect(problems).toEqual([{ path: 'clusters[0].talosconfig', message: 'its CA is not the OS CA of the secrets bundle demo/secrets.yaml: they belong to different clusters' }]);
    writeFileSync(join(dir, 'a', 'demo', 'secrets.yaml'), 'cluster: {}\n');
    const broken = checkInventoryFiles(loadInventory(a.path));
    expect(broken[0]!.path).toBe('clusters[0].secrets');
    expect(broken[0]!.message).toMatch(/cluster\.id/);
  });
});

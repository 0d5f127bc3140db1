import type { Command } from 'commander';
import { FleetConnector } from '../fleet/connect';
import { clusterHealth } from '../fleet/health';
import { loadInventory } from '../fleet/inventory';
import { probeNode } from '../fleet/probe';
import { runtimeSettings } from '../runtime/settings';
import { onlyValue } from '../talos/replies';
import { formatTable, printJson } from './output';

/** `talos-fleet status CLUSTER`: what the nodes say right now (straight from the Talos API, no workflow). */
export function registerStatus(program: Command): void {
  program
    .command('status <cluster>')
    .description('nodes, versions, stages, etcd members and health of a cluster, asked of the nodes now')
    .option('--inventory <path>', 'the inventory (default: $TALOS_FLEET_INVENTORY, the dev deployment\'s, or ./fleet.yaml)')
    .option('--dev-dir <dir>', 'where `talos-fleet dev` keeps its state (default: .dev)')
    .option('--health-timeout <seconds>', 'how long the health check may take', '10')
    .option('--json', 'print JSON')
    .action(async (cluster: string, opts: { inventory?: string; devDir?: string; healthTimeout: string; json?: boolean }) => {
      const settings = runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}) });
      const inv = loadInventory(settings.inventoryPath);
      const spec = inv.cluster(cluster);
      const connector = new FleetConnector(() => inv);
      try {
        const nodes = await Promise.all(spec.nodes.map(async (n) => ({ role: n.role, ...(await probeNode(connector, cluster, n)) })));
        const members = await connector
          .cluster(cluster)
          .etcdMemberList({})
          .then((r) => onlyValue(r).members.map((m) => ({ hostname: m.hostname, id: BigInt(m.id).toString(16), learner: m.isLearner })))
          .catch((err: Error) => ({ error: err.message }));
        const anyMember = nodes.some((n) => n.state === 'member');
        const health = anyMember ? await clusterHealth(connector, inv, cluster, Number(opts.healthTimeout) * 1_000) : { healthy: false, detail: 'no node answers with the cluster identity (not installed?)' };
        if (opts.json) return printJson({ cluster, nodes, etcd: members, health });
        process.stdout.write(formatTable(['NODE', 'ROLE', 'ADDRESS', 'STATE', 'STAGE', 'VERSION'], nodes.map((n) => [n.node, n.role, n.address, n.state, n.stage ?? '', n.version ?? ''])));
        process.stdout.write(Array.isArray(members) ? `etcd members: ${members.map((m) => `${m.hostname}${m.learner ? ' (learner)' : ''}`).join(', ')}\n` : `etcd: ${members.error}\n`);
        process.stdout.write(`health: ${health.healthy ? 'healthy' : `not healthy: ${health.detail}`}\n`);
      } finally {
        connector.close();
      }
    });
}

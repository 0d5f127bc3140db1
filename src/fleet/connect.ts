import type { TalosApi } from '../talos/api';
import { TalosClient } from '../talos/client';
import type { LoadedInventory } from './inventory';
import type { NodeSpec } from './schema';
import { withPort } from '../address';
import type { ClientIdentity } from '../config/talosconfig';

/** `host:port` of a node's Talos API. */
export function nodeEndpoint(node: NodeSpec): string {
  return withPort(node.address, node.port);
}

/** Deadline of single calls made by activities and the CLI: short, because callers poll and retry. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * Talos clients ({@link TalosApi}) for the clusters of an inventory, made from the key material the inventory points at. Clients are
 * kept per cluster and node while their identity is unchanged (connections are expensive; nothing else is kept).
 */
export class FleetConnector {
  private readonly clients = new Map<string, { key: string; client: TalosApi }>();

  constructor(private readonly inventory: () => LoadedInventory) {}

  /** Mutual TLS through the cluster's control planes (endpoint failover between them), as talosctl with the talosconfig. */
  cluster(cluster: string): TalosApi {
    const inv = this.inventory();
    const spec = inv.cluster(cluster);
    const endpoints = spec.nodes.filter((n) => n.role === 'controlplane').map(nodeEndpoint);
    return this.cached(`cluster/${cluster}`, inv, cluster, () => TalosClient.withIdentity(inv.identity(cluster), { endpoints, timeoutMs: CALL_TIMEOUT_MS }));
  }

  /** Mutual TLS straight to one node (while a cluster is being installed, no control plane may be up to proxy). */
  node(cluster: string, node: NodeSpec): TalosApi {
    const inv = this.inventory();
    return this.cached(`node/${cluster}/${node.name}`, inv, cluster, () => TalosClient.withIdentity(inv.identity(cluster), { endpoints: [nodeEndpoint(node)], timeoutMs: CALL_TIMEOUT_MS }));
  }

  /**
   * Mutual TLS straight to one node with another of the cluster's identities (`label` names it in the cache: the
   * least-privilege `os:etcd:backup` one for snapshots), with calls that may last `timeoutMs` (a long transfer).
   */
  nodeAs(cluster: string, node: NodeSpec, label: string, identity: () => ClientIdentity, timeoutMs = CALL_TIMEOUT_MS): TalosApi {
    const inv = this.inventory();
    return this.cached(`${label}/${cluster}/${node.name}`, inv, cluster, () => TalosClient.withIdentity(identity(), { endpoints: [nodeEndpoint(node)], timeoutMs }));
  }

  /**
   * TLS without a client certificate to a node in maintenance mode. Unverified unless the inventory pins the node's
   * certificate, as talosctl's `--insecure` (the console shows the fingerprint to pin).
   */
  maintenance(cluster: string, node: NodeSpec): TalosApi {
    const inv = this.inventory();
    return this.cached(`maintenance/${cluster}/${node.name}`, inv, cluster, () =>
      node.maintenanceFingerprints.length
        ? TalosClient.maintenancePinned(nodeEndpoint(node), node.maintenanceFingerprints, { timeoutMs: CALL_TIMEOUT_MS })
        : TalosClient.maintenanceInsecure(nodeEndpoint(node), { timeoutMs: CALL_TIMEOUT_MS }),
    );
  }

  private cached(id: string, inv: LoadedInventory, cluster: string, create: () => TalosApi): TalosApi {
    const spec = inv.cluster(cluster);
    // A changed talosconfig or node list makes a new client; the identity itself is not kept here.
    const key = `${inv.path}|${spec.talosconfig}|${spec.backups?.talosconfig ?? ''}|${JSON.stringify(spec.nodes)}`;
    const found = this.clients.get(id);
    if (found && found.key === key) return found.client;
    found?.client.close();
    const client = create();
    this.clients.set(id, { key, client });
    return client;
  }

  /** Closes every client. */
  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}

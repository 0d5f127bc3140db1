import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadPatch, type ConfigPatch } from '../config/patches';
import { parseSecretsBundle, parseYamlDocument, type SecretsBundle } from '../config/secrets';
import { FleetError, ValidationError, type Problem } from '../errors';
import { contextIdentity, type ClientIdentity } from '../config/talosconfig';
import { loadTalosconfig } from '../talos/talosconfig';
import { validateInventory, type ClusterSpec, type Inventory, type NodeSpec } from './schema';

/** The inventory file used when none is named. */
export const DEFAULT_INVENTORY_FILE = 'fleet.yaml';

/** `--inventory`, else `$TALOS_FLEET_INVENTORY`, else `./fleet.yaml`. */
export function resolveInventoryPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env.TALOS_FLEET_INVENTORY ?? DEFAULT_INVENTORY_FILE);
}

/** A cluster name the inventory does not list. */
export class UnknownClusterError extends FleetError {
  constructor(name: string, path: string, known: string[]) {
    super('unknown_cluster', `cluster "${name}" is not in ${path}; clusters there: ${known.length ? known.join(', ') : '(none)'}`);
  }
}

/** A node name or address the cluster does not list. */
export class UnknownNodeError extends FleetError {
  constructor(cluster: string, node: string, known: string[]) {
    super('unknown_node', `cluster "${cluster}" has no node "${node}"; its nodes: ${known.join(', ')}`);
  }
}

/** A validated inventory and the directory its relative paths are relative to. */
export class LoadedInventory {
  readonly dir: string;

  constructor(
    readonly path: string,
    readonly inventory: Inventory,
  ) {
    this.dir = dirname(path);
  }

  /** The cluster's spec, or an error listing the clusters there are. */
  cluster(name: string): ClusterSpec {
    const found = this.inventory.clusters.find((c) => c.name === name);
    if (!found) throw new UnknownClusterError(name, this.path, this.inventory.clusters.map((c) => c.name));
    return found;
  }

  /** A node of a cluster by name or address. */
  node(cluster: string, node: string): NodeSpec {
    const spec = this.cluster(cluster);
    const found = spec.nodes.find((n) => n.name === node || n.address === node);
    if (!found) throw new UnknownNodeError(cluster, node, spec.nodes.map((n) => n.name));
    return found;
  }

  /** A path from the inventory, made absolute against the inventory's directory. */
  file(relative: string): string {
    return isAbsolute(relative) ? relative : join(this.dir, relative);
  }

  /** Where install stores the cluster's admin kubeconfig. */
  kubeconfigPath(cluster: string): string {
    return this.file(this.cluster(cluster).kubeconfig ?? join(cluster, 'kubeconfig'));
  }

  /** The cluster's secrets bundle (holds every CA key: never log it, never pass it to a workflow). */
  secrets(cluster: string): SecretsBundle {
    const path = this.file(this.cluster(cluster).secrets);
    return parseSecretsBundle(readText(path, `secrets bundle of cluster "${cluster}"`), path);
  }

  /** The admin client identity from the cluster's talosconfig (its current context). */
  identity(cluster: string): ClientIdentity {
    const path = this.file(this.cluster(cluster).talosconfig);
    const { name, identity } = contextIdentity(loadTalosconfig(path), undefined, `talosconfig ${path}`);
    if (!identity) throw new FleetError('talosconfig_context', `talosconfig ${path} context "${name}" has no ca, crt and key: it cannot authenticate to the Talos API`);
    return identity;
  }

  /** The cluster's config patches, loaded (`@file` specs relative to the inventory). */
  patches(cluster: string): { all: ConfigPatch[]; controlplane: ConfigPatch[]; worker: ConfigPatch[]; node: (name: string) => ConfigPatch[] } {
    const spec = this.cluster(cluster);
    const load = (specs: string[]) => specs.map((s) => loadPatch(s, { cwd: this.dir }));
    return {
      all: load(spec.patches.all),
      controlplane: load(spec.patches.controlplane),
      worker: load(spec.patches.worker),
      node: (name) => load(this.node(cluster, name).patches),
    };
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : (err as Error).message;
    throw new FleetError('file_unreadable', `${what}: ${path} ${reason}`, { cause: err });
  }
}

/** Reads and validates an inventory; every schema problem is reported at once with its path. */
export function loadInventory(path: string = resolveInventoryPath()): LoadedInventory {
  const absolute = resolve(path);
  const data = parseYamlDocument(readText(absolute, 'inventory'), `inventory ${absolute}`);
  const result = validateInventory(data ?? {});
  if (result.problems) throw new ValidationError(`inventory ${absolute}`, result.problems);
  return new LoadedInventory(absolute, result.inventory);
}

/**
 * Problems with the files an inventory points at (`talos-fleet inventory check`): each cluster's secrets bundle and
 * talosconfig must load and belong together, and every patch must parse. Messages name the field, never a secret.
 */
export function checkInventoryFiles(loaded: LoadedInventory): Problem[] {
  const problems: Problem[] = [];
  loaded.inventory.clusters.forEach((c, ci) => {
    const at = (field: string) => `clusters[${ci}].${field}`;
    const attempt = <T>(field: string, fn: () => T): T | undefined => {
      try {
        return fn();
      } catch (err) {
        problems.push({ path: at(field), message: (err as Error).message });
        return undefined;
      }
    };
    const secrets = attempt('secrets', () => loaded.secrets(c.name));
    const identity = attempt('talosconfig', () => loaded.identity(c.name));
    if (secrets && identity && normalizePem(secrets.certs.os.crt) !== normalizePem(identity.ca)) {
      problems.push({ path: at('talosconfig'), message: `its CA is not the OS CA of the secrets bundle ${c.secrets}: they belong to different clusters` });
    }
    for (const kind of ['all', 'controlplane', 'worker'] as const) {
      c.patches[kind].forEach((p, pi) => attempt(`patches.${kind}[${pi}]`, () => loadPatch(p, { cwd: loaded.dir })));
    }
    c.nodes.forEach((n, ni) => n.patches.forEach((p, pi) => attempt(`nodes[${ni}].patches[${pi}]`, () => loadPatch(p, { cwd: loaded.dir }))));
  });
  return problems;
}

function normalizePem(pem: string): string {
  return pem.replace(/\s+/g, '');
}

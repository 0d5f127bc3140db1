import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FleetError } from '../errors';
import { certificateExpiry, issueCertificate } from '../config/certs';
import { parseGoDuration } from '../config/duration';
import { writeFilesAtomically, writeFileAtomically } from '../config/files';
import { generateMachineConfigs } from '../config/generate';
import { loadPatch } from '../config/patches';
import { parseRoles } from '../config/roles';
import { generateSecretsBundle, parseSecretsBundle, stringifySecretsBundle, type SecretsBundle } from '../config/secrets';
import { DEFAULT_CONTRACT, formatContract, parseVersionContract } from '../config/versions';
import { newTalosconfig, stringifyTalosconfig } from '../config/talosconfig';
import { writeTalosconfig } from '../talos/talosconfig';

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const list = (value: string, previous: string[]): string[] => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

function readSecrets(path: string): SecretsBundle {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FleetError('secrets_unreadable', `cannot read secrets bundle ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseSecretsBundle(text, `secrets bundle ${path}`);
}

function created(paths: string[]): void {
  for (const p of paths) process.stderr.write(`Created ${p}\n`);
}

/** Shorter client certificates expire before they can be used (clock skew alone is often seconds). */
const MIN_CRT_TTL_MS = 60_000;

/**
 * `talosctl`'s `--crt-ttl`: a Go duration of at least a minute that ends before the CA does (a client certificate
 * that outlives its CA stops working when the CA expires, whatever it says).
 */
function ttlOption(text: string, caCertificate: string, caSource: string, now = new Date()): number {
  const ms = parseGoDuration(text, '--crt-ttl');
  if (ms <= 0) throw new FleetError('invalid_ttl', `--crt-ttl must be longer than zero, got "${text}"`);
  if (ms < MIN_CRT_TTL_MS) throw new FleetError('invalid_ttl', `--crt-ttl ${text} is shorter than a minute: the certificate would expire before it is used; use for example 24h or 8760h`);
  const caExpiry = certificateExpiry(caCertificate);
  const maxHours = Math.floor((caExpiry.getTime() - now.getTime()) / 3_600_000);
  if (now.getTime() + ms > caExpiry.getTime()) {
    throw new FleetError('invalid_ttl', `--crt-ttl ${text} would outlive the OS CA of ${caSource}, which expires at ${caExpiry.toISOString()}; use at most ${maxHours}h`);
  }
  return ms;
}

/** A flag that takes `true` or `false`, nothing else (commander hands us the text). */
function booleanOption(name: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new FleetError('invalid_option', `${name} must be true or false, got "${text}"`);
}

/** `talos-fleet gen ...`: secrets bundles, machine configs and talosconfigs that talosctl accepts. */
export function registerGen(program: Command): void {
  const gen = program.command('gen').description('Generate secrets, machine configurations and talosconfigs (compatible with talosctl gen).');

  gen
    .command('secrets')
    .description('Generate a secrets bundle (CAs, tokens, encryption secret), like `talosctl gen secrets`.')
    .option('-o, --output <file>', 'where to write the bundle', 'secrets.yaml')
    .option('--talos-version <version>', 'Talos version contract the bundle is for', formatContract(DEFAULT_CONTRACT))
    .option('--force', 'overwrite an existing file', false)
    .action(async (opts: { output: string; talosVersion: string; force: boolean }) => {
      const bundle = await generateSecretsBundle({ versionContract: parseVersionContract(opts.talosVersion) });
      const path = resolve(opts.output);
      writeFileAtomically(path, stringifySecretsBundle(bundle), { force: opts.force, mode: 0o600 });
      created([path]);
    });

  gen
    .command('config')
    .description('Generate controlplane.yaml, worker.yaml and talosconfig for a cluster, like `talosctl gen config`.')
    .argument('<cluster-name>', 'cluster name (also the talosconfig context name)')
    .argument('<cluster-endpoint>', 'Kubernetes API endpoint, https://HOST:PORT (usually port 6443)')
    .option('--with-secrets <file>', 'use this secrets bundle instead of generating one')
    .option('--talos-version <version>', 'Talos version contract: v1.9 … v1.14 (v1.12: HostnameConfig; v1.14: multi-document, Image Factory installer)', formatContract(DEFAULT_CONTRACT))
    .option('--kubernetes-version <version>', "Kubernetes version (default: the Talos release's default)")
    .option('--install-disk <disk>', 'disk to install Talos to', '/dev/sda')
    .option('--install-image <image>', 'installer image (default: ghcr.io/siderolabs/installer of the Talos release; from v1.14 the Image Factory installer with the empty schematic)')
    .option('--additional-sans <sans>', 'extra SANs for the API server and Talos API certificates (comma-separated, repeatable)', list, [])
    .option('--dns-domain <domain>', 'cluster DNS domain', 'cluster.local')
    .option('--with-cluster-discovery <bool>', 'enable cluster discovery: true or false', 'true')
    .option('--endpoints <addresses>', 'control-plane addresses for the talosconfig (comma-separated, repeatable)', list, [])
    .option('--config-patch <patch>', 'patch for all nodes: inline YAML/JSON or @file (repeatable)', collect, [])
    .option('--config-patch-control-plane <patch>', 'patch for control-plane nodes (repeatable)', collect, [])
    .option('--config-patch-worker <patch>', 'patch for worker nodes (repeatable)', collect, [])
    .option('-o, --output <dir>', 'directory to write the three files to', '.')
    .option('--force', 'overwrite existing files', false)
    .action(
      async (
        clusterName: string,
        endpoint: string,
        opts: {
          withSecrets?: string;
          talosVersion: string;
          kubernetesVersion?: string;
          installDisk: string;
          installImage?: string;
          additionalSans: string[];
          dnsDomain: string;
          withClusterDiscovery: string;
          endpoints: string[];
          configPatch: string[];
          configPatchControlPlane: string[];
          configPatchWorker: string[];
          output: string;
          force: boolean;
        },
      ) => {
        const clusterDiscovery = booleanOption('--with-cluster-discovery', opts.withClusterDiscovery);
        const out = resolve(opts.output);
        const paths = { controlplane: join(out, 'controlplane.yaml'), worker: join(out, 'worker.yaml'), talosconfig: join(out, 'talosconfig') };
        const result = await generateMachineConfigs({
          clusterName,
          endpoint,
          secrets: opts.withSecrets ? readSecrets(resolve(opts.withSecrets)) : undefined,
          talosVersion: opts.talosVersion,
          kubernetesVersion: opts.kubernetesVersion,
          installDisk: opts.installDisk,
          installImage: opts.installImage,
          additionalSans: opts.additionalSans,
          dnsDomain: opts.dnsDomain,
          clusterDiscovery,
          talosconfigEndpoints: opts.endpoints,
          patches: opts.configPatch.map((p) => loadPatch(p)),
          controlPlanePatches: opts.configPatchControlPlane.map((p) => loadPatch(p)),
          workerPatches: opts.configPatchWorker.map((p) => loadPatch(p)),
        });
        // All three or none: a failure half-way must not leave a talosconfig without its configs.
        writeFilesAtomically(
          [
            { path: paths.controlplane, content: result.controlplane, mode: 0o600 },
            { path: paths.worker, content: result.worker, mode: 0o600 },
            { path: paths.talosconfig, content: stringifyTalosconfig(result.talosconfig), mode: 0o600 },
          ],
          { force: opts.force },
        );
        created(Object.values(paths));
      },
    );

  gen
    .command('talosconfig')
    .description('Issue a client certificate from the bundle\'s OS CA and write a talosconfig for it (e.g. a least-privilege os:etcd:backup one).')
    .requiredOption('--with-secrets <file>', 'secrets bundle holding the OS CA')
    .option('--roles <roles>', 'roles of the certificate (comma-separated, repeatable)', list, [])
    .option('--crt-ttl <duration>', 'certificate lifetime as a Go duration', '8760h')
    .option('--context <name>', 'context name (default: the cluster name from --cluster, else "talos")')
    .option('--cluster <name>', 'cluster name recorded in the context')
    .option('--endpoints <addresses>', 'control-plane addresses (comma-separated, repeatable)', list, [])
    .requiredOption('-o, --output <file>', 'where to write the talosconfig')
    .option('--force', 'overwrite an existing file', false)
    .action(
      async (opts: { withSecrets: string; roles: string[]; crtTtl: string; context?: string; cluster?: string; endpoints: string[]; output: string; force: boolean }) => {
        const roles = parseRoles(opts.roles.length > 0 ? opts.roles : ['os:admin'], '--roles');
        const secretsPath = resolve(opts.withSecrets);
        const bundle = readSecrets(secretsPath);
        const ttlMs = ttlOption(opts.crtTtl, bundle.certs.os.crt, secretsPath);
        const client = await issueCertificate(bundle.certs.os, { organizations: roles, usage: 'client', ttlMs });
        const name = opts.context ?? opts.cluster ?? 'talos';
        const cfg = newTalosconfig(name, opts.endpoints, bundle.certs.os.crt, client);
        if (opts.cluster) {
          const context = cfg.contexts[name];
          if (context === undefined) throw new Error(`newTalosconfig did not create the context "${name}"`);
          context.cluster = opts.cluster;
        }
        const path = resolve(opts.output);
        writeTalosconfig(path, cfg, { force: opts.force });
        created([path]);
      },
    );
}

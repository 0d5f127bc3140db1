import { isIP } from 'node:net';
import { ValidationError, type Problem } from '../errors';
import { certificateMatchesKey, decodePemField, type CertificateAndKey } from './certs';
import { clusterEndpointProblems, isCidr } from './endpoint';
import { stringifyGoYamlDocuments } from './goyaml';
import { parseConfigDocuments, type ConfigDocument } from './patches';
import { TOKEN_PATTERN, TOKEN_PROBLEM } from './tokens';
import { isMap } from './maps';
import { conflictProblems, multidocFields } from './multidoc';

/** A `{crt, key}` field as it appears in the YAML: base64 of PEM; workers carry no key. */
export interface EncodedPair {
  crt: string;
  key?: string;
}

/** One entry of `machine.network.interfaces`. */
export interface NetworkInterface {
  interface?: string;
  addresses: string[];
  routes: { network: string; gateway?: string; metric?: number }[];
  dhcp?: boolean;
  mtu?: number;
}

/** Machine type values Talos accepts (`init` is deprecated but still loads). */
export type MachineType = 'controlplane' | 'worker' | 'init';

/**
 * A typed view of a machine configuration's v1alpha1 document, for the fields this project reads.
 * `documents` holds every document as parsed, so the configuration can be written back unchanged.
 */
export interface MachineConfig {
  source: string;
  documents: ConfigDocument[];
  /** The v1alpha1 document itself (one of `documents`). */
  raw: ConfigDocument;
  machine: {
    type: MachineType;
    token: string;
    ca: EncodedPair;
    certSANs: string[];
    network: { hostname?: string; interfaces: NetworkInterface[]; nameservers: string[] };
    /** `unattended`: the install is driven by a 1.14 UnattendedInstallConfig document (whose image is `image`). */
    install: { disk?: string; image?: string; unattended?: boolean };
    kubelet: { image?: string };
    features: { rbac?: boolean };
  };
  cluster: {
    id?: string;
    secret?: string;
    clusterName?: string;
    controlPlane: { endpoint: string };
    apiServer: { image?: string; certSANs: string[] };
    etcd: { ca?: EncodedPair; extraArgs?: Record<string, string> };
    ca?: EncodedPair;
    network: { dnsDomain?: string; podSubnets: string[]; serviceSubnets: string[] };
    token?: string;
  };
}

const MACHINE_TYPES: MachineType[] = ['controlplane', 'worker', 'init'];

/** Collects problems while reading the untyped document, each under its dotted field path. */
class Reader {
  readonly problems: Problem[] = [];

  map(v: unknown, path: string, required: boolean): Record<string, unknown> {
    if (v === undefined || v === null) {
      if (required) this.problems.push({ path, message: 'is required' });
      return {};
    }
    if (!isMap(v)) {
      this.problems.push({ path, message: 'must be a mapping' });
      return {};
    }
    return v;
  }

  str(v: unknown, path: string, required: boolean): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.problems.push({ path, message: 'is required' });
      return undefined;
    }
    if (typeof v !== 'string') {
      this.problems.push({ path, message: 'must be a string' });
      return undefined;
    }
    return v;
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.problems.push({ path, message: 'must be a list' });
      return [];
    }
    return v as unknown[];
  }

  strings(v: unknown, path: string, check?: (s: string) => string | undefined): string[] {
    return this.list(v, path).flatMap((e, i) => {
      const s = this.str(e, `${path}[${i}]`, true);
      if (s === undefined) return [];
      const problem = check?.(s);
      if (problem) {
        this.problems.push({ path: `${path}[${i}]`, message: problem });
        return [];
      }
      return [s];
    });
  }

  /** A crt/key pair: both must be base64 of PEM, and a key must belong to its certificate. */
  pair(v: unknown, path: string, required: boolean, keyRequired: boolean): EncodedPair | undefined {
    if ((v === undefined || v === null) && !required) return undefined;
    const m = this.map(v, path, required);
    if (!isMap(v)) return undefined;
    const crtText = this.str(m.crt, `${path}.crt`, true);
    const keyText = this.str(m.key, `${path}.key`, keyRequired);
    const crt = crtText === undefined ? undefined : this.pem(crtText, `${path}.crt`, 'certificate');
    const key = keyText === undefined ? undefined : this.pem(keyText, `${path}.key`, 'key');
    if (crt && key && !certificateMatchesKey({ crt, key })) {
      this.problems.push({ path: `${path}.key`, message: `does not match the certificate in ${path}.crt` });
    }
    return crtText === undefined ? undefined : { crt: crtText, ...(keyText ? { key: keyText } : {}) };
  }

  private pem(text: string, path: string, what: 'certificate' | 'key'): string | undefined {
    const decoded = decodePemField(text.replace(/\s+/g, ''), what);
    if ('pem' in decoded) return decoded.pem;
    this.problems.push({ path, message: decoded.problem });
    return undefined;
  }
}

const cidrProblem = (s: string): string | undefined => (isCidr(s) ? undefined : `"${s}" is not a valid CIDR (e.g. 10.244.0.0/16)`);
const addressProblem = (s: string): string | undefined =>
  isCidr(s) || isIP(s) !== 0 ? undefined : `"${s}" is not an IP address or CIDR (e.g. 192.168.1.10/24)`;

function readInterfaces(r: Reader, v: unknown, path: string): NetworkInterface[] {
  return r.list(v, path).map((raw, i) => {
    const at = `${path}[${i}]`;
    const m = r.map(raw, at, true);
    const routes = r.list(m.routes, `${at}.routes`).map((route, j) => {
      const rp = `${at}.routes[${j}]`;
      const rm = r.map(route, rp, true);
      const network = r.str(rm.network, `${rp}.network`, false) ?? '';
      // An empty network is the default route, as in Talos.
      if (network !== '' && !isCidr(network)) r.problems.push({ path: `${rp}.network`, message: cidrProblem(network)! });
      const gateway = r.str(rm.gateway, `${rp}.gateway`, false);
      if (gateway !== undefined && isIP(gateway) === 0) r.problems.push({ path: `${rp}.gateway`, message: `"${gateway}" is not an IP address` });
      return { network, ...(gateway ? { gateway } : {}), ...(typeof rm.metric === 'number' ? { metric: rm.metric } : {}) };
    });
    return {
      ...(typeof m.interface === 'string' ? { interface: m.interface } : {}),
      addresses: r.strings(m.addresses, `${at}.addresses`, addressProblem),
      routes,
      ...(typeof m.dhcp === 'boolean' ? { dhcp: m.dhcp } : {}),
      ...(typeof m.mtu === 'number' ? { mtu: m.mtu } : {}),
    };
  });
}

/** The v1alpha1 document: `version: v1alpha1`, or a document with neither kind nor apiVersion. */
function findV1alpha1(docs: ConfigDocument[]): ConfigDocument | undefined {
  return docs.find((d) => d.version === 'v1alpha1' || (d.kind === undefined && d.apiVersion === undefined));
}

/**
 * Parses and validates a machine configuration (multi-document aware). Every problem is reported at once with its
 * field path: no v1alpha1 document, missing machine.type or token, a bad cluster.controlPlane.endpoint, an invalid
 * CIDR, a CA key that does not match its certificate, a control plane without the CA keys it needs.
 */
export function parseMachineConfig(yamlText: string, source = 'machine config'): MachineConfig {
  const documents = parseConfigDocuments(yamlText, source);
  const raw = findV1alpha1(documents);
  if (!raw) throw new ValidationError(source, [{ path: '', message: 'no v1alpha1 document (a document with "version: v1alpha1") found' }]);

  const r = new Reader();
  // 1.12+/1.14 documents that took over v1alpha1 fields: read from them, and refuse the same field set in both.
  const multi = multidocFields(documents);
  r.problems.push(...conflictProblems(raw, documents));
  if (raw.version !== 'v1alpha1') r.problems.push({ path: 'version', message: 'must be "v1alpha1"' });
  const m = r.map(raw.machine, 'machine', true);
  const c = r.map(raw.cluster, 'cluster', true);

  const typeText = r.str(m.type, 'machine.type', true);
  if (typeText !== undefined && !MACHINE_TYPES.includes(typeText as MachineType)) {
    r.problems.push({ path: 'machine.type', message: `"${typeText}" is not one of ${MACHINE_TYPES.join(', ')}` });
  }
  const controlPlane = typeText === 'controlplane' || typeText === 'init';
  const token = r.str(m.token, 'machine.token', true);
  if (token !== undefined && !TOKEN_PATTERN.test(token)) {
    r.problems.push({ path: 'machine.token', message: TOKEN_PROBLEM });
  }
  const machineCa = r.pair(m.ca, 'machine.ca', true, controlPlane);
  const network = r.map(m.network, 'machine.network', false);
  const install = r.map(m.install, 'machine.install', false);
  const kubelet = r.map(m.kubelet, 'machine.kubelet', false);
  const features = r.map(m.features, 'machine.features', false);

  const cpConfig = r.map(c.controlPlane, 'cluster.controlPlane', multi.endpoint === undefined);
  const endpoint = multi.endpoint ?? r.str(cpConfig.endpoint, 'cluster.controlPlane.endpoint', true);
  if (endpoint !== undefined) r.problems.push(...clusterEndpointProblems(endpoint, 'cluster.controlPlane.endpoint', { requirePort: false }));
  const clusterNetwork = r.map(c.network, 'cluster.network', false);
  const apiServer = r.map(c.apiServer, 'cluster.apiServer', false);
  const etcd = r.map(c.etcd, 'cluster.etcd', false);
  const clusterToken = r.str(c.token, 'cluster.token', false);
  if (clusterToken !== undefined && !TOKEN_PATTERN.test(clusterToken)) {
    r.problems.push({ path: 'cluster.token', message: TOKEN_PROBLEM });
  }
  const clusterCa = multi.kubernetesCa ?? r.pair(c.ca, 'cluster.ca', controlPlane, controlPlane);
  r.pair(c.aggregatorCA, 'cluster.aggregatorCA', false, controlPlane);
  const etcdCa = r.pair(etcd.ca, 'cluster.etcd.ca', controlPlane, controlPlane);

  const cfg: MachineConfig = {
    source,
    documents,
    raw,
    machine: {
      type: (typeText ?? 'worker') as MachineType,
      token: token ?? '',
      ca: machineCa ?? { crt: '' },
      certSANs: r.strings(m.certSANs, 'machine.certSANs'),
      network: {
        hostname: multi.hostname ?? r.str(network.hostname, 'machine.network.hostname', false),
        interfaces: readInterfaces(r, network.interfaces, 'machine.network.interfaces'),
        nameservers: r.strings(network.nameservers, 'machine.network.nameservers', (s) => (isIP(s) ? undefined : `"${s}" is not an IP address`)),
      },
      install: {
        disk: r.str(install.disk, 'machine.install.disk', false),
        image: multi.installImage ?? r.str(install.image, 'machine.install.image', false),
        ...(multi.unattendedInstall ? { unattended: true } : {}),
      },
      kubelet: { image: multi.kubeletImage ?? r.str(kubelet.image, 'machine.kubelet.image', false) },
      features: typeof features.rbac === 'boolean' ? { rbac: features.rbac } : {},
    },
    cluster: {
      id: multi.clusterId ?? r.str(c.id, 'cluster.id', false),
      secret: multi.clusterSecret ?? r.str(c.secret, 'cluster.secret', false),
      clusterName: multi.clusterName ?? r.str(c.clusterName, 'cluster.clusterName', false),
      controlPlane: { endpoint: endpoint ?? '' },
      apiServer: { image: multi.apiServerImage ?? r.str(apiServer.image, 'cluster.apiServer.image', false), certSANs: r.strings(apiServer.certSANs, 'cluster.apiServer.certSANs') },
      etcd: etcdCa ? { ca: etcdCa } : {},
      ...(clusterCa ? { ca: clusterCa } : {}),
      network: {
        dnsDomain: r.str(clusterNetwork.dnsDomain, 'cluster.network.dnsDomain', false),
        podSubnets: r.strings(clusterNetwork.podSubnets, 'cluster.network.podSubnets', cidrProblem),
        serviceSubnets: r.strings(clusterNetwork.serviceSubnets, 'cluster.network.serviceSubnets', cidrProblem),
      },
      token: clusterToken,
    },
  };
  if (r.problems.length > 0) throw new ValidationError(source, r.problems);
  return cfg;
}

/** Writes a parsed configuration back as YAML in Talos's layout (all documents, in order). */
export function stringifyMachineConfig(cfg: MachineConfig): string {
  return stringifyGoYamlDocuments(cfg.documents);
}

/** Decodes an {@link EncodedPair} to PEM text. */
export function decodePair(pair: EncodedPair): { crt: string; key?: string } {
  const dec = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
  return { crt: dec(pair.crt), ...(pair.key ? { key: dec(pair.key) } : {}) };
}

/**
 * The Talos API (OS) CA of a control-plane configuration as PEM, ready for {@link issueCertificate}:
 * the CA a node serves its apid certificate from. Throws when the configuration carries no CA key (workers).
 */
export function machineCertificateAuthority(cfg: MachineConfig): CertificateAndKey {
  const pair = decodePair(cfg.machine.ca);
  if (!pair.key) {
    throw new ValidationError(cfg.source, [{ path: 'machine.ca.key', message: 'is required to issue certificates (worker configs carry only the certificate)' }]);
  }
  return { crt: pair.crt, key: pair.key };
}

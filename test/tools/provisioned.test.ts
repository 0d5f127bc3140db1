// The binaries `npm run tools` (the pretest step) provides: each runs and reports the version the project pins.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { requireEtcd, requireKubernetes, requireKwok, requireTool } from '../../src/tools/binaries';
import { ETCD_LINES, ETCD_VERSIONS, KUBERNETES_VERSION, KWOK_VERSION } from '../../src/tools/catalog';
import { listTools, provisionTools } from '../../src/tools/provision';

const output = (bin: string, ...args: string[]): string => execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the provisioned tools', () => {
  it.each(ETCD_LINES)('provides etcd, etcdctl and etcdutl of the %s line, all at the pinned release', (line) => {
    const etcd = requireEtcd(line);
    expect(etcd.version).toBe(ETCD_VERSIONS[line]);
    expect(output(etcd.etcd, '--version')).toContain(`etcd Version: ${ETCD_VERSIONS[line]}\n`);
    expect(output(etcd.etcdctl, 'version')).toContain(`etcdctl version: ${ETCD_VERSIONS[line]}\n`);
    expect(output(etcd.etcdutl, 'version')).toContain(`etcdutl version: ${ETCD_VERSIONS[line]}\n`);
  });

  it('resolves the plain etcd tools of existing callers to the 3.5 line (what Talos 1.10 ships)', () => {
    expect(output(requireTool('etcd'), '--version')).toContain('etcd Version: 3.5.');
    expect(output(requireTool('etcdctl'), 'version')).toContain('etcdctl version: 3.5.');
  });

  it('provides the Kubernetes control plane with the release stamped in, as /version will report it', () => {
    const k8s = requireKubernetes();
    expect(k8s.version).toBe(KUBERNETES_VERSION);
    for (const bin of [k8s.kubeApiserver, k8s.kubeControllerManager, k8s.kubeScheduler]) {
      expect(output(bin, '--version')).toBe(`Kubernetes v${KUBERNETES_VERSION}\n`);
    }
    // --version=raw prints the whole version.Info (Go syntax) that /version serves.
    const raw = output(k8s.kubeApiserver, '--version=raw');
    const [major, minor] = KUBERNETES_VERSION.split('.');
    for (const field of [`Major:"${major}"`, `Minor:"${minor}"`, `GitVersion:"v${KUBERNETES_VERSION}"`, 'GitTreeState:"clean"']) expect(raw).toContain(field);
    expect(raw).toMatch(/BuildDate:"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/);
  });

  it('provides kwok and the stage definitions it needs to manage nodes and pods', () => {
    const kwok = requireKwok();
    expect(output(kwok.kwok, '--version')).toMatch(new RegExp(`^kwok version v${KWOK_VERSION.replace(/\./g, '\\.')} `));
    const stages = kwok.stages.map((file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string } }));
    expect(stages.flat().every((s) => s.kind === 'Stage')).toBe(true);
    expect(stages.flat().map((s) => s.metadata.name)).toEqual(expect.arrayContaining(['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete']));
  });

  it('provides Versity Gateway, stamped with its release', () => {
    expect(output(requireTool('versitygw'), '--version')).toContain('Version  : v1.8.0\n');
  });

  it('provides the standard age tools, which decrypt what they encrypt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-age-'));
    try {
      const key = join(dir, 'key.txt');
      execFileSync(requireTool('age-keygen'), ['-o', key], { stdio: 'ignore' });
      const recipient = /public key: (age1\S+)/.exec(readFileSync(key, 'utf8'))![1]!;
      writeFileSync(join(dir, 'plain'), 'etcd snapshot bytes');
      execFileSync(requireTool('age'), ['-r', recipient, '-o', join(dir, 'sealed'), join(dir, 'plain')]);
      expect(readFileSync(join(dir, 'sealed'), 'latin1')).toMatch(/^age-encryption\.org\/v1\n/);
      expect(output(requireTool('age'), '-d', '-i', key, join(dir, 'sealed'))).toBe('etcd snapshot bytes');
      expect(output(requireTool('age'), '--version')).toMatch(/^v?1\.\d+\.\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('provides a Temporal CLI whose dev server the SDK can start and talk to', async () => {
    const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: requireTool('temporal') }, ip: '127.0.0.1' } });
    try {
      const ns = await env.client.workflowService.describeNamespace({ namespace: env.namespace ?? 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
    } finally {
      await env.teardown();
    }
  }, 60_000);

  it('finds everything again without building anything: a second `npm run tools` only links', async () => {
    const lines: string[] = [];
    const outcomes = await provisionTools({ write: (t) => void lines.push(t) });
    expect(outcomes.filter((o) => o.status === 'built' || o.status === 'failed')).toEqual([]);
    expect(lines.join('').split('\n').filter(Boolean)).toHaveLength(outcomes.length);
    expect(listTools().filter((row) => !row.found)).toEqual([]);
  });
});

import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { locateTool, requireTool, ToolMissingError, TOOLS_DIR } from '../../src/tools/binaries';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-tools-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fakeTool(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho fake\n');
  chmodSync(path, 0o755);
  return path;
}

describe('finding the external tools', () => {
  it("prefers the user's binary named by the environment variable", () => {
    const fake = fakeTool('my-temporal');
    expect(locateTool('temporal', { ...process.env, TEMPORAL_CLI_PATH: fake })).toBe(fake);
  });

  it('refuses an environment variable that does not point to an executable, naming the variable', () => {
    expect(() => locateTool('etcd', { ...process.env, ETCD_BIN: join(dir, 'missing') })).toThrow(/ETCD_BIN=.*missing is not an executable file/);
  });

  it('finds etcdctl beside the etcd named by ETCD_BIN', () => {
    fakeTool('etcdctl');
    expect(locateTool('etcdctl', { PATH: '', ETCD_BIN: fakeTool('etcd') })).toBe(join(dir, 'etcdctl'));
  });

  it('takes a binary on PATH before the project-local copy', () => {
    const binDir = mkdtempSync(join(dir, 'bin-'));
    writeFileSync(join(binDir, 'temporal'), '#!/bin/sh\n');
    chmodSync(join(binDir, 'temporal'), 0o755);
    expect(locateTool('temporal', { PATH: binDir })).toBe(join(binDir, 'temporal'));
  });

  it('says how to get a tool it cannot find', () => {
    const message = new ToolMissingError('etcd').message;
    expect(message).toContain('set ETCD_BIN, put it on PATH, or run `npm run tools`');
    expect(message).toContain(TOOLS_DIR);
  });

  it('provides a working etcd 3.4 and etcdctl', () => {
    expect(execFileSync(requireTool('etcd'), ['--version']).toString()).toMatch(/etcd Version: 3\.4\./);
    expect(execFileSync(requireTool('etcdctl'), ['version']).toString()).toMatch(/etcdctl version: 3\.4\./);
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
});

import { patched, setWorkflowOptions } from '@temporalio/workflow';
import type { RestoreTarget } from '../activities/restore';
import { DEFAULT_BACKUP_TIMINGS, type BackupTimings, type RestoreClusterInput, type RestoreClusterResult, type SnapshotMetadata } from '../shared/backups';
import { causeMessage, Run, stepFailure } from './run';
import { backupActivities } from './snapshot';

/** A promise's outcome as a value, so parallel node steps are all awaited before the first failure is raised. */
async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: Error }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error: error as Error };
  }
}

/**
 * Disaster recovery from a snapshot (talos-ops.md §4): choose the snapshot and verify it before anything is
 * destructive; the restore gate (two distinct approvers where the policy says so); stop etcd on every control plane,
 * then reset each once (EPHEMERAL, and ETCD where it is a volume of its own; not graceful; reboot); wait until every
 * control plane's etcd waits in Preparing now and no old member answers; EtcdRecover to one of them and Bootstrap
 * with recover_etcd, once each; every control plane a voting member again; health; the snapshot's data back (its keys
 * in etcd, and what the Kubernetes API served before the snapshot, served again); then
 * one control plane rebooted and everything checked again, since a restore must survive its first reboot.
 */
export async function restoreCluster(input: RestoreClusterInput): Promise<RestoreClusterResult> {
  const run = new Run('restore', input.cluster, input.requester);
  const t: BackupTimings = { ...DEFAULT_BACKUP_TIMINGS, ...input.timing };
  const { acts, checks, transfers } = backupActivities(t);
  const cluster = input.cluster;
  const checksDone: string[] = [];

  /**
   * The Kubernetes API must serve what it served before the snapshot (its marker naming the snapshot, every Node
   * Ready, the kube-system Deployments). Snapshots taken while the API did not answer hold nothing to compare with.
   */
  const verifyKubernetes = async (snapshot: SnapshotMetadata, when: string): Promise<void> => {
    if (!patched('kubernetes-proof')) return;
    const expected = snapshot.kubernetes;
    if (!expected) {
      run.event('phase', `no Kubernetes check: the API did not answer when ${snapshot.id} was taken, so there is nothing to compare with`);
      return;
    }
    run.phase('verify-kubernetes', `checking through the Kubernetes API that it serves ${snapshot.id} (${when}): its marker ConfigMap, ${expected.nodes.length} Nodes Ready, ${expected.deployments.length} kube-system Deployments`);
    const proof = await run.waitFor('verify-kubernetes', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkKubernetesRestored({ cluster, expected, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }));
    checksDone.push(`${when}: ${proof.detail}`);
    run.event('phase', proof.detail);
  };

  return run.execute(
    async () => {
      run.phase('plan', `planning the restore of ${cluster} from ${input.from}`);
      const plan = await acts.planRestore({ cluster });
      run.setPolicy(plan.policy);
      run.setNodes(plan.controlPlanes.map(({ name, address, role }) => ({ name, address, role })));
      const chosen = await acts.chooseSnapshot({ cluster, from: input.from, ...(input.allowUnverified ? { allowUnverified: true } : {}) });

      run.phase('verify-snapshot', `verifying snapshot ${chosen.id} before anything is reset: read back, decrypt, hashes, etcd trailer, a throwaway etcd`);
      const snapshot = await transfers.verifySnapshot({ cluster, id: chosen.id }).catch((err: unknown) => Promise.reject(stepFailure('verify-snapshot', undefined, new Error(`${causeMessage(err)}; nothing was reset`))));
      run.event('phase', `snapshot ${snapshot.id} is intact: ${snapshot.verification.detail ?? ''}`);

      run.phase('preflight', 'checking that every control plane answers');
      const targets: RestoreTarget[] = await acts.preflightRestore({ cluster });
      for (const target of targets) run.node(target.node, 'pending', `answers; etcd ${target.etcd}; its Reset will wipe ${target.wipe.join(' and ')}`);
      const recoverOn = targets[0]!.node;

      run.phase('approval', 'waiting for approval to restore');
      await run.approval(
        'start',
        `restore ${cluster} from snapshot ${snapshot.id} (taken ${snapshot.takenAt} from ${snapshot.node}, ${snapshot.content?.keys ?? '?'} keys at revision ${snapshot.content?.revision ?? '?'}): ` +
          `reset every control plane (${targets.map((x) => x.node).join(', ')}), wiping etcd's data, then recover etcd on ${recoverOn}. Everything written since the snapshot is lost.`,
      );

      run.phase('stop-etcd', 'stopping etcd on every control plane');
      const stopped = await Promise.all(targets.map((x) => settle(run.atomic(() => acts.stopEtcd({ cluster, node: x.node })))));
      const notStopped = stopped.find((s) => s.error)?.error;
      if (notStopped) throw stepFailure('stop-etcd', undefined, notStopped);

      run.phase('reset', `resetting every control plane (${targets.map((x) => x.node).join(', ')})`);
      const resets = await Promise.all(
        targets.map((x) =>
          settle(
            run.atomic(async () => {
              run.node(x.node, 'working', 'resetting');
              const r = await acts.resetControlPlane({ cluster, node: x.node, bootIdBefore: x.bootId, wipe: x.wipe });
              run.node(x.node, 'working', r.detail);
              return r;
            }),
          ),
        ),
      );
      const resetFailed = resets.find((r) => r.error)?.error;
      if (resetFailed) throw stepFailure('reset', undefined, resetFailed);

      run.checkpoint();
      run.phase('preparing', 'waiting until every control plane waits in Preparing and no old etcd member answers');
      await run.waitFor('preparing', undefined, t.preparingTimeoutMs, t.pollIntervalMs, () => checks.checkPreparing({ cluster, windowMs: t.checkWindowMs, stableMs: t.preparingStableMs }));
      for (const x of targets) run.node(x.node, 'working', 'etcd waits in Preparing');

      run.phase('recover', `uploading ${snapshot.id} to ${recoverOn} (EtcdRecover), then Bootstrap with recover_etcd`);
      const upload = await run.atomic(() => transfers.uploadRecovery({ cluster, node: recoverOn, id: snapshot.id, timeoutMs: t.transferTimeoutMs })).catch((err: unknown) => Promise.reject(stepFailure('recover', recoverOn, err)));
      run.node(recoverOn, 'working', upload.detail);
      const boot = await run.atomic(() => acts.bootstrapRecovered({ cluster, node: recoverOn })).catch((err: unknown) => Promise.reject(stepFailure('recover', recoverOn, err)));
      run.node(recoverOn, 'working', boot.detail);

      run.phase('etcd', 'waiting for every control plane to rejoin etcd');
      await run.waitFor('etcd', undefined, t.etcdJoinTimeoutMs, t.pollIntervalMs, () => checks.checkEtcdMembers({ cluster, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }));
      run.phase('health', 'waiting for the cluster health check to pass');
      await run.waitFor('health', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));

      run.phase('verify-data', `checking that the data of ${snapshot.id} is back`);
      const first = await transfers.verifyRestoredData({ cluster, id: snapshot.id, node: recoverOn, timeoutMs: t.transferTimeoutMs }).catch((err: unknown) => Promise.reject(stepFailure('verify-data', undefined, err)));
      checksDone.push(`after the restore: ${first.detail}`);
      run.event('phase', first.detail);
      await verifyKubernetes(snapshot, 'after the restore');
      for (const x of targets) run.node(x.node, 'done', 'etcd member; data restored');

      const rebootNode = targets[targets.length - 1]!.node;
      run.phase('reboot', `rebooting ${rebootNode} to prove the restore survives a reboot`);
      const bootIdBefore = await acts.bootIdOf({ cluster, node: rebootNode });
      await run.atomic(() => acts.rebootOnce({ cluster, node: rebootNode, bootIdBefore }));
      run.node(rebootNode, 'working', 'rebooting');
      await run.waitFor('reboot', rebootNode, t.rebootTimeoutMs, t.pollIntervalMs, () => checks.checkRebooted({ cluster, node: rebootNode, bootIdBefore, windowMs: t.checkWindowMs }));
      await run.waitFor('etcd', undefined, t.etcdJoinTimeoutMs, t.pollIntervalMs, () => checks.checkEtcdMembers({ cluster, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }));
      await run.waitFor('health', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));
      const again = await transfers.verifyRestoredData({ cluster, id: snapshot.id, node: rebootNode, timeoutMs: t.transferTimeoutMs }).catch((err: unknown) => Promise.reject(stepFailure('verify-data', rebootNode, err)));
      checksDone.push(`after rebooting ${rebootNode}: ${again.detail}`);
      await verifyKubernetes(snapshot, `after rebooting ${rebootNode}`);
      run.node(rebootNode, 'done', 'rebooted; data still there');
      return { cluster, snapshot: snapshot.id, recoveredOn: recoverOn, rebooted: rebootNode, checks: checksDone };
    },
    (r) => `cluster ${cluster} is restored from ${r.snapshot}, healthy with every control plane a member, and still so after rebooting ${r.rebooted}`,
  );
}

// A restore finishes on the code it started with, even when a newer worker build is deployed meanwhile.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, restoreCluster);

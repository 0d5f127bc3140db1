import type { MutatingOperation } from '../shared/names';
import type { GatePolicy } from '../shared/runs';
import type { ClusterPolicy } from './schema';

/** The gate policy one operation of a cluster runs under, from the inventory's policy block. */
export function gatePolicy(policy: ClusterPolicy, operation: MutatingOperation): GatePolicy {
  return {
    approvers: policy.approvers,
    allowSelfApproval: policy.allowSelfApproval,
    gates: policy.gates[operation],
    requiredApprovals: operation === 'restore' ? policy.requiredApprovals.restore : 1,
    approvalTimeoutMs: policy.approvalTimeout,
    onTimeout: policy.onApprovalTimeout,
    reminderEveryMs: policy.reminderEvery,
  };
}

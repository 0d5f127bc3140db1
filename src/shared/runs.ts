/**
 * What every run shares, whatever its operation: who may decide its gates, how it reports progress, and the
 * messages (Updates and Queries) that entry points send it. Imported by workflows, entry points and the bot.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Operation } from './names';

/** Who may decide a cluster's gates and what an unanswered gate does; read from the inventory by the worker. */
export interface GatePolicy {
  /** User ids that may approve, reject and decide (CLI users by name, Slack users by id). */
  approvers: string[];
  /** Whether the user who started a run may approve it. */
  allowSelfApproval: boolean;
  /** Approval gates this operation stops at (e.g. `start`); decision gates open on failures regardless. */
  gates: string[];
  /** Distinct approvers an approval gate needs (two for restores in production). */
  requiredApprovals: number;
  /** How long a gate waits before its timeout action. */
  approvalTimeoutMs: number;
  /** What an unanswered gate does after `approvalTimeoutMs`: keep waiting (reminding) or abort the run. */
  onTimeout: 'hold' | 'abort';
  /** While holding, how often to remind. */
  reminderEveryMs: number;
}

/** Approval gates ask to go on; decision gates ask what to do about a failure. */
export type GateKind = 'approval' | 'decision';

export type ApprovalChoice = 'approve' | 'reject';
export type DecisionChoice = 'retry' | 'rollback' | 'skip' | 'abort';
export type GateChoice = ApprovalChoice | DecisionChoice;

/** The argument of the `decide` Update: a person's answer to the open gate. */
export interface DecideInput {
  /** The gate answered; when given it must be the open one, so a stale button cannot decide a newer gate. */
  gate?: string;
  choice: GateChoice;
  /** The deciding user's id (for Slack, the clicker's user id). */
  user: string;
  /**
   * User groups the entry point found the user in (Slack user group ids, asked of Slack): an approver entry naming
   * one of them admits the user. The decision is still the user's own (distinct approvers, self-approval).
   */
  groups?: string[];
  reason?: string;
}

/** Whether a user is one of the approvers: listed by id, or a member of a listed user group. */
export function isApprover(approvers: string[], user: string, groups: string[] = []): boolean {
  return approvers.includes(user) || groups.some((g) => approvers.includes(g));
}

/** One person's answer, as recorded in the run. */
export interface GateDecision {
  user: string;
  choice: GateChoice;
  /** ISO-8601 time (workflow time). */
  at: string;
  reason?: string;
}

/** A gate that is waiting for people. */
export interface OpenGate {
  name: string;
  kind: GateKind;
  /** What the gate is about, for the message that asks (the plan, the failure). */
  summary: string;
  choices: GateChoice[];
  openedAt: string;
  approvalsNeeded: number;
  decisions: GateDecision[];
  /** The node a decision gate is about. */
  node?: string;
}

/** A gate that has been decided (or timed out). */
export interface ClosedGate extends OpenGate {
  outcome: GateChoice | 'timed-out';
  closedAt: string;
}

/** The result of the `decide` Update. */
export interface DecideResult {
  gate: string;
  accepted: GateChoice;
  /** True when the gate closed with this answer; false when it still waits for more approvers. */
  closed: boolean;
}

/** The argument of the `abort` Update. */
export interface AbortInput {
  user: string;
  /** As in {@link DecideInput.groups}. */
  groups?: string[];
  reason?: string;
}

/** Where one node of a run stands. */
export interface NodeProgress {
  name: string;
  address: string;
  role: 'controlplane' | 'worker';
  state: 'pending' | 'working' | 'done' | 'skipped' | 'failed';
  /** The step under way or the last result ("applying config", "installing", "ready on v1.10.9"). */
  detail: string;
}

/** One line of a run's event log. */
export interface RunEvent {
  at: string;
  message: string;
  node?: string;
}

export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'aborted';

/** What the `progress` Query returns: enough for a terminal display, a Slack message or a status page. */
export interface RunProgress {
  cluster: string;
  operation: Operation;
  requester: string;
  status: RunStatus;
  phase: string;
  nodes: NodeProgress[];
  gate?: OpenGate;
  gates: ClosedGate[];
  /** The newest events (bounded). */
  events: RunEvent[];
  error?: string;
  /** What a completed run achieved, in one line (its last event): `snapshot of prod stored and verified: prod-…`. */
  outcome?: string;
  abortedBy?: string;
}

/** Answers the open gate. Validated in the workflow: a rejected answer never reaches the history. */
export const decideUpdate = defineUpdate<DecideResult, [DecideInput]>('decide');

/** Stops the run at the next safe point (between nodes, never in the middle of one). */
export const abortUpdate = defineUpdate<string, [AbortInput]>('abort');

/** The run's progress, for CLIs and the bot (needs a running worker; not stored in history). */
export const progressQuery = defineQuery<RunProgress>('progress');

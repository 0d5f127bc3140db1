/**
 * What every operation's workflow shares: its progress (Query, UI details, search attributes), its gates (Updates
 * with validators), abort requests, notifications, and the named-step error that a failed run ends with.
 * Deterministic code only: every effect goes through an activity.
 */
import {
  ActivityFailure,
  ChildWorkflowFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  isCancellation,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Operation } from '../shared/names';
import { MAX_NOTIFICATION_BATCH, type NotificationKind, type NotificationRefs, type RunNotification } from '../shared/notifications';
import {
  abortUpdate,
  decideUpdate,
  isApprover,
  progressQuery,
  type AbortInput,
  type ClosedGate,
  type DecideInput,
  type DecideResult,
  type DecisionChoice,
  type GateChoice,
  type GatePolicy,
  type NodeProgress,
  type OpenGate,
  type RunProgress,
} from '../shared/runs';
import { PHASE } from '../shared/search-attributes';

/** How many events the progress keeps (the Temporal history has them all). */
const MAX_EVENTS = 50;

/** Choices that move a run forward; a requester may not make them on their own run where self-approval is forbidden. */
const FORWARD: GateChoice[] = ['approve', 'retry', 'skip', 'rollback'];

/** Raised inside a run when someone aborted it; the run ends at a safe point with status `aborted`. */
export const ABORTED = 'RunAborted';

/**
 * A node's step that failed: the run stops at that node and asks what to do. `rollbackPossible` offers the Rollback
 * choice (the node answers and has another image to boot).
 */
export class NodeFailure extends Error {
  constructor(
    readonly node: string,
    readonly step: string,
    message: string,
    readonly rollbackPossible = false,
  ) {
    super(message);
  }
}

/** The failure a run ends with when a named step failed: the step, the node, and the cause's own message. */
export function stepFailure(step: string, node: string | undefined, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure && (err.type === ABORTED || err.type === 'StepFailed')) return err;
  const cause = causeMessage(err);
  return ApplicationFailure.create({
    type: 'StepFailed',
    message: `${step}${node ? ` on ${node}` : ''} failed: ${cause}`,
    details: [{ step, node: node ?? null }],
    nonRetryable: true,
  });
}

/** The innermost useful message of an activity or child workflow failure ("Activity task failed" says nothing). */
export function causeMessage(err: unknown): string {
  let e = err as Error | undefined;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e?.message ?? String(err);
}

/**
 * One run of an operation. Create it first thing in the workflow function: it registers the Query and Update
 * handlers before any await, so an early click is validated against a consistent state.
 */
export class Run {
  readonly progress: RunProgress;
  private policy?: GatePolicy;
  private gate?: OpenGate;
  private gateOutcome?: GateChoice;
  private abortRequest?: AbortInput;
  /** Notifications not yet handed to the notifier, and the delivery under way (one at a time, in order). */
  private outbox: RunNotification[] = [];
  private delivering?: Promise<void>;
  /** What the notifiers posted so far (Slack message ids), handed back with every batch. */
  private readonly refs: NotificationRefs = {};
  private readonly deliverActivity: Activities['deliverNotifications'];

  constructor(operation: Operation, cluster: string, requester: string) {
    this.progress = { cluster, operation, requester, status: 'running', phase: 'starting', nodes: [], gates: [], events: [] };
    // Notifications never fail a run: Slack down for an hour is retried, then given up with a log line. An attempt
    // may wait out Slack's rate limits (Retry-After) itself, hence the two minutes.
    this.deliverActivity = proxyActivities<Activities>({
      startToCloseTimeout: '2m',
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 30 },
    }).deliverNotifications;
    setHandler(progressQuery, () => this.progress);
    setHandler(decideUpdate, (input) => this.decide(input), { validator: (input: DecideInput) => this.validateDecision(input) });
    setHandler(abortUpdate, (input) => this.abort(input), { validator: (input: AbortInput) => this.validateAbort(input) });
  }

  /** The policy the run's gates follow (read from the inventory by the first activity). */
  setPolicy(policy: GatePolicy): void {
    this.policy = policy;
  }

  /** The nodes the run works on, all pending. */
  setNodes(nodes: Omit<NodeProgress, 'state' | 'detail'>[]): void {
    this.progress.nodes = nodes.map((n) => ({ ...n, state: 'pending', detail: '' }));
    this.refresh();
  }

  /** Enters a phase: progress, the UI's current details and the `TalosFleetPhase` search attribute follow. */
  phase(name: string, message = name): void {
    this.progress.phase = name;
    upsertSearchAttributes([{ key: PHASE, value: name }]);
    this.event('phase', message);
  }

  /** Updates one node's progress and tells the followers. */
  node(name: string, state: NodeProgress['state'], detail: string): void {
    const n = this.progress.nodes.find((x) => x.name === name);
    if (n) Object.assign(n, { state, detail });
    this.event('node', detail, { node: name });
  }

  /** Records an event and sends it to the notifier (in order, after the previous one). */
  event(kind: NotificationKind, message: string, extra: { node?: string; gate?: OpenGate | ClosedGate } = {}): void {
    this.progress.events.push({ at: new Date().toISOString(), message, ...(extra.node ? { node: extra.node } : {}) });
    if (this.progress.events.length > MAX_EVENTS) this.progress.events.splice(0, this.progress.events.length - MAX_EVENTS);
    this.refresh();
    const { workflowId, runId } = workflowInfo();
    const progress = JSON.parse(JSON.stringify(this.progress)) as RunProgress;
    const notification: RunNotification = { workflowId, runId, cluster: this.progress.cluster, operation: this.progress.operation, kind, message, progress, ...extra };
    this.outbox.push(notification);
    this.delivering ??= this.deliver();
  }

  /**
   * Delivers the outbox one batch at a time, in order: whatever happened while a batch was being delivered goes in
   * the next one, so a burst of node events becomes a few messages (and a few activities in the history), never a
   * flood, and a rate-limited Slack slows the thread down without losing a line.
   */
  private async deliver(): Promise<void> {
    while (this.outbox.length > 0) {
      const notifications = this.outbox.splice(0, MAX_NOTIFICATION_BATCH);
      // Sent even if the run is being cancelled, so the last words reach the thread.
      const refs = await CancellationScope.nonCancellable(() => this.deliverActivity({ notifications, refs: { ...this.refs } })).catch(() => undefined);
      if (refs) Object.assign(this.refs, refs);
    }
    this.delivering = undefined;
  }

  /** Throws when someone aborted the run; call between nodes, never inside one. */
  checkpoint(): void {
    if (this.abortRequest) {
      throw ApplicationFailure.create({ type: ABORTED, message: `aborted by ${this.abortRequest.user}${this.abortRequest.reason ? `: ${this.abortRequest.reason}` : ''}`, nonRetryable: true });
    }
  }

  /**
   * Runs one node's step to its end even if the run is cancelled meanwhile (a half-applied node is worse than a
   * late stop); the cancellation or abort takes effect at the next checkpoint.
   */
  async atomic<T>(fn: () => Promise<T>): Promise<T> {
    this.checkpoint();
    return CancellationScope.nonCancellable(fn);
  }

  /**
   * Stops at an approval gate when the policy lists it (as `policyGate`, e.g. `hop` for the gate `hop-2`); returns
   * when approved, throws when rejected, aborted or timed out (abort policy).
   */
  async approval(name: string, summary: string, policyGate = name): Promise<void> {
    const policy = this.requirePolicy();
    if (!policy.gates.includes(policyGate)) return;
    const outcome = await this.waitAtGate({ name, kind: 'approval', summary, choices: ['approve', 'reject'], approvalsNeeded: policy.requiredApprovals });
    if (outcome === 'reject') {
      const by = this.progress.gates.at(-1)?.decisions.at(-1);
      throw ApplicationFailure.create({ type: 'GateRejected', message: `gate ${name} rejected by ${by?.user ?? '?'}${by?.reason ? `: ${by.reason}` : ''}`, nonRetryable: true });
    }
  }

  /** Opens a decision gate about a failed node and returns the choice (retry, rollback, skip or abort). */
  async decision(name: string, node: string, summary: string, choices: DecisionChoice[]): Promise<DecisionChoice> {
    return (await this.waitAtGate({ name, kind: 'decision', summary, choices, approvalsNeeded: 1, node })) as DecisionChoice;
  }

  private async waitAtGate(gate: Omit<OpenGate, 'openedAt' | 'decisions'>): Promise<GateChoice> {
    const policy = this.requirePolicy();
    this.checkpoint();
    this.gate = { ...gate, openedAt: new Date().toISOString(), decisions: [] };
    this.gateOutcome = undefined;
    this.progress.status = 'waiting';
    this.progress.gate = this.gate;
    this.event('gate-opened', `waiting at gate ${gate.name}: ${gate.summary}`, { gate: this.gate, ...(gate.node ? { node: gate.node } : {}) });
    const opened = Date.now();
    let timedOut = false;
    for (;;) {
      const elapsed = Date.now() - opened;
      const wait = timedOut ? policy.reminderEveryMs : policy.approvalTimeoutMs - elapsed;
      const answered = await condition(() => this.gateOutcome !== undefined || this.abortRequest !== undefined, Math.max(1, wait), { summary: `gate ${gate.name}` });
      if (answered) break;
      timedOut = true;
      if (policy.onTimeout === 'abort') {
        this.closeGate('timed-out');
        throw ApplicationFailure.create({ type: ABORTED, message: `gate ${gate.name} was not answered within ${Math.round(policy.approvalTimeoutMs / 1000)} s (policy: abort)`, nonRetryable: true });
      }
      this.event('gate-reminder', `still waiting at gate ${gate.name} (${Math.round((Date.now() - opened) / 1000)} s)`, { gate: this.gate });
    }
    if (this.gateOutcome === undefined) this.closeGate('abort');
    this.checkpoint();
    return this.gateOutcome!;
  }

  private closeGate(outcome: ClosedGate['outcome']): void {
    const gate = this.gate!;
    const closed: ClosedGate = { ...gate, outcome, closedAt: new Date().toISOString() };
    this.progress.gates.push(closed);
    this.gate = undefined;
    delete this.progress.gate;
    this.progress.status = 'running';
    const who = gate.decisions.map((d) => d.user).join(', ');
    this.event('gate-closed', `gate ${gate.name}: ${outcome}${who ? ` by ${who}` : ''}`, { gate: closed });
  }

  /** Validates a decision before it is accepted; a rejection leaves no trace in the history. */
  private validateDecision(input: DecideInput): void {
    const reject = (type: string, message: string): never => {
      throw ApplicationFailure.create({ type, message, nonRetryable: true });
    };
    const gate = this.gate;
    if (!gate || this.gateOutcome !== undefined) reject('NoOpenGate', `run of ${this.progress.operation} on ${this.progress.cluster} is not waiting at a gate`);
    if (input.gate && input.gate !== gate!.name) reject('NoOpenGate', `gate ${input.gate} is not open (the open gate is ${gate!.name})`);
    if (!gate!.choices.includes(input.choice)) reject('InvalidChoice', `gate ${gate!.name} takes ${gate!.choices.join(', ')}, not ${input.choice}`);
    const policy = this.requirePolicy();
    if (!isApprover(policy.approvers, input.user, input.groups)) {
      reject('NotAnApprover', `${input.user} may not decide gates of cluster ${this.progress.cluster}; approvers: ${policy.approvers.join(', ') || '(none)'}`);
    }
    if (FORWARD.includes(input.choice) && input.user === this.progress.requester && !policy.allowSelfApproval) {
      reject('SelfApprovalForbidden', `${input.user} started this run and may not ${input.choice} it (the cluster's policy forbids self-approval)`);
    }
    if (gate!.decisions.some((d) => d.user === input.user)) reject('AlreadyDecided', `${input.user} has already answered gate ${gate!.name}`);
  }

  private decide(input: DecideInput): DecideResult {
    const gate = this.gate!;
    gate.decisions.push({ user: input.user, choice: input.choice, at: new Date().toISOString(), ...(input.reason ? { reason: input.reason } : {}) });
    const approvals = gate.decisions.filter((d) => d.choice === 'approve').length;
    const closes = input.choice !== 'approve' || approvals >= gate.approvalsNeeded;
    if (closes) {
      this.gateOutcome = input.choice;
      this.closeGate(input.choice);
    } else {
      this.event('gate-opened', `gate ${gate.name}: approved by ${input.user}, ${gate.approvalsNeeded - approvals} more approval(s) needed`, { gate });
    }
    return { gate: gate.name, accepted: input.choice, closed: closes };
  }

  private validateAbort(input: AbortInput): void {
    const policy = this.policy;
    const allowed = input.user === this.progress.requester || (policy ? isApprover(policy.approvers, input.user, input.groups) : false);
    if (!allowed) throw ApplicationFailure.create({ type: 'NotAnApprover', message: `${input.user} may not abort this run: only its requester and the cluster's approvers may`, nonRetryable: true });
    if (this.abortRequest) throw ApplicationFailure.create({ type: 'AlreadyAborting', message: `already aborting (requested by ${this.abortRequest.user})`, nonRetryable: true });
  }

  private abort(input: AbortInput): string {
    this.abortRequest = input;
    this.progress.abortedBy = input.user;
    this.event('phase', `abort requested by ${input.user}; stopping at the next safe point`);
    return 'the run stops at the next safe point (between nodes)';
  }

  private requirePolicy(): GatePolicy {
    if (!this.policy) throw ApplicationFailure.create({ type: 'InternalError', message: 'the run has no gate policy yet', nonRetryable: true });
    return this.policy;
  }

  /**
   * Runs a node's step; when it fails, opens a decision gate about that node and does what the answer says: `retry`
   * runs the step again, `skip` returns `skipped`, `rollback` calls `onRollback` (which ends the run), `abort` ends
   * the run as aborted. No other node is touched while the gate waits.
   */
  async withDecision(node: string, step: (attempt: number) => Promise<void>, onRollback?: (failure: NodeFailure, decidedBy: string) => Promise<never>): Promise<'done' | 'skipped'> {
    for (let attempt = 1; ; attempt++) {
      try {
        await step(attempt);
        return 'done';
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === ABORTED) throw err;
        const failure = err instanceof NodeFailure ? err : new NodeFailure(node, 'step', causeMessage(err), false);
        this.node(node, 'failed', failure.message);
        const choices: DecisionChoice[] = failure.rollbackPossible && onRollback ? ['retry', 'rollback', 'skip', 'abort'] : ['retry', 'skip', 'abort'];
        const choice = await this.decision(`failure-${node}-${attempt}`, node, `${failure.step} failed on ${node}: ${failure.message}`, choices);
        const by = this.progress.gates.at(-1)?.decisions.at(-1)?.user ?? '?';
        if (choice === 'retry') continue;
        if (choice === 'skip') {
          this.node(node, 'skipped', `skipped by ${by} after: ${failure.message}`);
          return 'skipped';
        }
        if (choice === 'rollback') await onRollback!(failure, by);
        throw ApplicationFailure.create({ type: ABORTED, message: `aborted by ${by} after ${failure.step} failed on ${node}: ${failure.message}`, nonRetryable: true });
      }
    }
  }

  /** Waits, polling `check` every `pollMs`, until it reports done; fails the named step after `timeoutMs`. */
  async waitFor<T extends { done: boolean; detail: string }>(step: string, node: string | undefined, timeoutMs: number, pollMs: number, check: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await check();
      if (result.done) return result;
      if (node) this.touchNode(node, result.detail);
      if (Date.now() >= deadline) throw stepFailure(step, node, new Error(`timed out after ${Math.round(timeoutMs / 1000)} s: ${result.detail}`));
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
    }
  }

  /** Updates a node's detail without a notification (intermediate poll results). */
  private touchNode(name: string, detail: string): void {
    const n = this.progress.nodes.find((x) => x.name === name);
    if (n && n.detail !== detail) {
      n.detail = detail;
      this.refresh();
    }
  }

  /** Ends the run: the final status, a last notification, and every handler and notification finished. */
  async finish(status: 'completed' | 'failed' | 'aborted', message: string): Promise<void> {
    this.progress.status = status;
    if (status !== 'completed') this.progress.error = message;
    else this.progress.outcome = message;
    this.progress.phase = status;
    upsertSearchAttributes([{ key: PHASE, value: status }]);
    this.event(status, message);
    await CancellationScope.nonCancellable(async () => {
      await this.delivering;
      await condition(allHandlersFinished);
    });
  }

  /** Runs the body of an operation and ends the run with the right status, whatever happens. */
  async execute<T>(body: () => Promise<T>, done: (result: T) => string): Promise<T> {
    try {
      const result = await body();
      await this.finish('completed', done(result));
      return result;
    } catch (err) {
      if (isCancellation(err)) {
        // Cancelled from the Temporal UI or CLI: recorded as aborted here, and as cancelled by Temporal.
        await this.finish('aborted', 'cancelled');
        throw err;
      }
      const aborted = err instanceof ApplicationFailure && err.type === ABORTED;
      const failure = err instanceof ApplicationFailure ? err : stepFailure(this.progress.phase, undefined, err);
      await this.finish(aborted ? 'aborted' : 'failed', failure.message);
      throw failure;
    }
  }

  private refresh(): void {
    setCurrentDetails(renderDetails(this.progress));
  }
}

/** The run's progress as the markdown the Temporal UI shows under "current details". */
export function renderDetails(p: RunProgress): string {
  const lines = [`**${p.operation} ${p.cluster}**: ${p.status}, phase *${p.phase}*`, ''];
  if (p.gate) lines.push(`Waiting at gate **${p.gate.name}** (${p.gate.choices.join(' / ')}): ${p.gate.summary}`, '');
  if (p.nodes.length) {
    lines.push('| node | role | state | detail |', '|---|---|---|---|');
    for (const n of p.nodes) lines.push(`| ${n.name} | ${n.role} | ${n.state} | ${n.detail} |`);
  }
  if (p.error) lines.push('', `Error: ${p.error}`);
  return lines.join('\n');
}

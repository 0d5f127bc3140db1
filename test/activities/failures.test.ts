import { status } from '@grpc/grpc-js';
import { ApplicationFailure, CancelledFailure, DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import { permanent, toActivityFailure } from '../../src/activities/failures';
import { FleetError, ValidationError } from '../../src/errors';
import { TalosClient } from '../../src/talos/client';
import { fromStatus, TalosApiError } from '../../src/talos/errors';
import { startFleet, type TestFleet } from '../support/fleet';

jest.setTimeout(120_000);

/** What the workflow history would hold for a failure: Temporal's own encoding of it, cause chain included. */
const historyOf = (failure: Error) => JSON.stringify(new DefaultFailureConverter().errorToFailure(failure, defaultPayloadConverter));

/** The error a promise rejects with. */
const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected the call to fail'); }, (err: unknown) => err);

const upgradeSite = { method: '/machine.MachineService/Upgrade', node: '10.5.0.2' };

describe('toActivityFailure', () => {
  it.each([
    ['a node that is rebooting', 'unavailable', false, fromStatus(status.UNAVAILABLE, 'connect ECONNREFUSED 10.5.0.2:50000', upgradeSite)],
    ['an etcd member that is not healthy (it clears up)', 'unknown', false, fromStatus(status.UNKNOWN, 'error validating etcd for upgrade: etcd member cp-2 is not healthy', upgradeSite)],
    ['a role that does not allow the method', 'permission_denied', true, fromStatus(status.PERMISSION_DENIED, 'not authorized', upgradeSite)],
    ['an oversize message', 'message_too_large', true, fromStatus(status.RESOURCE_EXHAUSTED, 'Received message larger than max (40000000 vs 33554432)', upgradeSite)],
    ['Bootstrap on a bootstrapped node', 'already_exists', true, fromStatus(status.ALREADY_EXISTS, 'etcd data directory is not empty', { method: '/machine.MachineService/Bootstrap', node: '10.5.0.2' })],
    ['bad input', 'invalid_input', true, new ValidationError('inventory.yaml', [{ path: 'clusters[0].name', message: 'is required' }])],
    ['a FleetError a retry can fix', 'node_not_ready', false, new FleetError('node_not_ready', 'cp-1 is still booting', { retryable: true })],
  ])('turns %s into an ApplicationFailure of its code (%s), nonRetryable: %s', (_what, type, nonRetryable, err) => {
    const failure = toActivityFailure(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(err.code).toBe(type);
    expect(err.retryable).toBe(!nonRetryable);
    expect(failure).toMatchObject({ type, nonRetryable, message: err.message, cause: err });
  });

  it('keeps errors that are not ours retryable, typed by their class, and an ApplicationFailure as it is', () => {
    expect(toActivityFailure(new TypeError("Cannot read properties of undefined (reading 'nodes')"))).toMatchObject({ type: 'TypeError', nonRetryable: false });
    expect(toActivityFailure('a thrown string')).toMatchObject({ type: 'Error', message: 'a thrown string', nonRetryable: false });
    const refused = permanent('UpgradeRefused', 'downgrades are not planned');
    expect(toActivityFailure(refused)).toBe(refused);
  });

  describe('on real calls', () => {
    /** Nothing listens on port 1: only calls that never leave this process are made to it. */
    const unreachable = () => TalosClient.maintenanceInsecure('127.0.0.1:1');

    it('makes a call stopped by the activity’s cancellation that CancelledFailure, so Temporal records a cancellation', async () => {
      const client = unreachable();
      try {
        // What Temporal's activity Context aborts its cancellationSignal with.
        const reason = new CancelledFailure('CANCELLED');
        const abort = new AbortController();
        abort.abort(reason);
        const err = (await rejection(client.reboot({}, { node: '127.0.0.1' }, { signal: abort.signal }))) as TalosApiError;
        expect(err).toMatchObject({ code: 'cancelled', mayHaveApplied: false });
        expect(toActivityFailure(err)).toBe(reason);
        // A CancelledFailure thrown as it is (Context.sleep) stays one too.
        expect(toActivityFailure(reason)).toBe(reason);

        // Cancelled for another reason (not the activity's): an ordinary failure a retry may get past.
        const other = new AbortController();
        other.abort(new Error('the operator pressed stop'));
        const stopped = await rejection(client.reboot({}, { node: '127.0.0.1' }, { signal: other.signal }));
        expect(toActivityFailure(stopped)).toMatchObject({ type: 'cancelled', nonRetryable: false });
      } finally {
        client.close();
      }
    });

    it('makes a closed client’s call a retryable failure of type closed', async () => {
      const client = unreachable();
      client.close();
      const failure = toActivityFailure(await rejection(client.version()));
      expect(failure).toMatchObject({ type: 'closed', nonRetryable: false });
    });
  });

  describe('against a simulated node', () => {
    let t: TestFleet | undefined;
    afterAll(async () => t?.stop());

    it('puts neither the token nor the CA key of a refused configuration into the failure the history holds', async () => {
      t = await startFleet({ nodes: '1cp', state: 'bootstrapped' });
      const client = t.client();
      const node = t.addr('cp-1');
      const current = await client.machineConfig({ node });
      // A near miss of the real token (one character dropped): echoing it would all but leak the real one.
      const realToken = /\n {4}token: (\S+)/.exec(current)![1]!;
      const token = realToken.slice(0, -1);
      const caKey = /\n {4}ca:\n(?: {8}.*\n)*? {8}key: (\S+)/.exec(current)![1]!;
      expect(caKey.length).toBeGreaterThan(40);
      const err = await rejection(client.applyConfiguration({ data: current.replace(realToken, token), mode: 'AUTO' }, { node }));
      expect(err).toBeInstanceOf(TalosApiError);
      const failure = toActivityFailure(err);
      expect(failure).toMatchObject({ type: 'invalid_argument', nonRetryable: true });
      const history = historyOf(failure);
      expect(history).toContain('machine.token');
      for (const secret of [token, caKey, caKey.slice(0, 24)]) expect(history).not.toContain(secret);
    });
  });
});

import { status } from '@grpc/grpc-js';
import { FleetError, ValidationError } from '../../src/errors';
import { AlreadyBootstrappedError, fromStatus, TalosApiError, toTalosError } from '../../src/talos/errors';
import { NodeErrors } from '../../src/talos/replies';

const site = { method: '/machine.MachineService/Upgrade', node: '10.0.0.1', endpoint: '10.0.0.9:50000' };

describe('typed Talos API errors', () => {
  it.each([
    [status.UNAVAILABLE, 'connection refused', 'unavailable', true],
    [status.UNAVAILABLE, 'No connection established. Last error: Error: Client network socket disconnected before secure TLS connection was established', 'unavailable', true],
    [status.UNAVAILABLE, 'Connection closed before starting HTTP/2 handshake', 'unavailable', true],
    [status.DEADLINE_EXCEEDED, 'context deadline exceeded', 'deadline_exceeded', true],
    [status.PERMISSION_DENIED, 'not authorized', 'permission_denied', false],
    [status.INVALID_ARGUMENT, 'bad config', 'invalid_argument', false],
    [status.UNIMPLEMENTED, 'API is not implemented in maintenance mode', 'unimplemented', false],
    [status.FAILED_PRECONDITION, 'bootstrap is not available yet', 'failed_precondition', true],
    [status.FAILED_PRECONDITION, 'bootstrap can only be performed on a control plane node', 'failed_precondition', false],
    [status.UNKNOWN, 'failed to acquire upgrade mutex', 'unknown', true],
    [status.UNKNOWN, 'error validating etcd for upgrade: etcd member cp-2 is not healthy; all members must be healthy to perform an upgrade', 'unknown', true],
    [status.UNKNOWN, 'error validating etcd for upgrade: etcd member count(2) is insufficient to maintain quorum if upgrade commences', 'unknown', false],
    [status.UNAVAILABLE, 'unable to verify the first certificate', 'tls_failed', false],
    [status.UNAVAILABLE, 'No connection established. Last error: Error: TLS verification failed: self-signed certificate', 'tls_failed', false],
    [status.RESOURCE_EXHAUSTED, 'Received message larger than max (40000000 vs. 33554432)', 'message_too_large', false],
    [status.RESOURCE_EXHAUSTED, 'Attempted to send message with a size larger than 33554432', 'message_too_large', false],
    [status.RESOURCE_EXHAUSTED, 'rate limit exceeded', 'resource_exhausted', true],
  ])('code %s "%s" is %s, retryable: %s', (code, message, expectedCode, retryable) => {
    const err = fromStatus(code, message, site);
    expect(err.code).toBe(expectedCode);
    expect(err.retryable).toBe(retryable);
  });

  it.each([
    ['never connected', status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 10.0.0.9:50000', true, false],
    ['dropped mid-call', status.UNAVAILABLE, 'Connection dropped', true, true],
    ['deadline after sending', status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.0s,remote_addr=10.0.0.9:50000', true, true],
    ['deadline before connecting', status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.0s,Waiting for LB pick', false, false],
    ['the node answered with an error', status.UNKNOWN, 'error validating etcd for upgrade', true, false],
    ['the node refused it', status.PERMISSION_DENIED, 'not authorized', true, false],
    ['a reply too large for us', status.RESOURCE_EXHAUSTED, 'Received message larger than max (40000000 vs. 33554432)', true, true],
    ['a request too large to send', status.RESOURCE_EXHAUSTED, 'Attempted to send message with a size larger than 33554432', true, false],
  ])('a request that %s may have been applied: %s', (_what, code, message, sent, applied) => {
    const err = fromStatus(code, message, site, { sent });
    expect(err.mayHaveApplied).toBe(applied);
    expect(err.message.includes('the request may have reached the node')).toBe(applied);
  });

  it('names the method, the node and the endpoint it went through', () => {
    const err = fromStatus(status.PERMISSION_DENIED, 'not authorized', site);
    expect(err.message).toBe('/machine.MachineService/Upgrade on node 10.0.0.1 (via 10.0.0.9:50000): PermissionDenied: not authorized');
    expect(err.code).toBe('permission_denied');
  });

  it("maps Bootstrap's AlreadyExists to AlreadyBootstrappedError", () => {
    const err = toTalosError({ code: status.ALREADY_EXISTS, details: 'etcd data directory is not empty' }, { method: '/machine.MachineService/Bootstrap', node: 'cp-1' });
    expect(err).toBeInstanceOf(AlreadyBootstrappedError);
    expect(err).toBeInstanceOf(TalosApiError);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('already bootstrapped');
  });

  it('hints at the talosconfig CA and at maintenance certificates when TLS verification fails', () => {
    const message = fromStatus(status.UNAVAILABLE, 'self-signed certificate in certificate chain', site).message;
    expect(message).toContain('does the talosconfig CA match the cluster');
    expect(message).toContain('self-signed maintenance certificate');
  });
});

describe('retryability of every FleetError', () => {
  it('is false unless the error says otherwise, so an unknown failure is never retried forever', () => {
    expect(new FleetError('invalid_target', 'x').retryable).toBe(false);
    expect(new FleetError('timeout', 'x', { retryable: true }).retryable).toBe(true);
    expect(new ValidationError('talosconfig', [{ path: 'context', message: 'must be a string' }])).toMatchObject({ code: 'invalid_input', retryable: false });
  });

  it('makes several nodes’ failures retryable only when each one is, and may-have-applied when any one is', () => {
    const down = fromStatus(status.UNAVAILABLE, 'Connection dropped', site, { sent: true });
    const denied = fromStatus(status.PERMISSION_DENIED, 'not authorized', site);
    expect(new NodeErrors([down, down])).toMatchObject({ retryable: true, mayHaveApplied: true });
    expect(new NodeErrors([down, denied])).toMatchObject({ retryable: false, mayHaveApplied: true, code: 'unavailable' });
  });
});

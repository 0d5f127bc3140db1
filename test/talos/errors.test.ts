import { status } from '@grpc/grpc-js';
import { AlreadyBootstrappedError, fromStatus, TalosApiError, toTalosError } from '../../src/talos/errors';

const site = { method: '/machine.MachineService/Upgrade', node: '10.0.0.1', endpoint: '10.0.0.9:50000' };

describe('typed Talos API errors', () => {
  it.each([
    [status.UNAVAILABLE, 'connection refused', true],
    [status.DEADLINE_EXCEEDED, 'context deadline exceeded', true],
    [status.PERMISSION_DENIED, 'not authorized', false],
    [status.INVALID_ARGUMENT, 'bad config', false],
    [status.UNIMPLEMENTED, 'API is not implemented in maintenance mode', false],
    [status.FAILED_PRECONDITION, 'bootstrap is not available yet', true],
    [status.FAILED_PRECONDITION, 'bootstrap can only be performed on a control plane node', false],
    [status.UNKNOWN, 'failed to acquire upgrade mutex', true],
    [status.UNKNOWN, 'error validating etcd for upgrade: etcd member cp-2 is not healthy', false],
    [status.UNAVAILABLE, 'unable to verify the first certificate', false],
  ])('code %s "%s" is retryable: %s', (code, message, retryable) => {
    expect(fromStatus(code, message, site).retryable).toBe(retryable);
  });

  it('names the method, the node and the endpoint it went through', () => {
    const err = fromStatus(status.UNAVAILABLE, 'connection refused', site);
    expect(err.message).toBe('/machine.MachineService/Upgrade on node 10.0.0.1 (via 10.0.0.9:50000): Unavailable: connection refused');
    expect(err.code).toBe('unavailable');
  });

  it("maps Bootstrap's AlreadyExists to AlreadyBootstrappedError", () => {
    const err = toTalosError({ code: status.ALREADY_EXISTS, details: 'etcd data directory is not empty' }, { method: '/machine.MachineService/Bootstrap', node: 'cp-1' });
    expect(err).toBeInstanceOf(AlreadyBootstrappedError);
    expect(err).toBeInstanceOf(TalosApiError);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('already bootstrapped');
  });

  it('hints at the talosconfig CA when TLS verification fails', () => {
    expect(fromStatus(status.UNAVAILABLE, 'self-signed certificate in certificate chain', site).message).toContain('does the talosconfig CA match the cluster');
  });
});

import { FleetError } from '../../src/errors';
import { waitUntil, whileRetryable } from './fleet';

/** A condition that answers `false` until its `n`th call, which does `last` (returns true or throws). */
function onCall(n: number, last: () => boolean): { condition: () => boolean; calls: () => number } {
  let calls = 0;
  return { condition: () => (++calls < n ? false : last()), calls: () => calls };
}

describe('waitUntil', () => {
  it('ends at once with the error its condition throws, instead of waiting for the timeout', async () => {
    const refused = new FleetError('permission_denied', 'the certificate lacks os:admin');
    const { condition, calls } = onCall(3, () => {
      throw refused;
    });
    const started = Date.now();
    await expect(waitUntil('the node to accept us', condition, 30_000)).rejects.toBe(refused);
    expect(calls()).toBe(3);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('waits until the condition holds, and names what it waited for when it never does', async () => {
    const { condition, calls } = onCall(4, () => true);
    await waitUntil('the fourth look', condition, 30_000);
    expect(calls()).toBe(4);
    const started = Date.now();
    await expect(waitUntil('a node that never boots', () => false, 300)).rejects.toThrow('timed out after 300 ms waiting for a node that never boots');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('with whileRetryable, keeps waiting through retryable errors and ends at once on any other', async () => {
    const rebooting = new FleetError('unavailable', 'connect ECONNREFUSED', { retryable: true });
    let calls = 0;
    await waitUntil('the node to come back', whileRetryable(() => {
      if (++calls < 3) throw rebooting;
      return true;
    }), 30_000);
    expect(calls).toBe(3);
    const denied = new FleetError('permission_denied', 'the certificate lacks os:admin');
    const started = Date.now();
    await expect(waitUntil('the node', whileRetryable(() => { throw denied; }), 30_000)).rejects.toBe(denied);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

import { compareRestored, hasEtcdVolume } from '../../src/activities/restore';
import { activityProgress } from '../../src/cli/follow';
import { defaultPayloadConverter } from '@temporalio/common';
import type { SnapshotMetadata } from '../../src/shared/backups';

const meta = { id: 's1', content: { revision: 500, keys: 120, volatileKeys: 20, registry: { present: true, keys: 100, resources: { configmaps: 70, events: 20, secrets: 10 } } } } as unknown as SnapshotMetadata;
const census = (keys: number, resources: Record<string, number>, revision = 620) => ({ etcdVersion: '3.5.33', revision, keys: keys + 50, volatileKeys: 0, registry: { present: true, keys: 0, resources: {} }, upTo: { revision: 500, keys, resources, volatile: 7 } });

describe('the checks a restore makes', () => {
  it('wipes the ETCD volume too only where the machine config gives /var/lib/etcd a volume of its own (Talos 1.14)', () => {
    const v1alpha1 = 'version: v1alpha1\nmachine:\n  type: controlplane\n';
    expect(hasEtcdVolume(v1alpha1)).toBe(false);
    expect(hasEtcdVolume(`${v1alpha1}---\napiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\n`)).toBe(false);
    expect(hasEtcdVolume(`${v1alpha1}---\napiVersion: v1alpha1\nkind: VolumeConfig\nname: ETCD\nprovisioning:\n  maxSize: 10GiB\n`)).toBe(true);
  });

  it('accepts a restored cluster holding every stable key of the snapshot, whatever Kubernetes wrote since', () => {
    expect(compareRestored(meta, census(100, { configmaps: 70, secrets: 10 }))).toEqual([]);
  });

  it('names what is missing: keys, objects per resource, and a revision before the snapshot', () => {
    expect(compareRestored(meta, census(90, { configmaps: 62, secrets: 10 }, 3))).toEqual([
      'etcd is at revision 3, before the snapshot\'s 500: the snapshot\'s history is not there',
      '90 of the snapshot\'s 100 keys are back',
      'configmaps: 62 of 70 objects are back',
    ]);
  });

  it('shows a transfer\'s progress from the heartbeat details of the activity in flight', () => {
    const payload = defaultPayloadConverter.toPayload({ progress: 'snapshot from cp-2: 512.0 MiB at 120 MB/s', bytes: 1 });
    expect(activityProgress({ raw: { pendingActivities: [{ heartbeatDetails: { payloads: [payload] } }, { heartbeatDetails: null }] } })).toEqual(['snapshot from cp-2: 512.0 MiB at 120 MB/s']);
  });
});

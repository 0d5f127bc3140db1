import { configChanges, describeChange } from '../../src/fleet/config-diff';

const base = `version: v1alpha1
machine:
  type: worker
  token: abcdef.0123456789abcdef
  ca:
    crt: LS0tLS1CRUdJTiBDRVJU
  network:
    hostname: w-1
`;

describe('config diffs', () => {
  it('lists changed fields by path and hides the values of secret fields', () => {
    const next = base.replace('hostname: w-1', 'hostname: w-one').replace('abcdef.0123456789abcdef', 'zyxwvu.0123456789abcdef').replace('LS0tLS1CRUdJTiBDRVJU', 'LS0tLS1CRUdJTiBORVc=');
    const lines = configChanges(base, next).map(describeChange);
    expect(lines).toEqual(['~ machine.token: (secret) → (secret)', '~ machine.ca.crt: (secret) → (secret)', '~ machine.network.hostname: w-1 → w-one']);
  });

  it('ignores formatting and key order, so a node\'s re-marshalled config equals what was sent', () => {
    const reordered = `machine:\n  network: { hostname: w-1 }\n  ca: { crt: LS0tLS1CRUdJTiBDRVJU }\n  token: abcdef.0123456789abcdef\n  type: worker\nversion: v1alpha1\n`;
    expect(configChanges(base, reordered)).toEqual([]);
  });

  it('sees documents come and go by kind and name', () => {
    const extra = `${base}---\napiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n`;
    expect(configChanges(base, extra).map(describeChange)).toEqual(['+ HostnameConfig/:(document)']);
  });
});

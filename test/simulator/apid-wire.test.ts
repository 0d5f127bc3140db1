import { messageCodec } from '../../src/talos/codec';
import { metadataPayload, nodeErrorReply, spliceNodeMetadata } from '../../src/simulator/api/apid-wire';

describe("apid's reply enrichment", () => {
  const versions = messageCodec<unknown, { messages: { metadata: { hostname: string; error: string; status: { code: number } | null } | null; version: { tag: string } | null }[] }>('machine.VersionResponse');

  it('stamps each backend reply with its node so the concatenation has one entry per node', () => {
    const a = spliceNodeMetadata(versions.encode({ messages: [{ version: { tag: 'v1.9.5' } }] }), { hostname: '10.0.0.1' });
    const b = spliceNodeMetadata(versions.encode({ messages: [{ version: { tag: 'v1.10.9' } }] }), { hostname: '10.0.0.2' });
    const merged = versions.decode(Buffer.concat([a, b]));
    expect(merged.messages.map((m) => [m.metadata!.hostname, m.version!.tag])).toEqual([
      ['10.0.0.1', 'v1.9.5'],
      ['10.0.0.2', 'v1.10.9'],
    ]);
  });

  it('stamps a reply that has no entry by adding one', () => {
    const merged = versions.decode(spliceNodeMetadata(Buffer.alloc(0), { hostname: '10.0.0.3' }));
    expect(merged.messages).toHaveLength(1);
    expect(merged.messages[0]!.metadata!.hostname).toBe('10.0.0.3');
  });

  it("turns a failed backend into an entry that carries the node's error and status", () => {
    const entry = nodeErrorReply({ hostname: '10.0.0.4', error: 'rpc error: code = Unavailable desc = down', status: { code: 14, message: 'down' } }, false);
    const merged = versions.decode(entry);
    expect(merged.messages[0]!.metadata).toMatchObject({ hostname: '10.0.0.4', error: 'rpc error: code = Unavailable desc = down', status: { code: 14 } });
    expect(merged.messages[0]!.version).toBeNull();
  });

  it('appends the node to every message of a stream', () => {
    const data = messageCodec<unknown, { metadata: { hostname: string } | null; bytes: Buffer }>('common.Data');
    const stamped = data.decode(Buffer.concat([data.encode({ bytes: Buffer.from('chunk') }), metadataPayload({ hostname: '10.0.0.5' })]));
    expect(stamped.bytes.toString()).toBe('chunk');
    expect(stamped.metadata!.hostname).toBe('10.0.0.5');
  });
});

import { decodeData, encodedData, messageCodec, METHODS, packAny, unpackAny } from '../../src/talos/codec';

/** Field tags of a top-level protobuf message: [field number, wire type] pairs, in order. */
function tags(bytes: Buffer): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= bytes.length) throw new Error('truncated varint');
      const b = bytes[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const [field, wire] = [Math.floor(tag / 8), tag & 7];
    out.push([field, wire]);
    if (wire === 0) varint();
    else if (wire === 2) {
      const length = varint();
      i += length;
    }
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
  }
  return out;
}

describe('wire compatibility with upstream protos', () => {
  it('puts EtcdMember.id in field 2 and EtcdMemberStatus.member_id in field 10, as upstream numbers them', () => {
    expect(tags(messageCodec('machine.EtcdMember').encode({ id: '7', hostname: 'cp-1' }))).toEqual([
      [2, 0],
      [3, 2],
    ]);
    expect(tags(messageCodec('machine.EtcdMemberStatus').encode({ memberId: '7', protocolVersion: '3.5' }))[0]).toEqual([1, 2]);
    expect(tags(messageCodec('machine.EtcdMemberStatus').encode({ memberId: '7' }))).toEqual([[10, 0]]);
  });

  it('keeps uint64 member ids exact beyond 2^53', () => {
    const codec = messageCodec<{ id: string }>('machine.EtcdMember');
    expect(codec.decode(codec.encode({ id: '18446744073709551615' })).id).toBe('18446744073709551615');
  });

  it('encodes ApplyConfiguration mode in field 4 with REBOOT as the zero value', () => {
    const codec = messageCodec<unknown, { mode: string }>('machine.ApplyConfigurationRequest');
    expect(tags(codec.encode({ data: Buffer.from('x'), mode: 'NO_REBOOT' }))).toEqual([
      [1, 2],
      [4, 0],
    ]);
    // A request without a mode decodes as REBOOT: the reason the client makes callers choose one.
    expect(codec.decode(codec.encode({ data: Buffer.from('x') })).mode).toBe('REBOOT');
  });

  it('serves the methods under upstream paths with their streaming kinds', () => {
    expect(METHODS.get('/machine.MachineService/EtcdSnapshot')).toMatchObject({ requestStream: false, responseStream: true });
    expect(METHODS.get('/machine.MachineService/EtcdRecover')).toMatchObject({ requestStream: true, responseStream: false, requestType: 'common.Data' });
    expect(METHODS.get('/cluster.ClusterService/HealthCheck')).toMatchObject({ responseStream: true });
    expect(METHODS.get('/cosi.resource.State/Get')).toMatchObject({ requestType: 'cosi.resource.GetRequest' });
  });

  it('packs events into Any with the talos/runtime type URL and unpacks them', () => {
    const any = packAny('machine.PhaseEvent', { phase: 'drain', action: 'STOP' });
    expect(any.type_url).toBe('talos/runtime/machine.PhaseEvent');
    expect(unpackAny(any)).toEqual({ type: 'machine.PhaseEvent', value: { phase: 'drain', action: 'STOP' } });
  });
});

describe('the fast path for data chunks', () => {
  it('encodes common.Data exactly as the general encoder does', () => {
    const payload = Buffer.alloc(1024, 7);
    expect(Buffer.concat(encodedData(payload).encoded)).toEqual(messageCodec('common.Data').encode({ bytes: payload }));
  });

  it('decodes bytes and a node error from a stamped stream message', () => {
    // What apid appends to each proxied stream message: common.Empty{metadata}, whose field 1 becomes the message's metadata.
    const stamp = messageCodec('common.Empty').encode({ metadata: { hostname: 'n1', error: 'boom' } });
    const stamped = Buffer.concat([...encodedData(Buffer.from('abc')).encoded, stamp]);
    const decoded = decodeData(stamped);
    expect(decoded.bytes.toString()).toBe('abc');
    expect(decoded.metadata).toMatchObject({ hostname: 'n1', error: 'boom' });
    expect(decodeData(Buffer.concat(encodedData(Buffer.alloc(0)).encoded)).bytes).toHaveLength(0);
  });
});

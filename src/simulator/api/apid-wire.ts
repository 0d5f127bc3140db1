import * as protobuf from 'protobufjs';
import { messageCodec } from '../../talos/codec';

/**
 * apid's reply splicing, which only the simulator's proxy needs: it stamps a backend's reply bytes with the node
 * they came from without decoding them. Wire-level work on messages the codec encodes (`common.Empty{metadata}`);
 * the client only ever decodes the result.
 */

/** Per-node metadata apid stamps on proxied replies. */
export interface NodeMetadata {
  hostname: string;
  error?: string;
  status?: { code: number; message: string };
}

/** `common.Empty{metadata}`: appended to a reply item (or stream message) it sets the item's metadata (field 1), whatever the item's type. */
export function metadataPayload(metadata: NodeMetadata): Buffer {
  return messageCodec('common.Empty').encode({ metadata });
}

/**
 * apid's reply enrichment for one backend's unary reply (`{ messages: [item] }`): the metadata is appended
 * inside the first `messages` entry, so the concatenation of all backends' replies is again a valid reply with
 * one entry per node. (Stream messages get {@link metadataPayload} appended as they are.)
 */
export function spliceNodeMetadata(reply: Buffer, metadata: NodeMetadata): Buffer {
  const payload = metadataPayload(metadata);
  const reader = protobuf.Reader.create(reply);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const inner = reader.bytes();
      const entry = protobuf.Writer.create().uint32(tag).bytes(Buffer.concat([inner, payload])).finish();
      return Buffer.concat([reply.subarray(0, start), entry, reply.subarray(reader.pos)]);
    }
    reader.skipType(tag & 7);
  }
  return Buffer.concat([reply, protobuf.Writer.create().uint32((1 << 3) | 2).bytes(payload).finish()]);
}

/** What a failed backend contributes: an entry (or stream message) carrying only the node's error. */
export function nodeErrorReply(metadata: NodeMetadata, streaming: boolean): Buffer {
  const payload = metadataPayload(metadata);
  return streaming ? payload : Buffer.from(protobuf.Writer.create().uint32((1 << 3) | 2).bytes(payload).finish());
}

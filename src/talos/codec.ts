import * as protobuf from 'protobufjs';
import { join } from 'node:path';

/**
 * The one place in the project that speaks protobuf: it loads our subset of the Talos API protos
 * (src/talos/proto) and turns messages into bytes and back. Everything else sees plain objects typed by
 * src/talos/generated (camelCase fields, enums as strings, 64-bit integers as decimal strings).
 */

const PROTO_DIR = join(__dirname, 'proto');
const PROTO_FILES = [
  'machine/machine.proto',
  'machine/image.proto',
  'machine/lifecycle.proto',
  'cluster/cluster.proto',
  'v1alpha1/state.proto',
  'resource/config/config.proto',
  'resource/definitions/runtime/runtime.proto',
  'resource/definitions/k8s/k8s.proto',
];

/** Keep in step with the options of scripts/gen-proto-types.js, which types these objects. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, oneofs: true };

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // google/protobuf/*.proto are bundled with protobufjs; everything else is ours.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  root.loadSync(PROTO_FILES, { keepCase: false });
  root.resolveAll();
  return root;
}

const root = loadRoot();

/** Encodes and decodes one message type. */
export interface MessageCodec<In, Out> {
  readonly fullName: string;
  encode(value: In): Buffer;
  decode(bytes: Uint8Array): Out;
}

const codecs = new Map<string, MessageCodec<unknown, unknown>>();

/** The codec of a message by its full proto name, e.g. `machine.VersionResponse`. */
export function messageCodec<In, Out = In>(fullName: string): MessageCodec<In, Out> {
  let codec = codecs.get(fullName);
  if (!codec) {
    const type = root.lookupType(fullName);
    codec = {
      fullName,
      encode: (value) => Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish()),
      decode: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT),
    };
    codecs.set(fullName, codec);
  }
  return codec as MessageCodec<In, Out>;
}

/** One RPC of the API as it appears on the wire. */
export interface MethodInfo {
  /** `/machine.MachineService/Version` */
  path: string;
  service: string;
  name: string;
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
}

function listMethods(): MethodInfo[] {
  const out: MethodInfo[] = [];
  for (const serviceName of ['machine.MachineService', 'machine.ImageService', 'machine.LifecycleService', 'cluster.ClusterService', 'cosi.resource.State']) {
    const service = root.lookupService(serviceName);
    for (const method of service.methodsArray) {
      method.resolve();
      out.push({
        path: `/${serviceName}/${method.name}`,
        service: serviceName,
        name: method.name,
        requestType: method.resolvedRequestType!.fullName.slice(1),
        responseType: method.resolvedResponseType!.fullName.slice(1),
        requestStream: !!method.requestStream,
        responseStream: !!method.responseStream,
      });
    }
  }
  return out;
}

/** Every RPC in our subset, keyed by path. */
export const METHODS: ReadonlyMap<string, MethodInfo> = new Map(listMethods().map((m) => [m.path, m]));

/** google.protobuf.Any as protobufjs represents it (its bundled descriptor keeps the snake_case name). */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** google.protobuf.Duration / Timestamp as decoded here: 64-bit seconds as a decimal string. */
export interface ProtoTime {
  seconds: string;
  nanos: number;
}

/** Milliseconds → google.protobuf.Duration (or a Timestamp, for milliseconds since the epoch). */
export function toProtoTime(ms: number): ProtoTime {
  const whole = Math.floor(ms);
  return { seconds: String(Math.floor(whole / 1000)), nanos: (whole % 1000) * 1_000_000 };
}

/** google.protobuf.Duration (or Timestamp) → milliseconds; an unset value is 0. */
export function fromProtoTime(t: Partial<ProtoTime> | null | undefined): number {
  return t ? Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : 0;
}

/** Type URL prefix Talos uses for event payloads packed into google.protobuf.Any. */
export const EVENT_TYPE_URL_PREFIX = 'talos/runtime/';

/** Packs a message into a google.protobuf.Any with Talos's type URL convention (`talos/runtime/machine.PhaseEvent`). */
export function packAny(fullName: string, value: unknown): AnyMessage {
  return { type_url: `${EVENT_TYPE_URL_PREFIX}${fullName}`, value: messageCodec(fullName).encode(value) };
}

/** Unpacks an Any whose type is in our subset; undefined for types we do not know. */
export function unpackAny<T>(any: AnyMessage): { type: string; value: T } | undefined {
  const type = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
  try {
    return { type, value: messageCodec<unknown, T>(type).decode(any.value) };
  } catch {
    return undefined;
  }
}

/** A message already in wire form, as parts written back to back. */
export interface EncodedMessage {
  readonly encoded: readonly Buffer[];
}

/** Several messages already in wire form, to be written together. */
export interface EncodedMessages {
  readonly messages: readonly (readonly Buffer[])[];
}

/** True for a value made by {@link encodedData} (or another pre-encoded message). */
export function isEncoded(value: unknown): value is EncodedMessage {
  return typeof value === 'object' && value !== null && Array.isArray((value as EncodedMessage).encoded);
}

/** True for a value made by {@link encodedDataChunks}. */
export function isEncodedBatch(value: unknown): value is EncodedMessages {
  return typeof value === 'object' && value !== null && Array.isArray((value as EncodedMessages).messages);
}

/** `common.Data` messages of at most `chunkSize` bytes each, covering `bytes` in order (see {@link encodedData}). */
export function encodedDataChunks(bytes: Buffer, chunkSize: number): EncodedMessages {
  const messages: (readonly Buffer[])[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) messages.push(encodedData(bytes.subarray(offset, offset + chunkSize)).encoded);
  return { messages };
}

/**
 * `common.Data{bytes}` without copying the payload: the hot path of snapshots, where upstream sends 1 KiB
 * messages and a general encoder's per-message copies and objects cost more than the bytes themselves.
 */
export function encodedData(bytes: Buffer): EncodedMessage {
  // Field 2, wire type 2 (0x12), then the length as a varint.
  const header = [0x12];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n < 0x80) {
      header.push(n);
      break;
    }
    header.push((n & 0x7f) | 0x80);
  }
  return { encoded: [Buffer.from(header), bytes] };
}

/** Decodes `common.Data` with `bytes` as a view into the received buffer (no copy). */
export function decodeData(message: Buffer): { metadata: Record<string, unknown> | null; bytes: Buffer } {
  const reader = protobuf.Reader.create(message);
  let metadata: Record<string, unknown> | null = null;
  let bytes: Buffer = Buffer.alloc(0);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if ((tag & 7) === 2 && (field === 1 || field === 2)) {
      const length = reader.uint32();
      const view = message.subarray(reader.pos, reader.pos + length);
      reader.skip(length);
      if (field === 1) metadata = messageCodec<unknown, Record<string, unknown>>('common.Metadata').decode(view);
      else bytes = view;
    } else {
      reader.skipType(tag & 7);
    }
  }
  return { metadata, bytes };
}

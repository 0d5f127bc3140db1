// Original file: src/talos/proto/machine/image.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from '../google/protobuf/Empty';
import type { ImageServiceListRequest as _machine_ImageServiceListRequest, ImageServiceListRequest__Output as _machine_ImageServiceListRequest__Output } from '../machine/ImageServiceListRequest';
import type { ImageServiceListResponse as _machine_ImageServiceListResponse, ImageServiceListResponse__Output as _machine_ImageServiceListResponse__Output } from '../machine/ImageServiceListResponse';
import type { ImageServicePullRequest as _machine_ImageServicePullRequest, ImageServicePullRequest__Output as _machine_ImageServicePullRequest__Output } from '../machine/ImageServicePullRequest';
import type { ImageServicePullResponse as _machine_ImageServicePullResponse, ImageServicePullResponse__Output as _machine_ImageServicePullResponse__Output } from '../machine/ImageServicePullResponse';
import type { ImageServiceRemoveRequest as _machine_ImageServiceRemoveRequest, ImageServiceRemoveRequest__Output as _machine_ImageServiceRemoveRequest__Output } from '../machine/ImageServiceRemoveRequest';

export interface ImageServiceClient extends grpc.Client {
  List(argument: _machine_ImageServiceListRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServiceListResponse__Output>;
  List(argument: _machine_ImageServiceListRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServiceListResponse__Output>;
  list(argument: _machine_ImageServiceListRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServiceListResponse__Output>;
  list(argument: _machine_ImageServiceListRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServiceListResponse__Output>;
  
  Pull(argument: _machine_ImageServicePullRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServicePullResponse__Output>;
  Pull(argument: _machine_ImageServicePullRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServicePullResponse__Output>;
  pull(argument: _machine_ImageServicePullRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServicePullResponse__Output>;
  pull(argument: _machine_ImageServicePullRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_machine_ImageServicePullResponse__Output>;
  
  Remove(argument: _machine_ImageServiceRemoveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  Remove(argument: _machine_ImageServiceRemoveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  Remove(argument: _machine_ImageServiceRemoveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  Remove(argument: _machine_ImageServiceRemoveRequest, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  remove(argument: _machine_ImageServiceRemoveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  remove(argument: _machine_ImageServiceRemoveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  remove(argument: _machine_ImageServiceRemoveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  remove(argument: _machine_ImageServiceRemoveRequest, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientUnaryCall;
  
}

export interface ImageServiceHandlers extends grpc.UntypedServiceImplementation {
  List: grpc.handleServerStreamingCall<_machine_ImageServiceListRequest__Output, _machine_ImageServiceListResponse>;
  
  Pull: grpc.handleServerStreamingCall<_machine_ImageServicePullRequest__Output, _machine_ImageServicePullResponse>;
  
  Remove: grpc.handleUnaryCall<_machine_ImageServiceRemoveRequest__Output, _google_protobuf_Empty>;
  
}

export interface ImageServiceDefinition extends grpc.ServiceDefinition {
  List: MethodDefinition<_machine_ImageServiceListRequest, _machine_ImageServiceListResponse, _machine_ImageServiceListRequest__Output, _machine_ImageServiceListResponse__Output>
  Pull: MethodDefinition<_machine_ImageServicePullRequest, _machine_ImageServicePullResponse, _machine_ImageServicePullRequest__Output, _machine_ImageServicePullResponse__Output>
  Remove: MethodDefinition<_machine_ImageServiceRemoveRequest, _google_protobuf_Empty, _machine_ImageServiceRemoveRequest__Output, _google_protobuf_Empty__Output>
}

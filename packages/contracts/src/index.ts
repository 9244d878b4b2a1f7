/**
 * @penguinmails/contracts: the generated TypeScript of `proto/`, one namespace per proto
 * package (`commonV1`, `metadataV1`, `contentV1`, `queueV1`, `analyticsV1`, `googleRpc`).
 * Service definitions (`XxxServiceService`) plug into `@grpc/grpc-js` servers, and
 * `XxxServiceClient` classes are ready-made clients.
 */
export * from './gen/index';
export { descriptorSetPath } from './descriptors';
/** The wire reader of the generated code (the same class), for servers that decode with their own options. */
export { BinaryReader } from '@bufbuild/protobuf/wire';
export { campaignHoldKey } from './hold-keys';

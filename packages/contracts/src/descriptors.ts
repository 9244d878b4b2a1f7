import { join } from 'node:path';

/** Path of the FileDescriptorSet of every proto (used for gRPC server reflection). */
export const descriptorSetPath: string = join(__dirname, 'gen', 'descriptors.binpb');

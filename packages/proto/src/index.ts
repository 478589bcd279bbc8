export * as processPb from './gen/process/process_pb.js';
export * as filesystemPb from './gen/filesystem/filesystem_pb.js';
export { Process } from './gen/process/process_pb.js';
export { Filesystem } from './gen/filesystem/filesystem_pb.js';
export * as hostagentPb from './gen/hostagent/v1/hostagent_pb.js';
export { HostAgentService } from './gen/hostagent/v1/hostagent_pb.js';

export { OciRuntime, BUNDLE_FILES, type OciRuntimeOptions } from './oci-runtime.js';
export { buildOciSpec, capsuleCgroupPath, type OciSpecOptions } from './spec.js';
export type { OciSpec } from './oci-spec.js';

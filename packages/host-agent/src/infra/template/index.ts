export { TemplateStore, type TemplateStoreOptions, type EnsureTemplateOptions, type ImportRootfsOptions, type FlattenOptions } from './store.js';
export type { TemplateBuildProgress, ProgressListener } from './progress.js';
export type { TemplateDefaults, TemplateMetadata, TemplateSource } from './metadata.js';
export { shiftTreeOwnership, type ShiftResult } from './shift.js';
export { readHostAptArchives, type AptArchives } from './apt-mirrors.js';
export { MINIMAL_PACKAGES, MINIMAL_SUITE } from './minimal.js';
export { flattenCapsuleRoot, type FlattenedTemplate } from './flatten-capsule.js';

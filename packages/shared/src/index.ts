export * from './errors.js';
export * from './logger.js';
export * from './disposables.js';
export * from './size.js';
export * from './keyed-queue.js';
export * from './envd-api.js';
export * from './recipe/index.js';
export * from './env.js';

export * from './layout.js';
export * from './stats.js';
export * from './remove.js';
export * from './freeze.js';

export * from './recipe.js';
export * from './dockerfile.js';
export * from './expand.js';
export { splitWords, shellQuote } from './words.js';

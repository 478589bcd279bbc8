/** @wrenn/cli as a library: config resolution (the command itself is src/main.ts, bin/wrenn.mjs). */
export { configPath, readConfigFile, resolveConfig, writeConfigFile, type CliConfig, type ConfigFile } from './config.js';

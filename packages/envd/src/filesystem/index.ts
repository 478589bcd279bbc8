/** The envd filesystem service and the pieces the /files routes reuse. */
export { registerFilesystemService } from './service.js';
export { WatcherRegistry } from './watcher-registry.js';
export { entryInfo, entryInfoFromStats, permissionString } from './entry-info.js';
export { readUserXattrs, writeUserXattrs, xattrsAvailable } from './xattr.js';
export { openWatchHandleCount } from './dir-watcher.js';

/**
 * The envd protocol version this implementation speaks. Clients (the e2b SDK) enable
 * features by comparing it: 0.5.7 octet-stream uploads, 0.6.2 file metadata (xattrs),
 * 0.6.3 watch events with entries, 0.6.4 watches on network mounts.
 */
export const ENVD_VERSION = '0.6.4';

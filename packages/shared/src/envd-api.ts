/** Shapes of envd's HTTP API shared by envd (server) and the host agent (client). */

/**
 * The envd protocol version envd speaks (and the control plane reports to e2b clients).
 * Clients enable features by comparing it: 0.5.7 octet-stream uploads, 0.6.2 file metadata
 * (xattrs), 0.6.3 watch events with entries, 0.6.4 watches on network mounts.
 */
export const ENVD_VERSION = '0.6.4';

/** Body of `POST /init`; every field is optional and an absent one keeps its value. */
export interface EnvdInitRequest {
  accessToken?: string;
  defaultUser?: string;
  defaultWorkdir?: string;
  envVars?: Record<string, string>;
  metadata?: Record<string, string>;
  capsuleId?: string;
  templateId?: string;
}

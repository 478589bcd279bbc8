/** Shapes of envd's HTTP API shared by envd (server) and the host agent (client). */

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

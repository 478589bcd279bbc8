/** The envd protocol version this implementation speaks (defined in @wrenn/shared: the control plane reports it too). */
export { ENVD_VERSION } from '@wrenn/shared';

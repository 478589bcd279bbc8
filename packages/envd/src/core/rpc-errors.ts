/** Renders thrown errors for Connect clients: WrennError codes map to Connect codes. */
import { connectErrorInterceptor } from '@wrenn/shared/connect';

export { toConnectError } from '@wrenn/shared/connect';
export const errorInterceptor = connectErrorInterceptor();

/** Every host-agent RPC needs `Authorization: Bearer <host token>`. */
import { timingSafeEqual } from 'node:crypto';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';

export function bearerAuth(token: string): Interceptor {
  const expected = Buffer.from(token);
  return (next) => async (req) => {
    const header = req.header.get('authorization') ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ConnectError('missing or wrong host token (Authorization: Bearer ...)', Code.Unauthenticated);
    }
    return next(req);
  };
}

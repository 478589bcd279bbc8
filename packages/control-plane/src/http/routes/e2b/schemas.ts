/**
 * TypeBox schemas of the E2B-compatible API: the request bodies the e2b SDK sends (closed
 * objects listing every field it may send; fields Wrenn cannot honour are refused by the
 * route with a message saying so) and the views it reads.
 */
import Type from 'typebox';

export const Strict = { additionalProperties: false } as const;
export const TAGS = ['e2b'];

/** E2B's maximum sandbox lifetime is 24 h on its paid plan; Wrenn allows 30 days. */
export const MAX_TIMEOUT_SEC = 30 * 86400;
/** E2B's default lifetime when `timeout` is omitted. */
export const DEFAULT_TIMEOUT_SEC = 15;

const Timeout = Type.Integer({ minimum: 0, maximum: MAX_TIMEOUT_SEC, description: 'Seconds the sandbox lives from now' });
const EnvName = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^=\\u0000]+$' });
export const EnvVars = Type.Record(EnvName, Type.String({ maxLength: 131072, pattern: '^[^\\u0000]*$' }), { maxProperties: 256 });
export const Metadata = Type.Record(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000]+$' }), Type.String({ maxLength: 4096, pattern: '^[^\\u0000]*$' }), {
  maxProperties: 64,
});

const EgressList = Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000]+$' }), { maxItems: 256 });
const EgressProxy = Type.Union([
  Type.Null(),
  Type.Object({ address: Type.String({ maxLength: 512 }), username: Type.Optional(Type.String({ maxLength: 512 })), password: Type.Optional(Type.String({ maxLength: 512 })) }, Strict),
]);
const NetworkRules = Type.Record(Type.String({ maxLength: 256 }), Type.Array(Type.Object({ transform: Type.Optional(Type.Unknown()) }, Strict), { maxItems: 100 }), { maxProperties: 100 });

const NetworkConfig = Type.Object(
  {
    allowOut: Type.Optional(EgressList),
    denyOut: Type.Optional(EgressList),
    allowPublicTraffic: Type.Optional(Type.Boolean()),
    maskRequestHost: Type.Optional(Type.String({ maxLength: 256 })),
    httpsPorts: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { maxItems: 100 })),
    egressProxy: Type.Optional(EgressProxy),
    rules: Type.Optional(NetworkRules),
  },
  Strict,
);

/** E2B's SandboxNetworkUpdateConfig: replaces the egress rules; an omitted field is cleared. */
export const NetworkUpdateBody = Type.Object(
  {
    allow_internet_access: Type.Optional(Type.Boolean()),
    allowOut: Type.Optional(EgressList),
    denyOut: Type.Optional(EgressList),
    egressProxy: Type.Optional(EgressProxy),
    rules: Type.Optional(NetworkRules),
  },
  Strict,
);

export const NewSandboxBody = Type.Object(
  {
    templateID: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._/:-]*$' }),
    timeout: Type.Optional(Timeout),
    autoPause: Type.Optional(Type.Boolean()),
    autoPauseMemory: Type.Optional(Type.Boolean()),
    autoResume: Type.Optional(Type.Object({ enabled: Type.Boolean() }, Strict)),
    secure: Type.Optional(Type.Boolean()),
    allow_internet_access: Type.Optional(Type.Boolean()),
    metadata: Type.Optional(Metadata),
    envVars: Type.Optional(EnvVars),
    network: Type.Optional(NetworkConfig),
    mcp: Type.Optional(Type.Union([Type.Null(), Type.Record(Type.String(), Type.Unknown())])),
    iam: Type.Optional(Type.Object({ tokens: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }, Strict)),
    volumeMounts: Type.Optional(
      Type.Array(Type.Object({ name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9_-]+$' }), path: Type.String({ minLength: 2, maxLength: 1024, pattern: '^/[^\\u0000]*$' }) }, Strict), { maxItems: 16 }),
    ),
  },
  Strict,
);

export const TimeoutBody = Type.Object({ timeout: Timeout }, Strict);
export const ConnectBody = Type.Object({ timeout: Type.Optional(Timeout), memory: Type.Optional(Type.Boolean()) }, Strict);
export const PauseBody = Type.Object({ memory: Type.Optional(Type.Boolean()) }, Strict);
export const SandboxParams = Type.Object({ sandboxID: Type.String({ minLength: 1, maxLength: 128 }) }, Strict);

export const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.String({ maxLength: 64, pattern: '^(running|paused)(,(running|paused))*$' })),
    metadata: Type.Optional(Type.String({ maxLength: 16384 })),
    template: Type.Optional(Type.String({ maxLength: 200 })),
    startedAfter: Type.Optional(Type.String({ format: 'date-time' })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    nextToken: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  Strict,
);

export const MetricsQuery = Type.Object(
  { start: Type.Optional(Type.Integer({ minimum: 0 })), end: Type.Optional(Type.Integer({ minimum: 0 })) },
  Strict,
);

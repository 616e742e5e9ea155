/**
 * The validated configuration: an immutable, typed view of a nutcracker.yml.
 * Nothing outside src/config reads YAML; everything else reads these types.
 * Key names and defaults are nutcracker 0.5.0's (../shared/spec/cli-config.md §5).
 */

/** Hash functions, spelled as in nutcracker's `hash:` setting. */
export const HASH_NAMES = [
  'one_at_a_time',
  'md5',
  'crc16',
  'crc32',
  'crc32a',
  'fnv1_64',
  'fnv1a_64',
  'fnv1_32',
  'fnv1a_32',
  'hsieh',
  'murmur',
  'jenkins',
] as const
export type HashName = (typeof HASH_NAMES)[number]

export const DISTRIBUTION_NAMES = ['ketama', 'modula', 'random'] as const
export type DistributionName = (typeof DISTRIBUTION_NAMES)[number]

/** Where a pool listens: `host:port`, or a unix socket `/path [perm]`. */
export type ListenAddress =
  | {
      readonly kind: 'tcp'
      /** Host as written (a name or an address); resolved at load time. */
      readonly host: string
      /** The address `host` resolved to when the config was loaded. */
      readonly address: string
      readonly port: number
      /** The `listen:` value exactly as written. */
      readonly text: string
    }
  | {
      readonly kind: 'unix'
      readonly path: string
      /** chmod applied after bind; undefined when none was given (or it parsed to 0). */
      readonly mode: number | undefined
      readonly text: string
    }

/** Where a backend lives. TCP hosts may be names; they are resolved at connect time. */
export type ServerAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }

export interface ServerConfig {
  /** The `servers:` entry exactly as written. */
  readonly text: string
  /** 0-based position in the `servers:` list as written (file order). */
  readonly index: number
  /**
   * The server's name: the node name if given, else `host:port` as written
   * (`host` alone when the port is 11211; `/path:` for unix sockets). It is the
   * ketama input, the sort key and the stats key.
   */
  readonly name: string
  readonly weight: number
  readonly address: ServerAddress
}

export interface PoolConfig {
  readonly name: string
  /** 0-based position of the pool in the file (file order). */
  readonly index: number
  readonly listen: ListenAddress
  readonly hash: HashName
  /** Exactly two bytes (open, close), or undefined. */
  readonly hashTag: Buffer | undefined
  readonly distribution: DistributionName
  /** Request timeout in ms; 0 means none (wait forever). */
  readonly timeout: number
  readonly backlog: number
  /** 0 means unlimited. */
  readonly clientConnections: number
  readonly redis: boolean
  readonly redisAuth: string | undefined
  readonly redisDb: number
  readonly preconnect: boolean
  readonly autoEjectHosts: boolean
  readonly serverConnections: number
  readonly serverRetryTimeout: number
  readonly serverFailureLimit: number
  readonly tcpkeepalive: boolean
  /**
   * walnut-only limits against hostile or broken clients (docs/failures.md).
   * Largest request accepted, in bytes (`max_request_size`; R12).
   */
  readonly maxRequestSize: number
  /**
   * Reply bytes a client may leave unread before it is closed (`client_max_buffer`,
   * like redis's client-output-buffer-limit); 0: no limit.
   */
  readonly clientMaxBuffer: number
  /**
   * Unanswered requests per client before the proxy stops reading from it
   * (`client_max_inflight`); 0: no limit.
   */
  readonly clientMaxInflight: number
  /**
   * walnut-only TLS and auth keys (docs/tls.md). Backend TLS (`tls`): the
   * server connections speak TLS, verified against `tlsCaFile` (else Node's
   * built-in CA list) unless `tlsVerify` is false, as `tlsServerName` (else the
   * server's host); `tlsCertFile` + `tlsKeyFile` are an optional client
   * certificate. File paths are absolute (the loader resolves relative ones
   * against the config file's directory); undefined when not set.
   */
  readonly tls: boolean
  readonly tlsCaFile?: string | undefined
  readonly tlsCertFile?: string | undefined
  readonly tlsKeyFile?: string | undefined
  readonly tlsServerName?: string | undefined
  readonly tlsVerify: boolean
  /**
   * A TLS listener next to `listen` (`listen_tls`), with its certificate and
   * key; with `tlsListenVerifyClient`, clients must present a certificate
   * signed by `tlsListenCaFile`.
   */
  readonly listenTls?: ListenAddress | undefined
  readonly tlsListenCertFile?: string | undefined
  readonly tlsListenKeyFile?: string | undefined
  readonly tlsListenCaFile?: string | undefined
  readonly tlsListenVerifyClient: boolean
  /** ACL user of the backend handshake (`AUTH <user> <redis_auth>`); redis pools only. */
  readonly redisAuthUser?: string | undefined
  /**
   * The password clients must send (`client_auth`), when it differs from the
   * backend's credentials; undefined: clients send the backend's (docs/tls.md).
   */
  readonly clientAuth?: string | undefined
  /**
   * walnut-only (`dns_refresh_interval`, docs/dns-and-reload.md): longest time
   * in ms between two lookups of a backend host name (a record's shorter TTL
   * wins, down to 1 s); 0: no background lookups, the name is looked up at
   * each connect, as nutcracker does.
   */
  readonly dnsRefreshInterval: number
  /** Servers in nutcracker's internal order: sorted by name, shorter first, then bytewise. */
  readonly servers: readonly ServerConfig[]
}

export interface Config {
  /** The config file path as given on the command line. */
  readonly path: string
  /** Pools sorted by name as nutcracker sorts them (shorter first, then bytewise). */
  readonly pools: readonly PoolConfig[]
}

/** nutcracker 0.5.0 defaults for the optional pool keys, then walnut's own keys. */
export const POOL_DEFAULTS = {
  hash: 'fnv1a_64',
  distribution: 'ketama',
  timeout: 0,
  backlog: 512,
  clientConnections: 0,
  redis: false,
  redisDb: 0,
  preconnect: false,
  autoEjectHosts: false,
  serverConnections: 1,
  serverRetryTimeout: 30000,
  serverFailureLimit: 2,
  tcpkeepalive: false,
  // walnut-only keys (not in nutcracker 0.5.0); docs/failures.md.
  maxRequestSize: 512 * 1024 * 1024,
  clientMaxBuffer: 1024 * 1024 * 1024,
  clientMaxInflight: 4096,
  // walnut-only TLS keys; docs/tls.md.
  tls: false,
  tlsVerify: true,
  tlsListenVerifyClient: false,
  // walnut-only; docs/dns-and-reload.md.
  dnsRefreshInterval: 30000,
} as const satisfies Partial<PoolConfig>

/**
 * The stats table: every pool and server metric nutcracker 0.5.0 reports, in its
 * order, with its name and description (../shared/spec/cli-config.md §2, stats.md §5-6).
 * This is the single source: `--describe-stats`, the stats JSON document and the
 * docs are derived from it, so a metric is added or renamed here and nowhere else.
 *
 * Kinds: `counter` only grows; `gauge` goes up and down; `timestamp` holds a time
 * in microseconds since the epoch (0 = never).
 */

export type MetricScope = 'pool' | 'server'
export type MetricKind = 'counter' | 'gauge' | 'timestamp'

export interface MetricSpec {
  readonly name: string
  readonly scope: MetricScope
  readonly kind: MetricKind
  readonly description: string
}

export const METRICS = [
  {
    name: 'client_eof',
    scope: 'pool',
    kind: 'counter',
    description: '# eof on client connections',
  },
  {
    name: 'client_err',
    scope: 'pool',
    kind: 'counter',
    description: '# errors on client connections',
  },
  {
    name: 'client_connections',
    scope: 'pool',
    kind: 'gauge',
    description: '# active client connections',
  },
  {
    name: 'server_ejects',
    scope: 'pool',
    kind: 'counter',
    description: '# times backend server was ejected',
  },
  {
    name: 'forward_error',
    scope: 'pool',
    kind: 'counter',
    description: '# times we encountered a forwarding error',
  },
  {
    name: 'fragments',
    scope: 'pool',
    kind: 'counter',
    description: '# fragments created from a multi-vector request',
  },
  {
    name: 'server_eof',
    scope: 'server',
    kind: 'counter',
    description: '# eof on server connections',
  },
  {
    name: 'server_err',
    scope: 'server',
    kind: 'counter',
    description: '# errors on server connections',
  },
  {
    name: 'server_timedout',
    scope: 'server',
    kind: 'counter',
    description: '# timeouts on server connections',
  },
  {
    name: 'server_connections',
    scope: 'server',
    kind: 'gauge',
    description: '# active server connections',
  },
  {
    name: 'server_ejected_at',
    scope: 'server',
    kind: 'timestamp',
    description: 'timestamp when server was ejected in usec since epoch',
  },
  { name: 'requests', scope: 'server', kind: 'counter', description: '# requests' },
  { name: 'request_bytes', scope: 'server', kind: 'counter', description: 'total request bytes' },
  { name: 'responses', scope: 'server', kind: 'counter', description: '# responses' },
  { name: 'response_bytes', scope: 'server', kind: 'counter', description: 'total response bytes' },
  {
    name: 'in_queue',
    scope: 'server',
    kind: 'gauge',
    description: '# requests in incoming queue',
  },
  {
    name: 'in_queue_bytes',
    scope: 'server',
    kind: 'gauge',
    description: 'current request bytes in incoming queue',
  },
  {
    name: 'out_queue',
    scope: 'server',
    kind: 'gauge',
    description: '# requests in outgoing queue',
  },
  {
    name: 'out_queue_bytes',
    scope: 'server',
    kind: 'gauge',
    description: 'current request bytes in outgoing queue',
  },
] as const satisfies readonly MetricSpec[]

export type Metric = (typeof METRICS)[number]
export type MetricName = Metric['name']
export type PoolMetricName = Extract<Metric, { scope: 'pool' }>['name']
export type ServerMetricName = Extract<Metric, { scope: 'server' }>['name']

/** Pool metrics in table order. */
export const POOL_METRICS: readonly Extract<Metric, { scope: 'pool' }>[] = METRICS.filter(
  (m): m is Extract<Metric, { scope: 'pool' }> => m.scope === 'pool',
)

/** Server metrics in table order. */
export const SERVER_METRICS: readonly Extract<Metric, { scope: 'server' }>[] = METRICS.filter(
  (m): m is Extract<Metric, { scope: 'server' }> => m.scope === 'server',
)

/**
 * The `--describe-stats` text: nutcracker's layout, LF line ends. Each line is two
 * spaces, the name left-justified in 20 columns, then the quoted description;
 * pool stats, a blank line, then server stats.
 */
export function describeStats(): string {
  const line = (m: MetricSpec): string => `  ${m.name.padEnd(20)}"${m.description}"\n`
  return (
    'pool stats:\n' +
    POOL_METRICS.map(line).join('') +
    '\nserver stats:\n' +
    SERVER_METRICS.map(line).join('')
  )
}

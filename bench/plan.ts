/**
 * What the benchmark can run: the workload table and the target table. Everything else
 * (argument parsing, the runner, the report) is driven by these two tables, so adding a
 * workload or a target is adding one row.
 */

/** Every backend holds keys KEY_PREFIX + 12-digit index for index < KEYSPACE. */
export const KEYSPACE = 100_000
export const KEY_PREFIX = 'key:'
export const VALUE_SIZE = 100
/** Concurrent clients of the ordinary workloads. */
export const CLIENTS = 50

export type Proto = 'redis' | 'memcache'

export interface LoadWorkload {
  readonly kind: 'load'
  readonly proto: Proto
  readonly tool: 'redis-benchmark' | 'mc-load'
  /** Requests (commands) per run before --scale. */
  readonly requests: number
  readonly clients: number
  /** Requests in flight per client. */
  readonly pipeline: number
  /** redis-benchmark: test name or command words; mc-load: its --op. */
  readonly op: readonly string[]
  readonly describe: string
}

export interface IdleWorkload {
  readonly kind: 'idle'
  readonly proto: Proto
  readonly describe: string
}

export type Workload = LoadWorkload | IdleWorkload

const MGET10 = ['MGET', ...Array.from({ length: 10 }, () => `${KEY_PREFIX}__rand_int__`)]

function redis(
  requests: number,
  clients: number,
  pipeline: number,
  op: readonly string[],
  describe: string,
): LoadWorkload {
  return {
    kind: 'load',
    proto: 'redis',
    tool: 'redis-benchmark',
    requests,
    clients,
    pipeline,
    op,
    describe,
  }
}

function mc(requests: number, op: string, describe: string): LoadWorkload {
  return {
    kind: 'load',
    proto: 'memcache',
    tool: 'mc-load',
    requests,
    clients: CLIENTS,
    pipeline: 1,
    op: [op],
    describe,
  }
}

/** Workloads in the order they run. Request counts give 1-3 s per run on 2 cores. */
export const WORKLOADS = {
  redis_set_p1: redis(100_000, CLIENTS, 1, ['set'], 'redis SET 100 B, 50 clients'),
  redis_get_p1: redis(100_000, CLIENTS, 1, ['get'], 'redis GET 100 B, 50 clients'),
  redis_set_p16: redis(400_000, CLIENTS, 16, ['set'], 'redis SET, 50 clients, pipeline 16'),
  redis_get_p16: redis(400_000, CLIENTS, 16, ['get'], 'redis GET, 50 clients, pipeline 16'),
  redis_mget10: redis(40_000, CLIENTS, 1, MGET10, 'redis MGET of 10 random keys, 50 clients'),
  redis_get_c1000: redis(100_000, 1000, 1, ['get'], 'redis GET, 1000 clients'),
  mc_set: mc(100_000, 'set', 'memcache set 100 B, 50 connections'),
  mc_get: mc(100_000, 'get', 'memcache get, 50 connections'),
  mc_mget10: mc(40_000, 'mget', 'memcache get of 10 random keys, 50 connections'),
  idle_10k: {
    kind: 'idle',
    proto: 'redis',
    describe: 'RSS with 10 000 idle client connections',
  },
} as const satisfies Record<string, Workload>

export type WorkloadName = keyof typeof WORKLOADS
export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[]

/**
 * Warm-up loads, run on every proxy before the repetitions and not reported: every
 * load workload, shorter, so each code path is compiled before it is measured. The
 * 1000-client one runs four times: every run opens 1000 connections, and walnut's
 * per-connection code (Node's Socket set-up and teardown) is still being compiled
 * after the first two (callgrind: 46k instructions per request after one such run,
 * 36k after two, 20.5k after four).
 */
export const WARM_UP: readonly (readonly [WorkloadName, number])[] = [
  ['redis_set_p1', 10_000],
  ['redis_get_p1', 10_000],
  ['redis_set_p16', 40_000],
  ['redis_get_p16', 40_000],
  ['redis_mget10', 5_000],
  ['redis_get_c1000', 5_000],
  ['redis_get_c1000', 5_000],
  ['redis_get_c1000', 5_000],
  ['redis_get_c1000', 5_000],
  ['mc_set', 10_000],
  ['mc_get', 10_000],
  ['mc_mget10', 5_000],
]

/** Names --workloads accepts besides single workloads. */
export const WORKLOAD_GROUPS: Readonly<Record<string, readonly WorkloadName[]>> = {
  all: WORKLOAD_NAMES,
  redis: WORKLOAD_NAMES.filter((w) => w.startsWith('redis_')),
  mc: WORKLOAD_NAMES.filter((w) => w.startsWith('mc_')),
  memory: ['idle_10k'],
}

export interface Target {
  /** 'direct': no proxy; the clients use the first backend of each kind. */
  readonly kind: 'direct' | 'nutcracker' | 'walnut'
  /** nutcracker's -v; undefined = its default (5). */
  readonly verbosity?: number
  readonly describe: string
}

export const TARGETS = {
  direct: { kind: 'direct', describe: 'no proxy: the first backend' },
  'nutcracker-v4': {
    kind: 'nutcracker',
    verbosity: 4,
    describe: 'nutcracker -v 4, its fastest setting: no getpeername per request',
  },
  'nutcracker-v5': {
    kind: 'nutcracker',
    describe: 'nutcracker at its default verbosity (-v 5)',
  },
  walnut: { kind: 'walnut', describe: 'walnut, the built CLI, default flags' },
} as const satisfies Record<string, Target>

export type TargetName = keyof typeof TARGETS
export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[]
export const DEFAULT_TARGETS: readonly TargetName[] = ['direct', 'nutcracker-v4', 'walnut']
/** The target every ratio compares with. */
export const REFERENCE: TargetName = 'nutcracker-v4'
/** The target the issue 7 goals are about. */
export const SUBJECT: TargetName = 'walnut'

/** Requests of one run after --scale; never below 1000 so the CPU counters resolve. */
export function scaledRequests(w: LoadWorkload, scale: number): number {
  return Math.max(1000, Math.round(w.requests * scale))
}

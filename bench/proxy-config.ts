/**
 * The nutcracker-syntax YAML every proxy target runs with: two pools, redis and memcache,
 * ketama over fnv1a_64 with named servers. Settings are what a production config would
 * have (timeouts, ejection on, one connection per server), and identical for every proxy,
 * so nothing is skipped to look fast. Pure.
 */

export interface ProxyPorts {
  readonly redisListen: number
  readonly mcListen: number
  readonly redisServers: readonly number[]
  readonly mcServers: readonly number[]
}

function pool(
  name: string,
  listen: number,
  redis: boolean,
  servers: readonly number[],
  serverName: string,
): string[] {
  const lines = [
    `${name}:`,
    `  listen: 127.0.0.1:${listen}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
  ]
  if (redis) lines.push('  redis: true')
  lines.push(
    '  timeout: 2000',
    '  auto_eject_hosts: true',
    '  server_failure_limit: 3',
    '  server_retry_timeout: 30000',
    '  server_connections: 1',
    '  preconnect: true',
    '  servers:',
    ...servers.map((p, i) => `   - 127.0.0.1:${p}:1 ${serverName}${i + 1}`),
  )
  return lines
}

export function renderProxyConfig(p: ProxyPorts): string {
  return [
    '# written by npm run bench',
    ...pool('bench_redis', p.redisListen, true, p.redisServers, 'redis'),
    ...pool('bench_mc', p.mcListen, false, p.mcServers, 'mc'),
    '',
  ].join('\n')
}

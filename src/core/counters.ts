/**
 * The counters behind the stats port, as plain fields named exactly as
 * nutcracker's stats (../shared/spec/stats.md §3, §5, §6), incremented inline
 * on the hot path. src/stats reads them by name.
 */

export class PoolCounters {
  client_eof = 0
  client_err = 0
  client_connections = 0
  server_ejects = 0
  forward_error = 0
  fragments = 0
  // walnut-only counters (docs/failures.md): never in the nutcracker stats document,
  // which lists its members by name (src/stats/metrics.ts).
  /** Requests refused for exceeding max_request_size. */
  request_too_large = 0
  /** Clients closed for leaving more than client_max_buffer reply bytes unread (also client_err). */
  client_buffer_closed = 0
  /** Times a client stopped being read at client_max_inflight or with replies piling up. */
  client_read_paused = 0
}

export class ServerCounters {
  server_eof = 0
  server_err = 0
  server_timedout = 0
  server_connections = 0
  server_ejected_at = 0
  requests = 0
  request_bytes = 0
  responses = 0
  response_bytes = 0
  in_queue = 0
  in_queue_bytes = 0
  out_queue = 0
  out_queue_bytes = 0
}

/** Process-wide connection counts (stats header). */
export const connections = {
  /** Connection objects ever created: listeners, clients, server connection attempts. */
  total_connections: 0,
  /** Connection objects open now. */
  curr_connections: 0,
}

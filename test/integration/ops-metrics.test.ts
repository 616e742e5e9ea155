/**
 * `GET /metrics` of the built CLI (`--stats-metrics-port`), parsed with the
 * parse-prometheus-text-format library: after real traffic through two memcached,
 * every counter and gauge equals the stats document's member of the same pool and
 * server; the latency histograms count every answered request (pool) and every
 * response (server); a dead server with auto_eject_hosts shows up 0 and ejected 1;
 * the stats port still serves plain JSON. Histograms are read per series with the
 * pool/server labels removed (see test/stats/prometheus.test.ts for why).
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { b, poolsYaml, serverLine } from '../helpers/memcache.js'
import { histogramLines, labelText } from '../helpers/metrics-text.js'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startWalnut,
  statsDocument,
} from '../helpers/servers.js'

interface Family {
  name: string
  type: string
  metrics: { value?: string; labels?: Record<string, string> }[]
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => Family[]

let mcs: ServerProc[] = []
let w: ProxyProc
let metricsPort = 0
let deadPort = 0

before(async () => {
  mcs = await Promise.all([startMemcached(), startMemcached()])
  metricsPort = await freePort()
  deadPort = await freePort() // nothing listens there
  const yaml = poolsYaml([
    {
      name: 'mc',
      listen: `127.0.0.1:${await freePort()}`,
      servers: mcs.map((m) => serverLine(m)),
      // modula spreads key:0..19 over both servers whatever the ports are
      extra: { distribution: 'modula' },
    },
    {
      name: 'dead',
      listen: `127.0.0.1:${await freePort()}`,
      servers: [`127.0.0.1:${deadPort}:1`],
      extra: { auto_eject_hosts: true, server_failure_limit: 1, server_retry_timeout: 60000 },
    },
  ])
  w = await startWalnut(yaml, {
    args: ['--stats-metrics-port', String(metricsPort), '--stats-metrics-addr', '127.0.0.1'],
  })
})
after(async () => {
  await w?.stop()
  await Promise.all(mcs.map((m) => m.stop()))
})

async function scrape(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return r.text()
}

function sample(fams: Family[], name: string, labels: Record<string, string>): number {
  const f = fams.find((x) => x.name === name)
  assert.ok(f, `family ${name}`)
  const m = f.metrics.find((x) => JSON.stringify(x.labels ?? {}) === JSON.stringify(labels))
  assert.ok(m?.value !== undefined, `${name} ${JSON.stringify(labels)}`)
  return Number(m.value)
}

/** `_count` of one histogram series, parsed alone with its labels removed. */
function histogramCount(text: string, family: string, labels: Record<string, string>): number {
  const lt = labelText(labels)
  const lines = histogramLines(text, family, labels)
  const [f] = parse(`${lines.join('\n')}\n`) as unknown as {
    metrics: { count?: string; buckets?: Record<string, string> }[]
  }[]
  const m = f?.metrics[0]
  assert.ok(m?.count !== undefined, `${family} ${lt}`)
  assert.equal(m.buckets?.['+Inf'], m.count, '+Inf bucket = count')
  return Number(m.count)
}

test('after real traffic, every metric equals the stats document; histograms count requests', async () => {
  const c = await connect(w.ports[0] as number)
  let answered = 0
  for (let i = 0; i < 20; i++) {
    await c.send(`set key:${i} 0 0 3\r\nv${String(i).padStart(2, '0')}\r\n`)
    await c.readMcReply()
    answered++
  }
  await c.send('set quiet 0 0 1 noreply\r\nq\r\n') // no reply: not timed
  for (let i = 0; i < 20; i += 2) {
    await c.send(`get key:${i} key:${i + 1} nothing\r\n`) // split over both servers mostly
    await c.readMcReply()
    answered++
  }
  await c.send('get key:3\r\n')
  await c.readMcReply()
  answered++
  await c.close()
  // the dead pool: one refused request ejects its only server (limit 1)
  const d = await connect(w.ports[1] as number)
  await d.send('get x\r\n')
  assert.equal((await d.readMcReply()).toString('latin1'), 'SERVER_ERROR Connection refused\r\n')
  await d.close()
  await sleep(100) // the clients' closes are counted

  const text = await scrape()
  const doc = await statsDocument(w.statsPort)
  const fams = parse(text)
  for (const pool of ['mc', 'dead']) {
    const p = doc[pool] as Record<string, unknown>
    for (const [k, v] of Object.entries(p)) {
      if (typeof v === 'number') {
        const name = `walnut_pool_${k}${k === 'client_connections' ? '' : '_total'}`
        assert.equal(sample(fams, name, { pool }), v, `${pool} ${k}`)
        continue
      }
      for (const [sk, sv] of Object.entries(v as Record<string, number>)) {
        const stat = sk.startsWith('server_') ? sk.slice(7) : sk
        const labels = { pool, server: k }
        if (sk === 'server_ejected_at') {
          assert.equal(sample(fams, 'walnut_server_ejected_timestamp_seconds', labels), sv / 1e6)
        } else {
          const gauge = /connections|queue/.test(sk)
          assert.equal(
            sample(fams, `walnut_server_${stat}${gauge ? '' : '_total'}`, labels),
            sv,
            `${k} ${sk}`,
          )
        }
      }
    }
  }

  const mc = doc.mc as Record<string, Record<string, number>>
  assert.ok((mc.fragments as unknown as number) > 0, 'the multi-gets were split')
  assert.equal(
    histogramCount(text, 'walnut_pool_request_duration_seconds', { pool: 'mc' }),
    answered,
  )
  for (const m of mcs) {
    const name = `127.0.0.1:${m.port}`
    const responses = mc[name]?.responses
    assert.ok(responses !== undefined && responses > 0, name)
    // every response is one observation (single requests and fragments; noreply has none)
    const count = histogramCount(text, 'walnut_server_request_duration_seconds', {
      pool: 'mc',
      server: name,
    })
    assert.equal(count, responses, name)
    assert.equal(sample(fams, 'walnut_server_up', { pool: 'mc', server: name }), 1)
    assert.equal(sample(fams, 'walnut_server_ejected', { pool: 'mc', server: name }), 0)
  }
  const dead = { pool: 'dead', server: `127.0.0.1:${deadPort}` }
  assert.equal(sample(fams, 'walnut_server_up', dead), 0)
  assert.equal(sample(fams, 'walnut_server_ejected', dead), 1)
  assert.equal(sample(fams, 'walnut_pool_server_ejects_total', { pool: 'dead' }), 1)
  assert.ok(sample(fams, 'walnut_server_ejected_timestamp_seconds', dead) > 1.7e9)
  assert.equal(histogramCount(text, 'walnut_pool_request_duration_seconds', { pool: 'dead' }), 1)
})

test('the stats port is unchanged: raw JSON on a plain connect, even after an HTTP request line', async () => {
  const c = await connect(w.statsPort)
  await c.send(b('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'))
  const text = (await c.readUntilClose()).toString('utf8')
  assert.match(text, /^\{"service":"nutcracker", /)
  assert.ok(text.endsWith('}\n'))
  // and the metrics port serves nothing but /metrics
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/`)).status, 404)
})

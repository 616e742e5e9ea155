/**
 * `walnut -t` on the TLS keys (docs/tls.md): certificate files that are missing,
 * unreadable (mode 000, the check run as an unprivileged user when the tests run
 * as root, since root reads any file) or damaged fail the check with file:line:col,
 * pool, key and the reason; starting with such a file fails the same way.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { WALNUT_MAIN } from '../helpers/servers.js'
import { type Certs, makeCerts } from '../helpers/tls.js'

/** The user the CLI runs as: nobody when the tests are root, so that mode 000 means unreadable. */
const AS = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}

let certs: Certs

before(() => {
  certs = makeCerts()
  // the CLI may run as another user: it must reach the dir and read the good files
  chmodSync(certs.dir, 0o755)
  for (const f of [certs.ca, certs.server, certs.serverKey, certs.client, certs.clientKey]) {
    chmodSync(f, 0o644)
  }
})

/** Runs `walnut ...args` as AS; returns exit status and stderr. */
function walnut(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [WALNUT_MAIN, ...args], {
    ...AS,
    encoding: 'utf8',
    timeout: 10_000,
  })
  return { status: r.status, stderr: r.stderr }
}

/** Writes a config in the certificate dir (readable by AS); returns its path. */
function config(name: string, lines: string[]): string {
  const path = join(certs.dir, name)
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o644 })
  chmodSync(path, 0o644)
  return path
}

function pool(...extra: string[]): string[] {
  return [
    'alpha:',
    '  listen: 127.0.0.1:24201',
    '  redis: true',
    ...extra,
    '  servers:',
    '   - 127.0.0.1:24101:1',
  ]
}

function invalid(path: string, where: string): string {
  return `walnut: configuration file '${path}' syntax is invalid\n${path}:${where}\n`
}

describe('-t and the certificate files', () => {
  test('all files readable and valid: syntax is ok', () => {
    const path = config('ok.yml', [
      ...pool(
        '  tls: true',
        `  tls_ca_file: ${certs.ca}`,
        `  tls_cert_file: ${certs.client}`,
        `  tls_key_file: ${certs.clientKey}`,
        '  listen_tls: 127.0.0.1:24211',
        `  tls_listen_cert_file: ${certs.server}`,
        `  tls_listen_key_file: ${certs.serverKey}`,
      ),
    ])
    const r = walnut('-t', '-c', path)
    assert.equal(r.stderr, `walnut: configuration file '${path}' syntax is ok\n`)
    assert.equal(r.status, 0)
  })

  test('an unreadable key file (mode 000)', () => {
    const key = join(certs.dir, 'locked.key')
    copyFileSync(certs.clientKey, key)
    chmodSync(key, 0o000)
    const path = config('locked.yml', [
      ...pool('  tls: true', `  tls_cert_file: ${certs.client}`, `  tls_key_file: ${key}`),
    ])
    const r = walnut('-t', '-c', path)
    assert.equal(
      r.stderr,
      invalid(
        path,
        `6:17: pool 'alpha', key 'tls_key_file': directive "tls_key_file" cannot read '${key}': Permission denied`,
      ),
    )
    assert.equal(r.status, 1)
    // starting fails the same way, before anything listens
    const start = walnut('-c', path)
    assert.equal(start.status, 1)
    assert.ok(
      start.stderr.includes(`directive "tls_key_file" cannot read '${key}': Permission denied`),
      start.stderr,
    )
  })

  test('an unreadable listener certificate (mode 000)', () => {
    const crt = join(certs.dir, 'locked.pem')
    copyFileSync(certs.server, crt)
    chmodSync(crt, 0o000)
    const path = config('locked-listen.yml', [
      ...pool(
        '  listen_tls: 127.0.0.1:24211',
        `  tls_listen_cert_file: ${crt}`,
        `  tls_listen_key_file: ${certs.serverKey}`,
      ),
    ])
    const r = walnut('-t', '-c', path)
    assert.equal(
      r.stderr,
      invalid(
        path,
        `5:25: pool 'alpha', key 'tls_listen_cert_file': directive "tls_listen_cert_file" cannot read '${crt}': Permission denied`,
      ),
    )
    assert.equal(r.status, 1)
  })

  test('a missing CA file', () => {
    const ca = join(certs.dir, 'no-such-ca.pem')
    const path = config('missing.yml', [...pool('  tls: true', `  tls_ca_file: ${ca}`)])
    const r = walnut('-t', '-c', path)
    assert.equal(
      r.stderr,
      invalid(
        path,
        `5:16: pool 'alpha', key 'tls_ca_file': directive "tls_ca_file" cannot read '${ca}': No such file or directory`,
      ),
    )
    assert.equal(r.status, 1)
  })

  test('a damaged certificate: the OpenSSL reason in parentheses', () => {
    const bad = join(certs.dir, 'damaged.pem')
    writeFileSync(
      bad,
      '-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAAAAAA\n-----END CERTIFICATE-----\n',
      { mode: 0o644 },
    )
    const path = config('damaged.yml', [...pool('  tls: true', `  tls_ca_file: ${bad}`)])
    const r = walnut('-t', '-c', path)
    const head = `${path}:5:16: pool 'alpha', key 'tls_ca_file': directive "tls_ca_file" has an invalid certificate in '${bad}' (`
    const lines = r.stderr.split('\n')
    assert.equal(lines[0], `walnut: configuration file '${path}' syntax is invalid`)
    assert.ok(lines[1]!.startsWith(head) && lines[1]!.endsWith(')'), lines[1])
    assert.equal(r.status, 1)
  })
})

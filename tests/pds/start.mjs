// Starts the reference Bluesky PDS (plus an in-memory PLC) for bwr-bot's tests, on loopback only.
//
//   node start.mjs [--pds-port N] [--plc-port N] [--handle alice.test]
//   (or env PDS_PORT, PLC_PORT, PDS_HANDLE; port 0/unset = any free port)
//
// Prints ONE JSON line on stdout once ready:
//   {"url", "did", "handle", "password", "app_password", "plc_url"}
// and runs until SIGTERM/SIGINT, or until stdin closes when stdin is a pipe (so it dies with the
// test run that spawned it).
// Everything the PDS writes lives in one temp dir that is removed on shutdown.
import dns from 'node:dns'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import module from 'node:module'
import { fileURLToPath } from 'node:url'

// Cache compiled JS next to Node (an ignored folder): later starts skip most parsing.
module.enableCompileCache?.(fileURLToPath(new URL('./.node/compile-cache', import.meta.url)))

// stdout carries only the ready line; anything chatty goes to stderr.
console.log = console.error
console.info = console.error
process.env.LOG_ENABLED ??= 'false'

// The PDS and PLC call app.listen(port), which binds every interface: force loopback.
const LOOPBACK = '127.0.0.1'
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK)
  } else if (args[0] && typeof args[0] === 'object' && args[0].path === undefined) {
    args[0] = { ...args[0], host: LOOPBACK }
  }
  return origListen.apply(this, args)
}
// The services call each other at http://localhost:<port>; make that resolve to where they listen.
dns.setDefaultResultOrder('ipv4first')

// dev-env puts the PDS data and blob dirs under os.tmpdir(): point that at a dir of our own.
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bwr-test-pds-'))
process.env.TMPDIR = stateDir

function arg(name, envName, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i !== -1 && i + 1 < process.argv.length) return process.argv[i + 1]
  return process.env[envName] || fallback
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = origListen.call(net.createServer(), 0, LOOPBACK)
    srv.on('error', reject)
    srv.on('listening', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

let network = null
let stopping = null

async function stop(code) {
  if (stopping) return stopping
  stopping = (async () => {
    // Never hang the test run on a stuck close.
    setTimeout(() => process.exit(code), 5000).unref()
    try {
      if (network) await network.close()
    } catch (err) {
      console.error('pds: close failed:', err)
    }
    fs.rmSync(stateDir, { recursive: true, force: true })
    process.exit(code)
  })()
  return stopping
}

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.on('SIGHUP', () => stop(0))
// Die with the parent: when stdin is a pipe (the test fixture holds its write end), its closing
// means the parent is gone. Other stdins (a tty, /dev/null, /dev/zero) are left alone.
const stdinStat = fs.fstatSync(0)
if (stdinStat.isFIFO() || stdinStat.isSocket()) {
  process.stdin.on('data', () => {}) // nothing is ever sent; drop whatever comes
  process.stdin.on('end', () => stop(0))
  process.stdin.on('close', () => stop(0))
  process.stdin.on('error', () => stop(0))
}

async function main() {
  const pdsPort = Number(arg('pds-port', 'PDS_PORT', '0')) || (await freePort())
  const plcPort = Number(arg('plc-port', 'PLC_PORT', '0')) || (await freePort())
  const handle = arg('handle', 'PDS_HANDLE', 'alice.test')

  // Imported only now, after the patches above are in place. The module itself rather than the
  // package index, which also loads the AppView, Ozone and more (seconds of startup).
  let devEnv
  try {
    devEnv = await import('./node_modules/@atproto/dev-env/dist/network-no-appview.js')
  } catch {
    devEnv = await import('@atproto/dev-env')
  }
  const { TestNetworkNoAppView } = devEnv
  network = await TestNetworkNoAppView.create({
    pds: { port: pdsPort, hostname: 'localhost' },
    plc: { port: plcPort },
  })
  if (stopping) return

  const agent = network.pds.getAgent()
  const password = crypto.randomBytes(18).toString('base64url')
  const created = await agent.createAccount({
    handle,
    email: `${handle.split('.')[0]}@example.test`,
    password,
  })
  const appPw = await agent.com.atproto.server.createAppPassword({ name: 'bwr-bot-tests' })

  process.stdout.write(
    JSON.stringify({
      url: network.pds.url,
      did: created.data.did,
      handle: created.data.handle,
      password,
      app_password: appPw.data.password,
      plc_url: network.plc.url,
    }) + '\n',
  )
}

main().catch((err) => {
  console.error('pds: failed to start:', err)
  stop(1)
})

/*
 * stack.mjs - the real processes behind the dashboard test: a throw-away PostgreSQL cluster in a
 * temporary folder on a free 127.0.0.1 port, fastrun-server with --web, a worker, tokens made
 * with the server's own CLI, and a small HTTP client for the REST API.
 *
 * Mirrors the conventions of tests/harness/ (the C harness of the server tests):
 * - PostgreSQL refuses to run as root, so as root initdb and postgres run as $FRT_PG_USER, else
 *   "fastrun-test" if that user exists, else "nobody", and the cluster's folder is theirs;
 * - every child runs in its own process group under `setpriv --pdeathsig KILL`, so it dies with
 *   this process even when the test is killed by a timeout; stopAll() (called in a finally and
 *   on exit) stops whatever is still running: the postmaster with SIGINT (fast shutdown), the
 *   rest with SIGTERM, then SIGKILL to the group.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, chownSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const procs = new Set();
const dirs = new Set();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A TCP port on 127.0.0.1 that is free right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix) {
  const d = mkdtempSync(join(process.env.TMPDIR || tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/* The OS user that runs PostgreSQL when we are root, with its uid and gid; null otherwise. */
function pgUser() {
  if (process.getuid() !== 0) return null;
  const candidates = [process.env.FRT_PG_USER, 'fastrun-test', 'nobody'].filter(Boolean);
  for (const name of candidates) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { name, uid, gid };
    } catch { /* no such user: try the next */ }
  }
  throw new Error(`no user to run PostgreSQL as (tried ${candidates.join(', ')})`);
}

/* argv wrapped so the child dies with us (and runs as user when given). */
function wrap(cmd, args, user) {
  const creds = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'] : [];
  return ['setpriv', [...creds, '--pdeathsig', 'KILL', '--', cmd, ...args]];
}

/* Starts a long-running child with stdout and stderr appended to logFile. */
export function start(name, cmd, args, { logFile, user, env } = {}) {
  const fd = openSync(logFile, 'a');
  const [c, a] = wrap(cmd, args, user);
  const child = spawn(c, a, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  const p = { name, child, logFile, exited: false, code: null };
  child.on('exit', (code, sig) => { p.exited = true; p.code = code ?? sig; });
  procs.add(p);
  return p;
}

/* Runs a command to completion; resolves {code, stdout, stderr}. */
export function run(cmd, args, { user, env, timeoutMs = 60000 } = {}) {
  return new Promise((resolve) => {
    const [c, a] = wrap(cmd, args, user);
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

export function tail(file, bytes = 3000) {
  try {
    const s = readFileSync(file, 'utf8');
    return s.slice(-bytes);
  } catch { return '(no log)'; }
}

/* Stops one child: sig to the process (or its group), then SIGKILL to the group. */
export async function stop(p, sig = 'SIGTERM', { group = true, timeoutMs = 10000 } = {}) {
  if (!p || p.exited) { procs.delete(p); return; }
  try { process.kill(group ? -p.child.pid : p.child.pid, sig); } catch { /* already gone */ }
  for (let waited = 0; !p.exited && waited < timeoutMs; waited += 50) await sleep(50);
  if (!p.exited) try { process.kill(-p.child.pid, 'SIGKILL'); } catch { /* gone */ }
  for (let waited = 0; !p.exited && waited < 2000; waited += 50) await sleep(50);
  procs.delete(p);
}

/* Stops everything still running (the postmaster last, with a fast shutdown) and removes the
 * temporary folders. Safe to call twice. */
export async function stopAll() {
  const list = [...procs];
  for (const p of list.filter((x) => x.name !== 'postgres')) await stop(p);
  for (const p of list.filter((x) => x.name === 'postgres')) await stop(p, 'SIGINT', { group: false, timeoutMs: 20000 });
  if (!process.env.FASTRUN_KEEP_TMP) for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/* Last resort when the process exits without reaching the finally (the pdeathsig covers kills). */
process.on('exit', () => {
  for (const p of procs) if (!p.exited) try { process.kill(-p.child.pid, 'SIGKILL'); } catch { /* gone */ }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopAll().finally(() => process.exit(1)); });

/* ------------------------------------------------------------------------------------------ */

const PG_BIN = process.env.FRT_PG_BINDIR || '/usr/lib/postgresql/15/bin';
const PG_SUPERUSER = 'fastrun';

/* initdb + postgres on a free port; resolves {conninfo, dir, proc}. */
export async function startPostgres() {
  const user = pgUser();
  const dir = tempDir('fastrun-browser-pg-');
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const init = await run(join(PG_BIN, 'initdb'), ['-A', 'trust', '-U', PG_SUPERUSER, '-E', 'UTF8', '--no-sync', '-D', data], { user });
  if (init.code !== 0) throw new Error(`initdb failed (${init.code}):\n${init.stderr}`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const logFile = join(dir, `pg-${port}.log`);
    if (user) { closeSync(openSync(logFile, 'a')); chownSync(logFile, user.uid, user.gid); }
    const proc = start('postgres', join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off',
      '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'shared_buffers=32MB'], { logFile, user });
    for (let i = 0; i < 300 && !proc.exited; i++) {
      const r = await run(join(PG_BIN, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]);
      if (r.code === 0) return { conninfo: `host=127.0.0.1 port=${port} user=${PG_SUPERUSER} dbname=postgres connect_timeout=5`, dir, proc };
      await sleep(100);
    }
    const log = tail(logFile);
    await stop(proc, 'SIGKILL');
    if (!/could not bind|Address already in use/.test(log)) throw new Error(`PostgreSQL did not start:\n${log}`);
  }
  throw new Error('PostgreSQL: no free port after 3 attempts');
}

/* fastrun-server on a free port, ready when /readyz answers 200; resolves {url, proc, logFile}. */
export async function startServer(bin, conninfo, extraArgs, logDir) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const logFile = join(logDir, `server-${port}.log`);
    const proc = start('fastrun-server', bin, ['--listen', `127.0.0.1:${port}`, '--database', conninfo, ...extraArgs], { logFile });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 400 && !proc.exited; i++) {
      try {
        const r = await fetch(`${url}/readyz`);
        if (r.status === 200) return { url, proc, logFile };
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    const log = tail(logFile);
    await stop(proc, 'SIGKILL');
    if (!/cannot listen|Address already in use/.test(log)) throw new Error(`fastrun-server did not become ready:\n${log}`);
  }
  throw new Error('fastrun-server: no free port after 3 attempts');
}

/* A token made with `fastrun-server token create`, as an operator would. */
export async function makeToken(bin, conninfo, role, name) {
  const r = await run(bin, ['token', 'create', '--role', role, '--name', name, '--database', conninfo]);
  if (r.code !== 0) throw new Error(`token create --role ${role} failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop();
}

/* One REST call; resolves {status, body} with body parsed as JSON when it is JSON. */
export async function api(base, method, path, { token, body, type = 'application/json' } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = type;
  const r = await fetch(base + path, { method, headers, body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, body: json, headers: r.headers };
}

export const exists = existsSync;

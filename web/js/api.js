/*
 * api.js - every request the dashboard makes goes through here: fetch of the public REST API
 * (/v1/..., /healthz) with the optional bearer token, and errors turned into ApiError objects
 * that views show with errorBox() instead of swallowing them. The server's error body is
 * {"error": {"code", "message", "detail"}}; a network failure or a non-JSON answer is described
 * just as plainly.
 */
import { h } from './dom.js';

const TOKEN_KEY = 'fastrun.token';

export class ApiError extends Error {
  constructor(method, path, status, code, message, detail) {
    super(message);
    this.method = method;
    this.path = path;
    this.status = status; /* 0 when the server could not be reached */
    this.code = code;
    this.detail = detail || '';
  }
}

export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lasts for this page only */ }
}

/* Sends one request; resolves to the parsed JSON body, rejects with an ApiError. */
export async function request(method, path, body, contentType = 'application/json') {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = contentType;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-cache' });
  } catch (e) {
    throw new ApiError(method, path, 0, 'network', 'the server could not be reached', String(e.message || e));
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* reported below */ }
  if (!res.ok) {
    const err = json && json.error;
    if (err) throw new ApiError(method, path, res.status, err.code || 'error', err.message || res.statusText, err.detail);
    throw new ApiError(method, path, res.status, 'http', `${res.status} ${res.statusText}`, text.slice(0, 200));
  }
  if (json === null && text) throw new ApiError(method, path, res.status, 'bad_json', 'the answer is not JSON', text.slice(0, 200));
  return json;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);

/* A panel that states what failed: request, status, code, message and detail. */
export function errorBox(err, what) {
  const e = err instanceof ApiError ? err : new ApiError('', '', 0, 'script', String(err && err.message || err), err && err.stack);
  const head = what ? `${what} failed` : 'Request failed';
  const box = h('div', { class: 'error-box', role: 'alert' },
    h('strong', {}, head),
    h('div', { class: 'error-line' },
      e.path ? h('code', {}, `${e.method} ${e.path}`) : null,
      e.status ? h('span', { class: 'error-status' }, ` → ${e.status} ${e.code}`) : h('span', { class: 'error-status' }, ` → ${e.code}`)),
    h('div', {}, e.message),
    e.detail ? h('div', { class: 'error-detail' }, e.detail) : null);
  if (e.status === 401 || e.status === 403)
    box.append(h('div', {}, 'This server needs a bearer token for reads: set one with the “token” button at the top right.'));
  return box;
}

/* Asks for the token in a prompt (kept in localStorage) and reloads the current view. */
export function askToken() {
  const v = window.prompt('Bearer token for API reads (empty to clear):', token());
  if (v === null) return;
  setToken(v.trim());
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/* A link that downloads path as filename. With a token set, a plain link would not carry it
 * (--read-token servers answer 401), so the click fetches with the token and saves the blob;
 * a failure is shown in errorsEl. */
export function downloadLink(path, filename, label, errorsEl) {
  const a = h('a', { href: path, download: filename }, label);
  a.addEventListener('click', async (e) => {
    const t = token();
    if (!t) return;
    e.preventDefault();
    try {
      const res = await fetch(path, { headers: { Authorization: `Bearer ${t}` } });
      if (!res.ok) {
        let body = null;
        try { body = await res.json(); } catch { /* not JSON */ }
        const err = body && body.error;
        throw new ApiError('GET', path, res.status, err ? err.code : 'http', err ? err.message : res.statusText, err && err.detail);
      }
      const url = URL.createObjectURL(await res.blob());
      const tmp = h('a', { href: url, download: filename });
      document.body.append(tmp);
      tmp.click();
      tmp.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      if (errorsEl) errorsEl.replaceChildren(errorBox(err, `Downloading ${filename}`));
    }
  });
  return a;
}

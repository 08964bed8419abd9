/*
 * view-workers.js - #/workers: the workers that run jobs (GET /v1/workers), refreshed every 5 s:
 * pool, category, last heartbeat (whether it is live within the server's window), and the job it
 * holds. "Show signed-off workers" adds the ones that stopped (?all=1).
 */
import { errorBox, get } from './api.js';
import { fill, fmtAgo, fmtInt, fmtTime, h, skeleton } from './dom.js';
import { poll, stateBadge } from './jobs-common.js';
import { createTable } from './table.js';

const two = (main, sub) => [h('div', { class: 'cell-main' }, main), h('div', { class: 'cell-sub' }, sub)];

const COLUMNS = [
  { label: 'Worker', width: '22%', render: (w) => two(h('strong', {}, w.name), `${w.host} · #${w.id}`) },
  { label: 'Pool', width: '11%', render: (w) => two(w.pool, '\u00a0') },
  { label: 'Category', width: '25%', title: (w) => (w.fingerprint ? w.fingerprint.cpu : ''),
    render: (w) => two(h('a', { href: `#/category/${w.category}`, class: 'mono' }, w.category),
      w.fingerprint ? `${w.fingerprint.cpu} · ${w.fingerprint.threads} threads` : '\u00a0') },
  { label: 'Last heartbeat', width: '16%', title: (w) => fmtTime(w.last_seen),
    render: (w) => two(w.stopped_at ? stateBadge('cancelled', 'signed off') : w.live ? stateBadge('done', 'live') : stateBadge('failed', 'silent'),
      w.stopped_at ? fmtAgo(w.stopped_at) : fmtAgo(w.last_seen)) },
  { label: 'Current job', width: '26%', render: (w) => (w.job
    ? two(h('a', { href: `#/job/${w.job.id}` }, `#${w.job.id} ${w.job.model}`), `attempt ${w.job.attempt}`)
    : two(h('span', { class: 'cell-sub' }, 'idle'), '\u00a0')) },
];

function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

export function render(root) {
  const stats = h('div', { class: 'stats' }, ['Live workers', 'Busy', 'Pools', 'Categories'].map((l) => stat(l, skeleton(1, 'wide'))));
  const errors = h('div', { class: 'errors' });
  const all = h('input', { type: 'checkbox', id: 'workers-all' });
  const table = createTable({ columns: COLUMNS, rowKey: (w) => String(w.id), pageSize: 50, empty: 'No worker is registered. Start one with fastrun-worker.' });
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Workers'),
      h('p', { class: 'lede' }, 'Daemons that claim jobs for their pool and category, refreshed every 5 seconds.')),
    stats, errors,
    h('div', { class: 'toolbar' }, h('label', { class: 'check' }, all, ' show signed-off workers')),
    table.el);
  table.loading(3);

  let first = true;
  async function refresh() {
    try {
      const body = await get(`/v1/workers${all.checked ? '?all=1' : ''}`);
      const ws = body.workers || [];
      errors.replaceChildren();
      const live = ws.filter((w) => w.live);
      fill(stats,
        stat('Live workers', fmtInt(live.length)),
        stat('Busy', fmtInt(ws.filter((w) => w.job).length)),
        stat('Pools', fmtInt(new Set(live.map((w) => w.pool)).size)),
        stat('Categories', fmtInt(new Set(live.map((w) => w.category)).size)));
      ws.sort((a, b) => (b.live - a.live) || a.pool.localeCompare(b.pool) || a.name.localeCompare(b.name));
      table.setRows(ws, !first);
      first = false;
    } catch (err) {
      errors.replaceChildren(errorBox(err, 'Refreshing the workers'));
      if (first) { table.error('No data: see the error above.'); fill(stats, ...['Live workers', 'Busy', 'Pools', 'Categories'].map((l) => stat(l, '–'))); }
    }
  }
  let stop = poll(refresh, 5000);
  all.addEventListener('change', () => { stop(); first = true; stop = poll(refresh, 5000); });
  return () => stop();
}

/*
 * jobs-common.js - pieces shared by the jobs list and the job page: state badges, the progress
 * bar, durations, and a poller that refreshes a view while it is visible (and stops when the
 * route changes or the tab is hidden).
 */
import { fmtDuration, h } from './dom.js';

const STATE_BADGE = { queued: 'idle', running: 'run', done: 'new', failed: 'bad', cancelled: 'old',
  pending: 'idle', cached: 'new' };

export function stateBadge(state, label) {
  return h('span', { class: `badge ${STATE_BADGE[state] || 'idle'} state-${state}` }, label || state);
}

/* Operators finished (done + cached) over total, as a bar with its words. */
export function progressBar(job) {
  const p = job.progress || { total: 0, done: 0, cached: 0, percent: 0 };
  const cls = job.state === 'done' ? 'done' : job.state === 'failed' || job.state === 'cancelled' ? 'failed' : '';
  const finished = p.done + p.cached;
  return h('div', { class: 'progress-wrap', title: `${p.done} profiled, ${p.cached} already cached, ${p.pending} pending` },
    h('div', { class: 'cell-sub' }, `${finished} of ${p.total} operators${p.cached ? ` (${p.cached} cached)` : ''} · ${Math.round(p.percent)}%`),
    h('div', { class: `progress ${cls}`, role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(p.percent) },
      h('span', { style: `width:${Math.max(0, Math.min(100, p.percent)).toFixed(1)}%` })));
}

/* Seconds between two ISO times (to now when end is null); NaN when start is null. */
export function durationS(start, end) {
  const a = Date.parse(start);
  if (!Number.isFinite(a)) return NaN;
  const b = end ? Date.parse(end) : Date.now();
  return (b - a) / 1000;
}

/* From start (or submission, for a job that never needed a worker) to the end, or to now. */
export function jobDuration(job) {
  const s = durationS(job.started_at || job.created_at, job.finished_at);
  return Number.isFinite(s) ? fmtDuration(s) : '–';
}

export function targetText(job) {
  return job.target_kind === 'pool' ? `pool ${job.target}` : `category ${job.target}`;
}

/* Calls fn now and every ms while the page is visible; returns stop(). fn may return a promise;
 * a new call never starts before the previous one has settled. */
export function poll(fn, ms) {
  let timer = null, stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (!document.hidden) { try { await fn(); } catch { /* fn shows its own errors */ } }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}

/*
 * view-job.js - #/job/<id>: one job in full (GET /v1/jobs/{id}), refreshed every 2 s until it
 * has ended: its state and progress, where it runs, how long it took, the reason of every failed
 * attempt, then every operator (state, shape, best algorithm and time, candidates, how long
 * profiling took) and every attempt (worker, outcome, detail).
 */
import { downloadLink, errorBox, get } from './api.js';
import { fill, fmtAgo, fmtDuration, fmtMs, fmtTime, h, shortAlgo, skeleton } from './dom.js';
import { durationS, jobDuration, poll, progressBar, stateBadge, targetText } from './jobs-common.js';
import { describeOp, parseKey } from './ops.js';
import { createTable } from './table.js';

const two = (main, sub) => [h('div', { class: 'cell-main' }, main), h('div', { class: 'cell-sub' }, sub)];
const FINAL = new Set(['done', 'failed', 'cancelled']);

const OP_COLUMNS = [
  { label: '#', width: '5%', cls: 'num', render: (o) => two(String(o.index + 1), '\u00a0') },
  { label: 'Operator', width: '35%', title: (o) => o.key, render: (o) => {
    const w = describeOp(parseKey(o.key));
    return two([h('strong', {}, o.name), ' · ', w.title], w.detail);
  } },
  { label: 'State', width: '12%', render: (o) => two(stateBadge(o.state), o.attempt ? `attempt ${o.attempt}` : '\u00a0') },
  { label: 'Best algorithm', width: '20%', render: (o) => (o.best ? two(h('span', { class: 'algo win' }, shortAlgo(o.best.algorithm)), fmtMs(o.best.median_ms))
    : two('–', o.state === 'cached' ? 'already in the cache' : '\u00a0')) },
  { label: 'Candidates', width: '12%', cls: 'num', render: (o) => two(o.candidates ?? '–', o.failed_candidates ? `${o.failed_candidates} failed` : '\u00a0') },
  { label: 'Profiling', width: '16%', cls: 'num', title: (o) => fmtTime(o.finished_at),
    render: (o) => two(Number.isFinite(o.duration_s) ? fmtDuration(o.duration_s) : '–', o.finished_at ? fmtAgo(o.finished_at) : '\u00a0') },
];

const ATTEMPT_COLUMNS = [
  { label: 'Attempt', width: '9%', cls: 'num', render: (a) => two(String(a.attempt), '\u00a0') },
  { label: 'Worker', width: '22%', render: (a) => two(a.worker.name || `worker ${a.worker.id}`, a.worker.host || '\u00a0') },
  { label: 'Category', width: '15%', render: (a) => two(a.category ? h('a', { href: `#/category/${a.category}`, class: 'mono' }, a.category) : '–', '\u00a0') },
  { label: 'Outcome', width: '34%', title: (a) => a.detail || '', render: (a) => two(stateBadge(a.outcome === 'completed' ? 'done' : a.outcome === 'running' ? 'running' : a.outcome === 'released' ? 'queued' : 'failed', a.outcome),
    a.detail ? h('span', { class: a.outcome === 'failed' || a.outcome === 'lease_expired' ? 'reason' : '' }, a.detail) : '\u00a0') },
  { label: 'Time', width: '20%', cls: 'num', render: (a) => two(Number.isFinite(durationS(a.started_at, a.ended_at)) ? fmtDuration(durationS(a.started_at, a.ended_at)) : '–', fmtTime(a.started_at)) },
];

function fact(label, value, title) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', { title }, value));
}

/* The worker holding the job, or for an ended job the one of its last attempt. */
function workerFact(job) {
  const last = (job.attempts || []).slice(-1)[0];
  const w = job.worker || (last && last.worker);
  return fact(job.worker || !last ? 'Worker' : 'Last worker', w ? w.name || `worker ${w.id}` : '–', w ? w.host : '');
}

export function render(root, params) {
  const id = params[0];
  const title = h('h1', {}, `Job #${id}`, h('span', { class: 'title-state' }, skeleton(1, 'wide')));
  const facts = h('dl', { class: 'facts' }, ['a', 'b', 'c', 'd', 'e', 'f'].map(() => fact('\u00a0', skeleton(1))));
  const progress = h('div', { class: 'job-progress' }, skeleton(1));
  const errors = h('div', { class: 'errors' });
  const reasons = h('div', {});
  const ops = createTable({ columns: OP_COLUMNS, rowKey: (o) => String(o.index), pageSize: 50, empty: 'This job has no operators.' });
  const atts = createTable({ columns: ATTEMPT_COLUMNS, rowKey: (a) => String(a.attempt), pageSize: 25, empty: 'No worker has claimed this job yet.' });
  fill(root,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' › ', `#${id}`),
    h('div', { class: 'page-head' }, title, h('div', { class: 'head-links' }, downloadLink(`/v1/jobs/${encodeURIComponent(id)}`, `fastrun-job-${id}.json`, 'JSON', errors))),
    facts, progress, errors, reasons,
    h('h2', { class: 'section-title' }, 'Operators'), ops.el,
    h('h2', { class: 'section-title' }, 'Attempts'), atts.el);
  ops.loading(6);
  atts.loading(1);

  let stop = null, first = true;
  async function refresh() {
    let job;
    try {
      job = await get(`/v1/jobs/${encodeURIComponent(id)}`);
    } catch (err) {
      errors.replaceChildren(errorBox(err, `Loading job #${id}`));
      if (first) { ops.error('No data: see the error above.'); atts.error('No data.'); fill(title, `Job #${id}`); fill(facts, fact('Job', `#${id}`)); fill(progress, '–'); }
      if (err.status === 404 && stop) stop();
      return;
    }
    first = false;
    errors.replaceChildren();
    fill(title, `Job #${job.id} ${job.model}`, h('span', { class: 'title-state' }, stateBadge(job.state)));
    fill(facts,
      fact('Target', targetText(job)),
      fact('Category', job.category ? h('a', { href: `#/category/${job.category}`, class: 'mono' }, job.category) : '–'),
      fact('Mode', `${job.mode}${job.weight_preprocess ? ' · wp' : ''}${job.force ? ' · forced' : ''}`),
      workerFact(job),
      fact('Submitted', fmtAgo(job.created_at), fmtTime(job.created_at)),
      fact(FINAL.has(job.state) ? 'Duration' : job.state === 'running' ? 'Running for' : 'Waiting for', jobDuration(job), job.finished_at ? `finished ${fmtTime(job.finished_at)}` : ''));
    fill(progress, progressBar(job), job.note ? h('div', { class: 'note why' }, job.note) : null);
    const lines = [job.state === 'failed' && job.error ? `job failed: ${job.error}` : null, ...(job.errors || [])].filter(Boolean);
    fill(reasons, lines.length ? h('div', { class: 'error-box reasons' }, h('strong', {}, job.state === 'failed' ? 'Why it failed' : 'Failed attempts'), h('ul', {}, lines.map((l) => h('li', {}, l)))) : null);
    ops.setRows(job.operators || [], true);
    atts.setRows(job.attempts || [], true);
    if (FINAL.has(job.state) && stop) stop();
  }
  stop = poll(refresh, 2000);
  return () => stop();
}

/*
 * view-jobs.js - #/jobs: profiling jobs at a glance, refreshed every 2 s while visible.
 *
 * Queued and running jobs come first, each with its progress bar, its worker, why it is not
 * moving when it is not (the server's "note"), and for a running job the live state of every
 * operator (GET /v1/jobs/{id}). Finished jobs follow in a paginated table with their outcome,
 * duration and, for failures, the reason. Reads GET /v1/jobs?state=... (newest first, "next"
 * for older pages).
 */
import { errorBox, get } from './api.js';
import { fill, fmtAgo, fmtInt, fmtMs, fmtTime, h, shortAlgo, skeleton } from './dom.js';
import { jobDuration, poll, progressBar, stateBadge, targetText } from './jobs-common.js';
import { describeOp, parseKey } from './ops.js';
import { createTable } from './table.js';

const two = (main, sub) => [h('div', { class: 'cell-main' }, main), h('div', { class: 'cell-sub' }, sub)];

function categoryLink(id) {
  return id ? h('a', { href: `#/category/${id}`, class: 'mono' }, id) : '–';
}

const FINISHED_COLUMNS = [
  { label: 'Job', width: '22%', render: (j) => two(h('a', { href: `#/job/${j.id}` }, `#${j.id} ${j.model}`), `${j.mode} run${j.weight_preprocess ? ' · weights preprocessed' : ''}`) },
  { label: 'Target', width: '18%', render: (j) => two(targetText(j), j.category && j.target_kind === 'pool' ? categoryLink(j.category) : '\u00a0') },
  { label: 'Outcome', width: '32%', title: (j) => j.error || '',
    render: (j) => two(stateBadge(j.state), j.state === 'done' ? `${j.progress.done} profiled, ${j.progress.cached} cached` : h('span', { class: 'reason' }, j.error || 'no reason given')) },
  { label: 'Duration', width: '12%', cls: 'num', render: (j) => two(jobDuration(j), j.attempt > 1 ? `${j.attempt} attempts` : '\u00a0') },
  { label: 'Finished', width: '16%', cls: 'num', title: (j) => fmtTime(j.finished_at), render: (j) => two(fmtAgo(j.finished_at), fmtTime(j.finished_at)) },
];

function opTile(op) {
  const words = describeOp(parseKey(op.key));
  const state = op.state;
  return h('div', { class: `op-tile ${state === 'pending' ? 'pending' : 'done'}`, dataset: { op: op.name, state } },
    h('div', { class: 'cell-main' }, h('strong', {}, op.name), ' ', stateBadge(state)),
    h('div', { class: 'cell-sub', title: op.key }, words.title),
    h('div', { class: 'cell-sub' }, op.best ? [h('span', { class: 'algo win' }, shortAlgo(op.best.algorithm)), ` ${fmtMs(op.best.median_ms)}`]
      : state === 'pending' ? 'waiting' : '\u00a0'));
}

function activeCard(job, detail) {
  const worker = job.worker ? `${job.worker.name} on ${job.worker.host}` : 'no worker yet';
  const since = job.state === 'running' ? `running for ${jobDuration(job)}` : `submitted ${fmtAgo(job.created_at)}`;
  return h('article', { class: 'job-card', dataset: { job: job.id, state: job.state } },
    h('div', { class: 'job-card-head' },
      h('a', { href: `#/job/${job.id}`, class: 'job-title' }, `#${job.id} ${job.model}`), stateBadge(job.state),
      h('span', { class: 'cell-sub' }, `${targetText(job)} · ${worker} · ${since}`)),
    progressBar(job),
    job.note ? h('div', { class: 'note why' }, job.note) : null,
    detail && detail.operators ? h('div', { class: 'ops-grid' }, detail.operators.map(opTile)) : null);
}

function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

export function render(root) {
  const stats = h('div', { class: 'stats' }, ['Queued', 'Running', 'Done', 'Failed'].map((l) => stat(l, skeleton(1, 'wide'))));
  const errors = h('div', { class: 'errors' });
  const activeCount = h('span', { class: 'count' });
  const finishedCount = h('span', { class: 'count' });
  const active = h('div', { class: 'job-cards' }, h('div', { class: 'job-card' }, skeleton(2)));
  const table = createTable({ columns: FINISHED_COLUMNS, rowKey: (j) => String(j.id), pageSize: 25, empty: 'No job has finished yet.' });
  const more = h('button', { type: 'button', class: 'pager-btn', hidden: true }, 'Load older jobs');
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Jobs'),
      h('p', { class: 'lede' }, 'Profiling jobs submitted with POST /v1/jobs, refreshed every 2 seconds.')),
    stats, errors,
    h('h2', { class: 'section-title' }, 'Queued and running', activeCount), active,
    h('h2', { class: 'section-title' }, 'Finished', finishedCount), table.el, h('div', { class: 'more' }, more));
  table.loading(4);

  /* newest: the first page, refreshed on every poll; older: pages loaded with the button */
  let newest = [], older = [], next = null, firstLoad = true;
  const finishedRows = () => newest.concat(older.filter((j) => !newest.some((x) => x.id === j.id)));
  more.addEventListener('click', async () => {
    try {
      const page = await get(next);
      older = older.concat(page.jobs);
      next = page.next;
      more.hidden = !next;
      table.setRows(finishedRows(), true);
    } catch (err) { errors.replaceChildren(errorBox(err, 'Loading older jobs')); }
  });

  async function refresh() {
    try {
      const [act, fin] = await Promise.all([get('/v1/jobs?state=queued,running&limit=200'), get('/v1/jobs?state=done,failed,cancelled&limit=200')]);
      const running = act.jobs.filter((j) => j.state === 'running');
      const details = await Promise.all(running.slice(0, 10).map((j) => get(`/v1/jobs/${j.id}`).catch(() => null)));
      const byId = new Map(details.filter(Boolean).map((d) => [d.id, d]));
      errors.replaceChildren();
      newest = fin.jobs;
      if (firstLoad) { next = fin.next; more.hidden = !next; }
      const finished = finishedRows();
      firstLoad = false;
      fill(stats,
        stat('Queued', fmtInt(act.jobs.length - running.length)),
        stat('Running', fmtInt(running.length)),
        stat('Done', `${fmtInt(finished.filter((j) => j.state === 'done').length)}${next ? '+' : ''}`),
        stat('Failed', `${fmtInt(finished.filter((j) => j.state === 'failed').length)}${next ? '+' : ''}`));
      fill(activeCount, `${act.jobs.length}`);
      fill(finishedCount, `${finished.length}${next ? '+' : ''}`);
      fill(active, act.jobs.length ? act.jobs.map((j) => activeCard(j, byId.get(j.id))) : h('div', { class: 'job-card empty' }, 'No job is queued or running.'));
      table.setRows(finished, true);
    } catch (err) {
      errors.replaceChildren(errorBox(err, 'Refreshing the jobs'));
      if (firstLoad) {
        table.error('No data: see the error above.');
        fill(active, h('div', { class: 'job-card empty' }, 'No data: see the error above.'));
        fill(stats, ...['Queued', 'Running', 'Done', 'Failed'].map((l) => stat(l, '–')));
      }
    }
  }
  return poll(refresh, 2000);
}

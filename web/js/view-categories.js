/*
 * view-categories.js - #/categories: every category the server knows (GET /v1/categories) with
 * its hardware and software fingerprint, fast-run (cache format) and kernel-set versions, number
 * of operators tuned and last update.
 *
 * Categories that share hardware and software but differ in kernel set are grouped and shown
 * side by side, the newest kernel set first, with badges saying which one is newer, so an
 * upgrade's fresh category is visible next to the one it supersedes. Filter and sort work on the
 * client; the table is paginated for hundreds of categories.
 */
import { errorBox, get } from './api.js';
import { fill, fmtAgo, fmtInt, fmtTime, h, skeleton } from './dom.js';
import { createTable } from './table.js';

/* Everything but the versions: categories with the same machine key differ only in versions. */
function machineKey(fp) {
  return [fp.cpu, fp.isa, fp.threads, fp.blas, fp.blas_core].join('\u0001');
}

/* Adds .newestKernels (of the machine) and .siblings to every category. */
function annotate(cats) {
  const groups = new Map();
  for (const c of cats) {
    const k = machineKey(c.fingerprint || {});
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(c);
  }
  for (const list of groups.values()) {
    const newest = Math.max(...list.map((c) => c.fingerprint.kernel_set));
    const latest = list.reduce((a, c) => (c.updated_at > a ? c.updated_at : a), '');
    for (const c of list) Object.assign(c, { newestKernels: newest, siblings: list.length, groupLatest: latest });
  }
  return groups.size;
}

const SORTS = {
  machine: { label: 'grouped by machine', cmp: (a, b) => (b.groupLatest.localeCompare(a.groupLatest)) ||
    machineKey(a.fingerprint).localeCompare(machineKey(b.fingerprint)) ||
    (b.fingerprint.kernel_set - a.fingerprint.kernel_set) || (b.fingerprint.format_version - a.fingerprint.format_version) },
  updated: { label: 'last update', cmp: (a, b) => b.updated_at.localeCompare(a.updated_at) },
  keys: { label: 'operators tuned', cmp: (a, b) => b.keys - a.keys },
  cpu: { label: 'CPU name', cmp: (a, b) => a.fingerprint.cpu.localeCompare(b.fingerprint.cpu) },
};

function two(main, sub, cls) {
  return [h('div', { class: `cell-main ${cls || ''}` }, main), h('div', { class: 'cell-sub' }, sub)];
}

function versionsCell(c) {
  const fp = c.fingerprint;
  let badge = null;
  if (fp.kernel_set < c.newestKernels) badge = h('span', { class: 'badge old', title: 'the same machine has results for a newer kernel set' }, `older · kernels ${c.newestKernels} exists`);
  else if (c.siblings > 1) badge = h('span', { class: 'badge new', title: 'the same machine also has categories of older kernel sets' }, 'newest kernel set');
  return two(h('span', {}, `fast-run ${fp.format_version} · kernels ${fp.kernel_set}`), badge || '\u00a0');
}

const COLUMNS = [
  { label: 'Category', width: '12%', render: (c) => two(h('a', { href: `#/category/${c.id}`, class: 'mono' }, c.id), `revision ${fmtInt(c.revision)}`) },
  { label: 'Hardware', width: '25%', title: (c) => c.fingerprint.cpu,
    render: (c) => two(c.fingerprint.cpu, `${c.fingerprint.isa} · ${c.fingerprint.threads} thread${c.fingerprint.threads === 1 ? '' : 's'}`) },
  { label: 'Software', width: '16%', render: (c) => two(c.fingerprint.blas, `core ${c.fingerprint.blas_core}`) },
  { label: 'Versions', width: '19%', render: versionsCell },
  { label: 'Operators tuned', width: '15%', cls: 'num', render: (c) => two(fmtInt(c.keys), `${fmtInt(c.results)} results · ${fmtInt(c.reports)} reports`) },
  { label: 'Last update', width: '13%', cls: 'num', title: (c) => fmtTime(c.updated_at), render: (c) => two(fmtAgo(c.updated_at), fmtTime(c.updated_at)) },
];

function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

export function render(root) {
  const stats = h('div', { class: 'stats' }, ['Categories', 'Machines', 'Operators tuned', 'Last update'].map((l) => stat(l, skeleton(1, 'wide'))));
  const filter = h('input', { type: 'search', class: 'filter-text', placeholder: 'Filter: CPU, ISA, BLAS, id, version…', 'aria-label': 'filter categories' });
  const sort = h('select', { 'aria-label': 'sort categories' }, Object.entries(SORTS).map(([k, v]) => h('option', { value: k }, `Sort: ${v.label}`)));
  const errors = h('div', { class: 'errors' });
  const table = createTable({ columns: COLUMNS, rowKey: (c) => c.id, pageSize: 50, empty: 'No category matches.' });
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Categories'),
      h('p', { class: 'lede' }, 'Where each measurement is valid: one category per machine fingerprint and software version. Open one to see its tuned operators.')),
    stats, errors,
    h('div', { class: 'toolbar' }, filter, sort),
    table.el);
  table.loading(6);

  let all = [];
  const apply = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = all.filter((c) => !q || [c.id, c.fingerprint.cpu, c.fingerprint.isa, c.fingerprint.blas, c.fingerprint.blas_core,
      `kernels ${c.fingerprint.kernel_set}`, `fast-run ${c.fingerprint.format_version}`].join(' ').toLowerCase().includes(q));
    rows.sort(SORTS[sort.value].cmp);
    table.setRows(rows);
  };
  filter.addEventListener('input', apply);
  sort.addEventListener('change', apply);

  get('/v1/categories').then((body) => {
    all = (body.categories || []).filter((c) => c.fingerprint);
    const machines = annotate(all);
    const latest = all.reduce((a, c) => (c.updated_at > a ? c.updated_at : a), '');
    fill(stats,
      stat('Categories', fmtInt(all.length)),
      stat('Machines', fmtInt(machines)),
      stat('Operators tuned', fmtInt(all.reduce((n, c) => n + c.keys, 0))),
      stat('Last update', latest ? h('span', { title: fmtTime(latest) }, fmtAgo(latest)) : '–'));
    apply();
  }).catch((err) => {
    fill(stats, ...['Categories', 'Machines', 'Operators tuned', 'Last update'].map((l) => stat(l, '–')));
    table.error(errorBox(err, 'Loading the categories'));
  });
  return () => {};
}

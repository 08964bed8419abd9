/*
 * view-category.js - #/category/<id>: every tuned operator of one category.
 *
 * Reads GET /v1/categories (the fingerprint and counts) and GET /v1/cache?category=<id> (the
 * merged document, no policy, so every candidate and failure is there). Each operator shows its
 * shape in words, the winning algorithm and its time, the best REPRODUCIBLE algorithm and what
 * reproducibility costs, the heuristic's pick and the winner's speed-up over it; a click opens
 * the bar chart of all candidates. Filters: operator kind, winning algorithm, text, and a model
 * file (model.js), which turns the table into that model's operators with their coverage and
 * the model's estimated network time.
 */
import { downloadLink, errorBox, get } from './api.js';
import { barChart, chartLegend, shareBar } from './chart.js';
import { fill, fmtAgo, fmtFlops, fmtInt, fmtMs, fmtPct, fmtRatio, fmtTime, h, shortAlgo, skeleton } from './dom.js';
import { modelPanel } from './model.js';
import { summarize } from './ops.js';
import { createTable } from './table.js';

const two = (main, sub, cls) => [h('div', { class: `cell-main ${cls || ''}` }, main), h('div', { class: 'cell-sub' }, sub)];
const NOT_TUNED = (row) => two(h('span', { class: 'missing' }, row.status === 'none_accepted' ? 'no usable result' : 'not tuned here'), '\u00a0');

function opCell(row) {
  const s = row.s;
  const words = s ? s.words : row.words;
  return two([row.name ? h('span', { class: 'op-name' }, `${row.name} · `) : null, h('span', { class: `kind ${row.kind}` }, row.kind), ' ', words.title],
    words.detail);
}

const COLUMNS = [
  { label: 'Operator', width: '31%', title: (r) => r.key, render: opCell },
  { label: 'Work', width: '9%', cls: 'num', help: 'floating-point operations; GFLOP/s of the winner',
    render: (r) => two(fmtFlops(r.s ? r.s.flops : r.flops), r.s && r.s.winner ? `${(r.s.flops / r.s.winner.median_ms / 1e6).toFixed(1)} GFLOP/s` : '\u00a0') },
  { label: 'Winner', width: '16%', render: (r) => (!r.s ? NOT_TUNED(r) : r.s.winner
    ? two(h('span', { class: 'algo win' }, shortAlgo(r.s.winner.algorithm)), fmtMs(r.s.winner.median_ms), 'winner')
    : two(h('span', { class: 'missing' }, 'all candidates failed'), '\u00a0')) },
  { label: 'Best reproducible', width: '16%', help: 'fastest REPRODUCIBLE algorithm, and the extra time over the winner',
    render: (r) => (!r.s ? '–' : !r.s.repro ? two(h('span', { class: 'missing' }, 'none measured'), '\u00a0')
      : two(h('span', { class: 'algo' }, shortAlgo(r.s.repro.algorithm)),
        r.s.repro === r.s.winner ? 'the winner is reproducible' : `${fmtMs(r.s.repro.median_ms)} · ${fmtPct(r.s.reproCost)} time`,
        r.s.reproCost > 0.25 ? 'costly' : '')) },
  { label: 'Heuristic pick', width: '12%', help: 'what the heuristic would have chosen without profiling',
    render: (r) => (!r.s || !r.s.heuristic ? two('–', r.s ? 'not in the data' : '\u00a0')
      : two(h('span', { class: 'algo' }, shortAlgo(r.s.heuristic.algorithm)), r.s.heuristic.median_ms ? fmtMs(r.s.heuristic.median_ms) : (r.s.heuristic.failure ? 'failed' : 'not measured'))) },
  { label: 'Speed-up', width: '8%', cls: 'num', help: 'heuristic pick time / winner time',
    render: (r) => two(h('span', { class: r.s && r.s.speedup > 1.05 ? 'gain' : '' }, r.s ? fmtRatio(r.s.speedup) : '–'), r.s && Number.isFinite(r.s.speedup) ? 'over heuristic' : '\u00a0') },
  { label: 'Tried', width: '8%', help: 'candidate algorithms profiled (and how many failed)', cls: 'num',
    render: (r) => two(r.s ? fmtInt(r.s.measuredCount + r.s.failedCount) : '–', r.s && r.s.failedCount ? `${r.s.failedCount} failed` : '\u00a0', r.s && r.s.failedCount ? '' : '') },
];

function detail(row) {
  if (!row.s) return h('div', { class: 'detail' }, h('p', {}, `No result for this operator in this category (${row.status || 'miss'}).`), h('code', { class: 'key' }, row.key));
  const heur = row.s.heuristic ? row.s.heuristic.algorithm : null;
  return h('div', { class: 'detail' },
    h('div', { class: 'detail-head' }, h('code', { class: 'key' }, row.key), chartLegend(!!heur)),
    h('div', { class: 'chart-box' }, barChart(row.s.entry.results || [], heur)));
}

const SORTS = {
  time: { label: 'slowest winner first', cmp: (a, b) => (b.s?.winner?.median_ms ?? -1) - (a.s?.winner?.median_ms ?? -1) },
  work: { label: 'most work first', cmp: (a, b) => (b.s?.flops ?? 0) - (a.s?.flops ?? 0) },
  repro: { label: 'costliest reproducibility', cmp: (a, b) => (b.s?.reproCost || 0) - (a.s?.reproCost || 0) },
  speedup: { label: 'largest speed-up', cmp: (a, b) => (b.s?.speedup || 0) - (a.s?.speedup || 0) },
  key: { label: 'operator key', cmp: (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) },
  model: { label: 'model order', cmp: (a, b) => (a.order ?? 0) - (b.order ?? 0) },
};

function fact(label, value, title) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', { title }, value));
}

function headFacts(cat, id) {
  if (!cat) return [fact('Category', h('span', { class: 'mono' }, id))];
  const fp = cat.fingerprint;
  return [
    fact('ISA · threads', `${fp.isa} · ${fp.threads}`),
    fact('BLAS', `${fp.blas} (${fp.blas_core})`),
    fact('Versions', `fast-run ${fp.format_version} · kernels ${fp.kernel_set}`),
    fact('Operators tuned', fmtInt(cat.keys), `${cat.results} results from ${cat.reports} reports`),
    fact('Last update', fmtAgo(cat.updated_at), fmtTime(cat.updated_at)),
    fact('Revision', fmtInt(cat.revision)),
  ];
}

export function render(root, params) {
  const id = params[0] || '';
  const title = h('h1', {}, skeleton(1, 'title'));
  const facts = h('dl', { class: 'facts' }, ['a', 'b', 'c', 'd', 'e', 'f'].map(() => fact('\u00a0', skeleton(1))));
  const errors = h('div', { class: 'errors' });
  const kind = h('select', { 'aria-label': 'operator kind', disabled: true }, h('option', { value: '' }, 'All kinds'));
  const algo = h('select', { 'aria-label': 'winning algorithm', disabled: true }, h('option', { value: '' }, 'Any winner'));
  const text = h('input', { type: 'search', class: 'filter-text', placeholder: 'Search shapes or keys…', 'aria-label': 'search operators' });
  const sort = h('select', { 'aria-label': 'sort operators' }, Object.entries(SORTS).map(([k, v]) => h('option', { value: k, hidden: k === 'model' }, `Sort: ${v.label}`)));
  const note = h('div', { class: 'note' });
  const share = h('section', { class: 'share', 'aria-label': 'winning algorithms' }, h('div', { class: 'share-head' }, 'Winners'), skeleton(1, 'bar'));
  const table = createTable({ columns: COLUMNS, rowKey: (r) => (r.name ? `${r.name}\u0001${r.key}` : r.key), detail, pageSize: 50,
    empty: 'No operator matches these filters.' });

  let summaries = new Map();
  let modelRows = null; /* rows of the loaded model, or null */
  const model = modelPanel(id, () => summaries, (rows) => {
    modelRows = rows;
    sort.querySelector('option[value="model"]').hidden = !rows;
    sort.value = rows ? 'model' : 'time';
    apply();
  });

  fill(root,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/categories' }, 'Categories'), ' › ', h('span', { class: 'mono' }, id)),
    h('div', { class: 'page-head' }, title, h('div', { class: 'head-links' },
      downloadLink(`/v1/cache?category=${encodeURIComponent(id)}`, `fastrun-cache-${id}.json`, 'Download cache', errors),
      ' · ', downloadLink(`/v1/cache?category=${encodeURIComponent(id)}&reproducible=1&exclude=naive`, `fastrun-cache-${id}-reproducible.json`, 'reproducible only', errors))),
    facts, share, errors,
    h('div', { class: 'toolbar' }, kind, algo, text, sort, model.control),
    model.panel, note, table.el);
  table.loading(10);

  /* The winners strip: a stacked bar and one chip per algorithm; a chip filters the table. */
  function drawShare(wins) {
    const { svg, colors } = shareBar(wins);
    const all = [...summaries.values()];
    const nonRepro = all.filter((x) => x.winner && x.repro && x.repro !== x.winner);
    const costs = nonRepro.map((x) => x.reproCost).sort((p, q) => p - q);
    const median = costs.length ? costs[Math.floor((costs.length - 1) / 2)] : NaN;
    fill(share,
      h('div', { class: 'share-head' }, h('strong', {}, 'Winners'),
        h('span', { class: 'cell-sub' }, nonRepro.length
          ? `${nonRepro.length} of ${all.length} winners are not reproducible; choosing reproducible costs ${fmtPct(median)} time (median)`
          : `every winner is reproducible (${all.length} operators)`)),
      svg,
      h('div', { class: 'share-chips' }, colors.map(([name, color]) => {
        const n = (wins.find(([w]) => w === name) || [name, wins.slice(7).reduce((m, [, c]) => m + c, 0)])[1];
        return h('button', { type: 'button', class: 'chip', disabled: name === 'other', title: name === 'other' ? null : `show the operators ${name} won`,
          onclick: () => { algo.value = name; apply(); } },
        h('span', { class: 'swatch', style: `background:${color}` }), `${shortAlgo(name)} ${n}`);
      })));
  }

  function apply() {
    const k = kind.value, a = algo.value, q = text.value.trim().toLowerCase();
    const base = modelRows || [...summaries.values()].map((s) => ({ key: s.key, kind: s.kind, s }));
    const rows = base.filter((r) => (!k || r.kind === k) &&
      (!a || (r.s && r.s.winner && r.s.winner.algorithm === a)) &&
      (!q || r.key.toLowerCase().includes(q) || (r.name || '').toLowerCase().includes(q) ||
        `${(r.s || r).words.title} ${(r.s || r).words.detail}`.toLowerCase().includes(q)));
    rows.sort(SORTS[sort.value].cmp);
    table.setRows(rows);
  }
  for (const el of [kind, algo, sort]) el.addEventListener('change', apply);
  text.addEventListener('input', apply);

  Promise.all([
    get('/v1/categories').catch((err) => { errors.append(errorBox(err, 'Loading the category list')); return null; }),
    get(`/v1/cache?category=${encodeURIComponent(id)}`),
  ]).then(([list, doc]) => {
    const cat = list && (list.categories || []).find((c) => c.id === id);
    fill(title, cat ? cat.fingerprint.cpu : `Category ${id}`, h('span', { class: 'title-id mono' }, id));
    fill(facts, headFacts(cat, id));
    const dcat = (doc.categories || []).find((c) => c.id === id);
    const entries = dcat ? dcat.entries || [] : [];
    summaries = new Map(entries.map((e) => [e.key, summarize(e)]));
    const count = (f) => { const m = new Map(); for (const s of summaries.values()) { const v = f(s); if (v) m.set(v, (m.get(v) || 0) + 1); } return [...m].sort((x, y) => y[1] - x[1]); };
    fill(kind, h('option', { value: '' }, 'All kinds'), count((s) => s.kind).map(([v, n]) => h('option', { value: v }, `${v} (${n})`)));
    fill(algo, h('option', { value: '' }, 'Any winner'), count((s) => s.winner && s.winner.algorithm).map(([v, n]) => h('option', { value: v }, `won by ${v} (${n})`)));
    kind.disabled = algo.disabled = false;
    drawShare(count((s) => s.winner && s.winner.algorithm));
    model.enable();
    const known = [...summaries.values()].filter((s) => s.heuristic).length;
    fill(note, known === summaries.size ? '' : `The heuristic’s pick is known for ${known} of ${summaries.size} operators; “–” where the uploaded results do not carry it.`);
    if (!summaries.size) table.setRows([]);
    else apply();
  }).catch((err) => {
    fill(title, `Category ${id}`);
    fill(facts, fact('Category', h('span', { class: 'mono' }, id)), fact('Status', 'not loaded'));
    fill(share, h('div', { class: 'share-head' }, h('strong', {}, 'Winners'), h('span', { class: 'cell-sub' }, 'not loaded')));
    table.error(errorBox(err, `Loading category ${id}`));
  });
  return () => {};
}

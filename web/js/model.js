/*
 * model.js - the "model file" filter of the category page: a person picks a model JSON
 * (shared/models/README.md format), the page asks the server which of its operators this
 * category covers (POST /v1/coverage?category=<id>, so keys are computed by the server exactly
 * as the worker computes them), and shows the model's totals: estimated network time with the
 * tuned algorithms, with the best reproducible ones, and with the heuristic's picks, plus the
 * operators that are not covered. The table then lists the model's operators in model order.
 */
import { errorBox, post } from './api.js';
import { fill, fmtInt, fmtMs, fmtPct, fmtRatio, h } from './dom.js';
import { describeOp, opFlops, parseKey } from './ops.js';

function total(rows, pick) {
  let sum = 0, known = 0;
  for (const r of rows) {
    const v = r.s ? pick(r.s) : NaN;
    if (Number.isFinite(v)) { sum += v; known++; }
  }
  return { sum, known };
}

function stat(label, value, sub) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label),
    sub ? h('div', { class: 'stat-sub' }, sub) : null);
}

function totals(cov, rows) {
  const n = rows.length;
  const covered = rows.filter((r) => r.s && r.s.winner);
  const tuned = total(covered, (s) => s.winner.median_ms);
  const repro = total(covered, (s) => (s.repro ? s.repro.median_ms : NaN));
  const heur = total(covered, (s) => (s.heuristic && s.heuristic.median_ms ? s.heuristic.median_ms : NaN));
  const part = (t) => (t.known < n ? `${t.known} of ${n} operators` : `all ${n} operators`);
  const missing = rows.filter((r) => !(r.s && r.s.winner));
  const heurComplete = heur.known === covered.length && covered.length > 0;
  return [
    h('div', { class: 'model-title' }, h('strong', {}, `Model ${cov.model}`),
      ` · ${fmtInt(n)} operators, ${fmtInt(cov.summary.covered)} covered (${Math.round(cov.summary.coverage * 100)}%)`,
      cov.summary.complete ? h('span', { class: 'badge new' }, 'complete') : h('span', { class: 'badge old' }, `${fmtInt(n - cov.summary.covered)} missing`)),
    h('div', { class: 'stats' },
      stat('Network time, tuned', fmtMs(tuned.sum), part(tuned)),
      stat('Reproducible only', repro.known ? fmtMs(repro.sum) : '–',
        repro.known ? `${part(repro)} · ${fmtPct(repro.sum / tuned.sum - 1)} time` : 'no reproducible result'),
      stat('Heuristic’s picks', heurComplete ? fmtMs(heur.sum) : '–', heurComplete ? part(heur) : `pick known for ${heur.known} of ${covered.length}`),
      stat('Speed-up over heuristic', heurComplete ? fmtRatio(heur.sum / tuned.sum) : '–', 'tuned vs heuristic')),
    missing.length ? h('div', { class: 'missing-list' }, h('strong', {}, 'Not covered: '),
      missing.map((r, i) => [i ? ', ' : '', h('span', { title: r.key }, `${r.name} (${r.words.title})`)])) : null,
  ];
}

/* id: the category; getSummaries(): Map key -> summary; onRows(rows | null) when a model is
 * loaded or cleared. Returns {control, panel, enable()}. */
export function modelPanel(id, getSummaries, onRows) {
  const input = h('input', { type: 'file', accept: '.json,application/json', class: 'visually-hidden', id: 'model-file', disabled: true });
  const wp = h('input', { type: 'checkbox', id: 'model-wp', title: 'look up the weight-preprocessed keys (wp=1)' });
  const clear = h('button', { type: 'button', class: 'link-button', hidden: true }, 'clear model');
  const label = h('label', { for: 'model-file', class: 'file-button', 'aria-disabled': 'true' }, 'Model file…');
  const control = h('span', { class: 'model-control' }, input, label,
    h('label', { class: 'check' }, wp, ' weights preprocessed'), clear);
  const panel = h('section', { class: 'model-panel', hidden: true, 'aria-label': 'model totals' });
  let text = null, fileName = '';

  async function load() {
    if (text === null) return;
    panel.hidden = false;
    fill(panel, h('div', { class: 'model-title' }, `Checking ${fileName}…`));
    let cov;
    try {
      JSON.parse(text);
    } catch (e) {
      fill(panel, errorBox(new Error(`${fileName} is not JSON: ${e.message}`), 'Reading the model file'));
      return;
    }
    try {
      cov = await post(`/v1/coverage?category=${encodeURIComponent(id)}${wp.checked ? '&weight_preprocess=1' : ''}`, text);
    } catch (err) {
      fill(panel, errorBox(err, `Checking ${fileName} against this category`));
      return;
    }
    const sums = getSummaries();
    const rows = cov.operators.map((o, i) => {
      const op = parseKey(o.key);
      return { order: i, name: o.name, key: o.key, kind: o.op, status: o.status, s: sums.get(o.key) || null, words: describeOp(op), flops: opFlops(op) };
    });
    fill(panel, totals(cov, rows));
    clear.hidden = false;
    onRows(rows);
  }

  input.addEventListener('change', () => {
    const f = input.files && input.files[0];
    if (!f) return;
    fileName = f.name;
    f.text().then((t) => { text = t; load(); }, (e) => fill(panel, errorBox(e, `Reading ${f.name}`)));
  });
  wp.addEventListener('change', load);
  clear.addEventListener('click', () => {
    text = null;
    input.value = '';
    panel.hidden = true;
    clear.hidden = true;
    onRows(null);
  });
  return {
    control,
    panel,
    enable() { input.disabled = false; label.removeAttribute('aria-disabled'); },
  };
}

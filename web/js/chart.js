/*
 * chart.js - the candidates of one operator as an SVG bar chart drawn by the page (no library).
 *
 * One row per candidate in ranked order: the algorithm's name, a bar as long as its median time,
 * a tick at its fastest run, and the time with how much slower it is than the winner. Measured
 * candidates are drawn as bars (the winner green, other REPRODUCIBLE ones blue, the rest grey);
 * a failed candidate keeps its row with the reason instead of a bar. The heuristic's pick, when
 * known, is marked. When the times span more than 30×, the axis is logarithmic (and says so),
 * so the fast candidates stay readable beside a slow one.
 *
 * Every candidate is a <g class="bar" data-algorithm="..."> and every measured bar a
 * <rect class="bar-fill">, which is what the browser test counts.
 */
import { fmtMs, fmtRatio, shortAlgo } from './dom.js';
import { isReproducible, measured } from './ops.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/* A linear or logarithmic scale from [lo, hi] ms to [0, width] px, with a few tick values. */
function makeScale(lo, hi, width) {
  if (hi / lo > 30) {
    const l0 = Math.floor(Math.log10(lo)), l1 = Math.ceil(Math.log10(hi));
    const x = (v) => ((Math.log10(v) - l0) / (l1 - l0)) * width;
    const ticks = [];
    for (let e = l0; e <= l1; e++) ticks.push(10 ** e);
    return { x, ticks, log: true, x0: 0 };
  }
  const step = niceStep(hi / 4);
  const top = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return { x: (v) => (v / top) * width, ticks, log: false };
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

function tooltip(r, best) {
  if (!measured(r)) return `${r.algorithm}: failed: ${r.failure || 'no figures'}`;
  const attrs = (r.attributes || []).join(', ') || 'no attributes';
  return `${r.algorithm}: median ${fmtMs(r.median_ms)}, min ${fmtMs(r.min_ms)}, ` +
    `${r.samples} samples over ${r.reports} report(s), spread ${fmtMs(r.spread_ms)}; ` +
    `workspace ${r.workspace} B; ${attrs}` + (best ? `; ${fmtRatio(r.median_ms / best)} the winner's time` : '');
}

/* Builds the chart for results (ranked, as in the cache document); heuristic: name or null. */
export function barChart(results, heuristic) {
  const ok = results.filter(measured);
  const W = 920, labelW = 200, valueW = 190, rowH = 26, top = 8, axisH = 26;
  const plotW = W - labelW - valueW;
  const H = top + results.length * rowH + axisH;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': `Median time of ${results.length} candidate algorithms` });
  if (!ok.length) {
    svg.append(s('text', { x: 8, y: 20, class: 'chart-note' }, 'no candidate was measured'));
  }
  const best = ok.length ? ok[0].median_ms : NaN;
  const lo = ok.length ? Math.min(...ok.map((r) => Math.min(r.min_ms || r.median_ms, r.median_ms))) : 1;
  const hi = ok.length ? Math.max(...ok.map((r) => r.median_ms)) : 1;
  const sc = makeScale(lo, hi, plotW);
  const plotBottom = top + results.length * rowH;

  const grid = s('g', { class: 'chart-grid' });
  for (const t of sc.ticks) {
    const x = labelW + sc.x(t);
    grid.append(s('line', { x1: x, x2: x, y1: top - 2, y2: plotBottom }));
    grid.append(s('text', { x, y: plotBottom + 16, 'text-anchor': 'middle' }, t === 0 ? '0' : fmtMs(t)));
  }
  grid.append(s('text', { x: W - 4, y: plotBottom + 16, 'text-anchor': 'end', class: 'chart-axis-name' },
    sc.log ? 'median time (log scale)' : 'median time'));
  svg.append(grid);

  results.forEach((r, i) => {
    const y = top + i * rowH;
    const g = s('g', { class: 'bar', 'data-algorithm': r.algorithm, 'data-rank': i + 1 });
    g.append(s('title', {}, tooltip(r, best)));
    const isHeur = heuristic && r.algorithm === heuristic;
    g.append(s('text', { x: labelW - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', class: 'bar-label' },
      `${isHeur ? '◆ ' : ''}${shortAlgo(r.algorithm)}`));
    if (measured(r)) {
      const cls = i === 0 ? 'winner' : isReproducible(r) ? 'repro' : 'other';
      const w = Math.max(2, sc.x(r.median_ms));
      g.append(s('rect', { class: `bar-fill ${cls}`, x: labelW, y: y + 5, width: w, height: rowH - 10, rx: 2 }));
      if (r.min_ms && r.min_ms < r.median_ms) {
        const mx = labelW + sc.x(r.min_ms);
        g.append(s('line', { class: 'bar-min', x1: mx, x2: mx, y1: y + 3, y2: y + rowH - 3 }));
      }
      const rel = i === 0 ? 'fastest' : `${fmtRatio(r.median_ms / best)} slower`;
      g.append(s('text', { x: labelW + plotW + 10, y: y + rowH / 2 + 4, class: 'bar-value' }, `${fmtMs(r.median_ms)}  ·  ${rel}`));
    } else {
      g.classList.add('failed');
      g.append(s('text', { x: labelW + 4, y: y + rowH / 2 + 4, class: 'bar-failure' }, `failed: ${r.failure || 'no figures'}`));
    }
    svg.append(g);
  });
  return svg;
}

/* The legend shown above a chart. */
export function chartLegend(hasHeuristic) {
  const wrap = document.createElement('div');
  wrap.className = 'chart-legend';
  const item = (cls, text) => {
    const sw = document.createElement('span');
    sw.className = `swatch ${cls}`;
    const t = document.createElement('span');
    t.textContent = text;
    wrap.append(sw, t);
  };
  item('winner', 'winner');
  item('repro', 'REPRODUCIBLE');
  item('other', 'not reproducible');
  item('min', 'fastest run');
  const hs = document.createElement('span');
  hs.textContent = hasHeuristic ? '◆ heuristic’s pick' : '◆ heuristic’s pick (not in this data)';
  wrap.append(hs);
  return wrap;
}

/* Categorical colours, none of them the bar chart's green (winner) or blue (REPRODUCIBLE). */
const PALETTE = ['#7c3aed', '#d97706', '#0e7490', '#db2777', '#a16207', '#475569', '#9a3412', '#be185d'];

/* Share of operators won by each algorithm, as one SVG stacked bar (items: [[name, count]],
 * largest first; beyond 7 names the rest are "other"). Each segment is a <rect class="share">
 * with data-algorithm and a tooltip. */
export function shareBar(items, width = 1000, height = 14) {
  const top = items.slice(0, 7);
  const rest = items.slice(7).reduce((n, [, c]) => n + c, 0);
  if (rest) top.push(['other', rest]);
  const total = top.reduce((n, [, c]) => n + c, 0) || 1;
  const svg = s('svg', { class: 'share-bar', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img',
    'aria-label': 'share of operators won by each algorithm' });
  let x = 0;
  top.forEach(([name, count], i) => {
    const w = (count / total) * width;
    const r = s('rect', { class: 'share', x, y: 0, width: Math.max(0, w - 1), height, fill: PALETTE[i % PALETTE.length], 'data-algorithm': name });
    r.append(s('title', {}, `${name}: wins ${count} of ${total} operators (${Math.round((count / total) * 100)}%)`));
    svg.append(r);
    x += w;
  });
  return { svg, colors: top.map(([name], i) => [name, PALETTE[i % PALETTE.length]]) };
}

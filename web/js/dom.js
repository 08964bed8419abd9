/*
 * dom.js - the small helpers every view uses: h() builds DOM elements (text is always inserted as
 * text, never as HTML, so names from the API cannot inject markup), and the formatters that keep
 * numbers consistent across pages (times with adaptive units, relative ages, counts, ratios).
 */

/* h('td', {class: 'x', title: 't', onclick: fn}, child, ...): children may be nodes, strings,
 * numbers, arrays or null (skipped). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/* Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/* 0.00126 -> "1.26 µs", 8.9 -> "8.90 ms", 1234 -> "1.23 s"; null -> "–". */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const sig = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  if (ms < 1e-3) return `${sig(ms * 1e6)} ns`;
  if (ms < 1) return `${sig(ms * 1e3)} µs`;
  if (ms < 1000) return `${sig(ms)} ms`;
  return `${sig(ms / 1000)} s`;
}

export function fmtInt(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

/* 1.234 -> "1.23×" */
export function fmtRatio(r) {
  if (!Number.isFinite(r)) return '–';
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`;
}

/* 0.123 -> "+12.3%" */
export function fmtPct(f) {
  if (!Number.isFinite(f)) return '–';
  const p = f * 100;
  return `${p >= 0 ? '+' : ''}${Math.abs(p) >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/* FLOPs -> "1.23 GFLOP" etc. */
export function fmtFlops(f) {
  if (!Number.isFinite(f)) return '–';
  if (f >= 1e9) return `${(f / 1e9).toFixed(f >= 1e10 ? 1 : 2)} GFLOP`;
  if (f >= 1e6) return `${(f / 1e6).toFixed(f >= 1e7 ? 1 : 2)} MFLOP`;
  if (f >= 1e3) return `${(f / 1e3).toFixed(1)} kFLOP`;
  return `${f} FLOP`;
}

/* ISO time -> "3 min ago" (and the exact time for a title attribute via fmtTime). */
export function fmtAgo(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso ? String(iso) : '–';
  const s = Math.round((now - t) / 1000);
  if (s < -5) return `in ${fmtDuration(-s)}`;
  if (s < 5) return 'just now';
  return `${fmtDuration(s)} ago`;
}

/* seconds -> "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h" */
export function fmtDuration(s) {
  if (!Number.isFinite(s)) return '–';
  s = Math.max(0, s);
  if (s < 10) return `${s.toFixed(1)} s`;
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${Math.floor(s / 60) % 60 ? ` ${Math.floor(s / 60) % 60} min` : ''}`;
  return `${Math.floor(s / 86400)} d${Math.floor(s / 3600) % 24 ? ` ${Math.floor(s / 3600) % 24} h` : ''}`;
}

export function fmtTime(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso ? String(iso) : '';
  return new Date(t).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/* "conv2d.im2col_gemm" -> "im2col_gemm" (the kind is shown beside it). */
export function shortAlgo(name) {
  if (!name) return '–';
  const dot = name.indexOf('.');
  return dot >= 0 ? name.slice(dot + 1) : name;
}

/* A loading placeholder of fixed height, so that the page does not jump when data arrives. */
export function skeleton(lines = 1, cls = '') {
  return Array.from({ length: lines }, () => h('span', { class: `skeleton ${cls}`, 'aria-hidden': 'true' }));
}

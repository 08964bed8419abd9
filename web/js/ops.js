/*
 * ops.js - operator keys and profiles, read the way a person would want them.
 *
 * A key is the canonical text of an operator (common/op.c, fr_op_key):
 *   "conv2d n=1 c=64 h=56 w=56 k=64 r=3 s=3 stride=1,1 pad=1,1 dilation=1,1 groups=1 f32 wp=0"
 *   "matmul batch=1 m=64 n=512 k=512 f32 wp=0"
 * parseKey() reads it back into numbers, describeOp() says the shape in words and opFlops()
 * computes the work (shared/models/README.md gives the formulas).
 *
 * An entry of the cache document is {key, results[]} with results ranked best first, failures
 * last (cache/cache.h). summarize() derives the figures the category page shows: the winner,
 * the best REPRODUCIBLE result and what choosing it costs, and the heuristic's pick with the
 * winner's speed-up over it when the data carries that pick (see heuristicName()).
 */

/* Parses a key; returns {kind, p: {name: number | [a, b]}, dtype, wp} or null if unreadable. */
export function parseKey(key) {
  const parts = String(key).trim().split(/\s+/);
  const kind = parts.shift();
  if (kind !== 'conv2d' && kind !== 'matmul') return null;
  const p = {};
  let dtype = '';
  let wp = false;
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) { dtype = part; continue; }
    const name = part.slice(0, eq);
    const vals = part.slice(eq + 1).split(',').map(Number);
    if (vals.some((v) => !Number.isFinite(v))) return null;
    if (name === 'wp') wp = vals[0] === 1;
    else p[name] = vals.length === 1 ? vals[0] : vals;
  }
  const need = kind === 'conv2d' ? ['n', 'c', 'h', 'w', 'k', 'r', 's', 'stride', 'pad', 'dilation', 'groups'] : ['batch', 'm', 'n', 'k'];
  if (need.some((f) => p[f] === undefined)) return null;
  return { kind, p, dtype, wp };
}

export function convOut(p) {
  const out = (x, pad, dil, r, st) => Math.floor((x + 2 * pad - dil * (r - 1) - 1) / st) + 1;
  return [out(p.h, p.pad[0], p.dilation[0], p.r, p.stride[0]), out(p.w, p.pad[1], p.dilation[1], p.s, p.stride[1])];
}

export function opFlops(op) {
  if (!op) return NaN;
  const p = op.p;
  if (op.kind === 'matmul') return 2 * p.batch * p.m * p.n * p.k;
  const [oh, ow] = convOut(p);
  return 2 * p.n * p.k * oh * ow * (p.c / p.groups) * p.r * p.s;
}

const pair = (v) => (v[0] === v[1] ? `${v[0]}` : `${v[0]}×${v[1]}`);

/* {title, detail}: "3×3 conv, 64→64 channels" / "56×56 → 56×56 · stride 1 · pad 1 · batch 1". */
export function describeOp(op) {
  if (!op) return { title: 'unreadable key', detail: '' };
  const p = op.p;
  const tail = [op.dtype, op.wp ? 'weights preprocessed' : null].filter(Boolean);
  if (op.kind === 'matmul') {
    const core = `${p.m}×${p.k} · ${p.k}×${p.n}`;
    return {
      title: p.batch > 1 ? `matmul ${p.batch} × (${core})` : `matmul ${core}`,
      detail: [`out ${p.m}×${p.n}`, p.batch > 1 ? `batch ${p.batch}` : null, ...tail].filter(Boolean).join(' · '),
    };
  }
  const [oh, ow] = convOut(p);
  const depthwise = p.groups > 1 && p.groups === p.c && p.groups === p.k;
  const kindWord = depthwise ? 'depthwise conv' : 'conv';
  const channels = depthwise ? `${p.c} channels` : `${p.c}→${p.k} channels`;
  const bits = [`${p.h}×${p.w} → ${oh}×${ow}`, `stride ${pair(p.stride)}`, `pad ${pair(p.pad)}`];
  if (p.dilation[0] !== 1 || p.dilation[1] !== 1) bits.push(`dilation ${pair(p.dilation)}`);
  if (p.groups > 1 && !depthwise) bits.push(`${p.groups} groups`);
  bits.push(`batch ${p.n}`);
  return { title: `${p.r}×${p.s} ${kindWord}, ${channels}`, detail: [...bits, ...tail].join(' · ') };
}

export const measured = (r) => !r.failure && Number.isFinite(r.median_ms);
export const isReproducible = (r) => (r.attributes || []).includes('REPRODUCIBLE');

/*
 * The heuristic's pick for an entry, or null when the data does not say. The server never links
 * kernels, so the pick can only arrive with the results: either as the entry's "heuristic"
 * (an algorithm name) or as a result flagged "heuristic": true. Until uploads carry it the page
 * shows "–".
 */
export function heuristicName(entry) {
  if (typeof entry.heuristic === 'string' && entry.heuristic) return entry.heuristic;
  const flagged = (entry.results || []).find((r) => r.heuristic === true);
  return flagged ? flagged.algorithm : null;
}

/* Everything the operator table shows for one entry of the cache document. */
export function summarize(entry) {
  const op = parseKey(entry.key);
  const results = entry.results || [];
  const ok = results.filter(measured);
  const winner = ok[0] || null;
  const repro = ok.find(isReproducible) || null;
  const hName = heuristicName(entry);
  const heur = hName ? results.find((r) => r.algorithm === hName) || { algorithm: hName } : null;
  const heurMs = heur && measured(heur) ? heur.median_ms : NaN;
  return {
    key: entry.key,
    entry,
    op,
    kind: op ? op.kind : String(entry.key).split(' ')[0],
    words: describeOp(op),
    flops: opFlops(op),
    winner,
    repro,
    /* relative extra time of the best reproducible over the winner (0 when the winner is) */
    reproCost: winner && repro ? repro.median_ms / winner.median_ms - 1 : NaN,
    heuristic: heur,
    speedup: winner && Number.isFinite(heurMs) ? heurMs / winner.median_ms : NaN,
    measuredCount: ok.length,
    failedCount: results.length - ok.length,
  };
}

/*
 * fixtures.mjs - a large, deterministic upload for the dashboard's scale checks: many categories
 * (pairs of kernel sets on the same made-up machine, so "a newer kernel set beside an older one"
 * is there to see) and one category with thousands of operators. The figures come from a seeded
 * generator, so every run uploads the same document; the test derives every expectation from
 * what the server answers, never from these numbers.
 *
 * The machines are clearly synthetic ("Synthetic CPU NNN"): this data exists only in the test's
 * throw-away database.
 */
import { createHash } from 'node:crypto';

/* Park-Miller minimal standard generator: deterministic across runs and platforms. */
function rng(seed) {
  let s = seed % 2147483647;
  if (s <= 0) s += 2147483646;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

const CONV_ALGOS = [
  ['conv2d.im2col_gemm', ['REPRODUCIBLE', 'USES_BLAS']],
  ['conv2d.direct_simd', ['REPRODUCIBLE']],
  ['conv2d.winograd_f43', ['REPRODUCIBLE', 'USES_BLAS']],
  ['conv2d.split_reduce', []],
];

/* The category id of a fingerprint (cache/model.c: frc_category_id), for names without ';',
 * '=' or '\\' that the canonical text would escape. */
function categoryId(fp) {
  const text = `fastrun=${fp.format_version};kernels=${fp.kernel_set};cpu=${fp.cpu};isa=${fp.isa};` +
    `threads=${fp.threads};blas=${fp.blas};blas_core=${fp.blas_core}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function fingerprint(i, kernelSet) {
  return {
    format_version: 1,
    kernel_set: kernelSet,
    cpu: `Synthetic CPU ${String(i).padStart(3, '0')}`,
    isa: i % 3 === 0 ? 'avx2' : 'avx512',
    threads: 2 + (i % 4) * 2,
    blas: 'OpenBLAS 0.3.21',
    blas_core: i % 3 === 0 ? 'Haswell' : 'SkylakeX',
  };
}

/* n distinct valid 3x3 conv keys. */
function convKeys(n) {
  const keys = [];
  for (let c = 8; keys.length < n; c += 8)
    for (let k = 8; k <= 64 && keys.length < n; k += 8)
      for (let hw = 7; hw <= 56 && keys.length < n; hw++)
        keys.push(`conv2d n=1 c=${c} h=${hw} w=${hw} k=${k} r=3 s=3 stride=1,1 pad=1,1 dilation=1,1 groups=1 f32 wp=0`);
  return keys;
}

function results(rand, failOne) {
  return CONV_ALGOS.map(([algorithm, attributes], i) => {
    if (failOne && i === CONV_ALGOS.length - 1)
      return { algorithm, attributes, failure: 'wrong result: max error 3e-2 > 1e-4', reports: 1, workspace: 0 };
    const median = Number((0.01 + rand() * 2).toFixed(6));
    return { algorithm, attributes, median_ms: median, min_ms: Number((median * 0.95).toFixed(6)),
      samples: 50, reports: 1, spread_ms: 0, workspace: 4096 * (i + 1) };
  });
}

/*
 * The upload body for POST /v1/results: machines * 2 categories (kernel sets 1 and 2) with a few
 * operators each, and one more machine whose category has bigOps operators.
 */
export function scaleUpload({ machines = 150, bigOps = 3000 } = {}) {
  const rand = rng(20240611);
  const categories = [];
  const small = convKeys(4);
  for (let i = 1; i <= machines; i++)
    for (const ks of [1, 2])
      categories.push({ id: categoryId(fingerprint(i, ks)), fingerprint: fingerprint(i, ks), entries: small.map((key) => ({ key, results: results(rand, false) })) });
  const bigFp = fingerprint(machines + 1, 1);
  const big = { id: categoryId(bigFp), fingerprint: bigFp, entries: convKeys(bigOps).map((key, j) => ({ key, results: results(rand, j % 10 === 0) })) };
  categories.push(big);
  categories.sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    body: {
      provenance: { source: 'user', host: 'browser-test-fixture', time: '2024-06-11T12:00:00Z', upload_id: 'browser-test-scale' },
      document: { format: 'fastrun-cache', version: 1, revision: 0, categories },
    },
    bigId: big.id,
    bigCpu: big.fingerprint.cpu,
    bigOps,
    pairCpu: fingerprint(1, 1).cpu,
  };
}

// Shared timing loops: both pages hand this their SDK's functions, so both are measured by the
// same code. Results land in window.benchResults.
export async function runBench(sdk, rounds) {
  const results = { lifecycle_ns: [], encode_ms: [], fetch_overhead_us: [], untraced_fetch_us: [], traced_fetch_us: [] };
  sdk.setup('/v1/traces');
  const N = 20000;
  sdk.span_lifecycle(2000); // warm-up
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    sdk.span_lifecycle(N);
    results.lifecycle_ns.push(((performance.now() - t0) * 1e6) / N);
  }
  sdk.prepare_encode();
  for (let i = 0; i < 5; i++) sdk.encode_512();
  for (let r = 0; r < rounds; r++) {
    const reps = 20;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) sdk.encode_512();
    results.encode_ms.push((performance.now() - t0) / reps);
  }
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const timeFetches = async (n) => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const response = await fetch('/ping?i=' + i, { cache: 'no-store' });
      await response.text();
      times.push((performance.now() - t0) * 1000);
    }
    return times;
  };
  await timeFetches(20); // warm the connection
  const untraced = [];
  for (let r = 0; r < rounds; r++) untraced.push(median(await timeFetches(60)));
  sdk.instrument_fetch();
  await timeFetches(20);
  for (let r = 0; r < rounds; r++) {
    const traced = median(await timeFetches(60));
    results.traced_fetch_us.push(traced);
    results.untraced_fetch_us.push(untraced[r]);
    results.fetch_overhead_us.push(traced - untraced[r]);
  }
  window.benchResults = results;
  document.title = 'done';
}

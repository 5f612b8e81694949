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
  // Each export mode the SDK has (OTel JS: JSON only): encode time of the 512 spans, the
  // body's bytes, and the spans one 64 KiB keepalive flush carries.
  const modes = [['json', sdk.encode_512], ['protobuf', sdk.encode_512_protobuf], ['protobuf_gzip', sdk.encode_512_protobuf_gzip]];
  modes.forEach(([name, encode], mode) => {
    if (!encode) return;
    for (let i = 0; i < 5; i++) encode();
    const times = [];
    for (let r = 0; r < rounds; r++) {
      const reps = 20;
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) encode();
      times.push((performance.now() - t0) / reps);
    }
    results[`encode_${name}_ms`] = times;
    results[`bytes_${name}`] = [encode()];
    results[`flush_spans_${name}`] = [sdk.spans_per_keepalive_flush(mode)];
  });
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const timeFetch = async (f, i) => {
    const t0 = performance.now();
    const response = await f('/ping?i=' + i, { cache: 'no-store' });
    await response.text();
    return (performance.now() - t0) * 1000;
  };
  // Traced and untraced fetches alternate (the browser's own fetch is kept before patching), so
  // the slow drift of a shared machine cancels out of the difference.
  const untracedFetch = window.fetch;
  for (let i = 0; i < 20; i++) await timeFetch(untracedFetch, i); // warm the connection
  sdk.instrument_fetch();
  const tracedFetch = (url, init) => window.fetch(url, init);
  for (let i = 0; i < 20; i++) await timeFetch(tracedFetch, i);
  for (let r = 0; r < rounds; r++) {
    const untraced = [];
    const traced = [];
    for (let i = 0; i < 60; i++) {
      untraced.push(await timeFetch(untracedFetch, i));
      traced.push(await timeFetch(tracedFetch, i));
    }
    results.traced_fetch_us.push(median(traced));
    results.untraced_fetch_us.push(median(untraced));
    results.fetch_overhead_us.push(median(traced) - median(untraced));
  }
  sdk.teardown();
  window.benchResults = results;
  document.title = 'done';
}

// Memory with the collector down: 100,000 spans (in chunks, so the SDK's timers run and its
// exports fail and retry), then a pause for the last export attempts, a GC where the page may
// ask for one, and the JS heap and WebAssembly memory read back.
export async function runMemory(sdk) {
  sdk.setup_outage('http://127.0.0.1:9/v1/traces');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 100; i++) {
    sdk.span_lifecycle(1000);
    await sleep(5);
  }
  await sleep(1500);
  if (window.gc) window.gc();
  await sleep(100);
  const mib = 1024 * 1024;
  window.benchResults = {
    js_heap_mib: [performance.memory ? performance.memory.usedJSHeapSize / mib : 0],
    wasm_memory_mib: [sdk.wasm_memory_bytes() / mib],
  };
  sdk.teardown();
  document.title = 'done';
}

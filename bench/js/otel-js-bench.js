// The OpenTelemetry JS side of cargo xtask bench: the same operations as bench/wasm, timed the
// same way by the page. Bundled with esbuild.
import { trace } from '@opentelemetry/api';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { BatchSpanProcessor, SimpleSpanProcessor, InMemorySpanExporter, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';

let finished = [];
let many = [];

export function setup(collector) {
  const exporter = new OTLPTraceExporter({ url: collector });
  const provider = new WebTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 1000000, maxExportBatchSize: 1000000, scheduledDelayMillis: 600000 })],
  });
  provider.register();
}

// The memory figure: the default batch processor (queue 2048, batch 512, 5 s delay) exporting
// to a collector that is down.
export function setup_outage(collector) {
  const exporter = new OTLPTraceExporter({ url: collector });
  const provider = new WebTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 })] });
  provider.register();
}

// Nothing to drop on this side: OTel JS does not flush its queue when the page goes away.
export function teardown() {}

// No WebAssembly memory on this side.
export function wasm_memory_bytes() {
  return 0;
}

// The benchmarked operation: a span with five attributes (int, string, bool, float, string).
function recordOp(tracer, i) {
  const span = tracer.startSpan('op');
  span.setAttribute('int', i);
  span.setAttribute('str', 'value');
  span.setAttribute('bool', true);
  span.setAttribute('float', 1.5);
  span.setAttribute('str2', 'another value');
  span.end();
}

export function span_lifecycle(n) {
  const tracer = trace.getTracer('bench');
  for (let i = 0; i < n; i++) recordOp(tracer, i);
}

export function prepare_encode() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('bench');
  for (let i = 0; i < 4096; i++) recordOp(tracer, i);
  many = memory.getFinishedSpans();
  finished = many.slice(0, 512);
}

// The request body's length in bytes (the serializer returns a Uint8Array).
export function encode_512() {
  return JsonTraceSerializer.serializeRequest(finished).length;
}

// Spans one page-hide flush carries: OTel JS sends all spans in one body (sendBeacon or a
// keepalive fetch), so the most spans whose body fits the browser's 64 KiB keepalive budget.
export function spans_per_keepalive_flush(mode) {
  if (mode !== 0) return 0;
  let lo = 0;
  let hi = many.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (JsonTraceSerializer.serializeRequest(many.slice(0, mid)).length <= 65536) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function instrument_fetch() {
  registerInstrumentations({ instrumentations: [new FetchInstrumentation({ propagateTraceHeaderCorsUrls: [] })] });
}

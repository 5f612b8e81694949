// The minimal app with OpenTelemetry JS: the three packages the issue names, configured as
// otel-web is in bench/size-app (batching, OTLP exporter, one span, every fetch traced).
import { trace } from '@opentelemetry/api';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { registerInstrumentations } from '@opentelemetry/instrumentation';

const provider = new WebTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: '/v1/traces' }))] });
provider.register();
registerInstrumentations({ instrumentations: [new FetchInstrumentation()] });
trace.getTracer('app').startActiveSpan('start', (span) => span.end());
fetch('/ping').then(() => console.log('ready'));

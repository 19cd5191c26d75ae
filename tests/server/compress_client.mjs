// Calls the published headroom-ai client against a running compress service and prints, as one
// JSON line, either the result or the error the client raised (its class and fields).
// Input on stdin: {"call": <one of the calls below>, "messages": ..., "options": {...},
// "params": {...} (create / messages_create), "hash": ..., "query": ..., "toolCall": ...}.
// The client reads HEADROOM_BASE_URL and HEADROOM_API_KEY from the environment.
import {
  collectStream,
  compress,
  HeadroomClient,
  HeadroomAuthError,
  HeadroomCompressError,
} from "headroom-ai";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const options = { retries: 0, fallback: false, ...request.options };

const calls = {
  compress: () => compress(request.messages, options),
  client: () => new HeadroomClient(options).compress(request.messages, { model: options.model }),
  simulate: () =>
    new HeadroomClient(options).chat.completions.simulate({
      model: options.model ?? "gpt-4o",
      messages: request.messages,
    }),
  health: () => new HeadroomClient(options).health(),
  stats: () => new HeadroomClient(options).getStats(),
  retrieve: () => new HeadroomClient(options).retrieve(request.hash, { query: request.query }),
  create: async () => {
    const reply = await new HeadroomClient(options).chat.completions.create(request.params);
    return request.params.stream ? collectStream(reply) : reply;
  },
  messages_create: async () => {
    const reply = await new HeadroomClient(options).messages.create(request.params);
    return request.params.stream ? collectStream(reply) : reply;
  },
  validate: () => new HeadroomClient(options).validateSetup(),
  summary: () => new HeadroomClient(options).getSummary(),
  metrics: () => new HeadroomClient(options).getMetrics(),
  prometheus: () => new HeadroomClient(options).prometheusMetrics(),
  ccr_stats: () => new HeadroomClient(options).getCCRStats(),
  tool_call: () =>
    new HeadroomClient(options).handleToolCall({ toolCall: request.toolCall, provider: request.provider }),
};

try {
  const result = await calls[request.call]();
  console.log(JSON.stringify({ ok: true, result }));
} catch (error) {
  console.log(
    JSON.stringify({
      ok: false,
      name: error.name,
      message: error.message,
      statusCode: error.statusCode ?? null,
      errorType: error.errorType ?? null,
      isAuthError: error instanceof HeadroomAuthError,
      isCompressError: error instanceof HeadroomCompressError,
    }),
  );
}

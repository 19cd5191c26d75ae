// Calls the published headroom-ai client against a running compress service and prints, as one
// JSON line, either the result or the error the client raised (its class and fields).
// Input on stdin: {"call": "compress" | "client", "messages": ..., "options": {...}}.
// The client reads HEADROOM_BASE_URL and HEADROOM_API_KEY from the environment.
import { compress, HeadroomClient, HeadroomAuthError, HeadroomCompressError } from "headroom-ai";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const options = { retries: 0, fallback: false, ...request.options };

try {
  const result =
    request.call === "client"
      ? await new HeadroomClient(options).compress(request.messages, { model: options.model })
      : await compress(request.messages, options);
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

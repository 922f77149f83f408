// The Lambda function's module (make lambda bundles it into dist/lambda/index.mjs):
//   handler          — API Gateway (HTTP API or REST API), answers buffered
//   streamingHandler — a function URL with InvokeMode RESPONSE_STREAM, answers streamed
// `awslambda` is provided by the Lambda Node.js runtime.
import type { LambdaEvent } from "./lambda.ts";
import { createLambdaProxy } from "./lambda.ts";

const proxy = createLambdaProxy();

export const handler = (event: LambdaEvent) => proxy.handler(event);

export const streamingHandler = awslambda.streamifyResponse((event: LambdaEvent, responseStream) =>
  proxy.streamingHandler(event, responseStream),
);

/** Ends open streams and requests; the runtime sends SIGTERM before it shuts the environment down. */
export const close = () => proxy.close();
process.once("SIGTERM", () => void close());

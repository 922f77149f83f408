// Reads a client's request body whole, bounded, for the two places that must hold one before
// forwarding: a small MCP message sent upstream in one write (forwarder.ts) and a body the
// MCP policy judges (mcp/jsonrpc-reader.ts). Read from the stream's events: `for await` over
// an IncomingMessage builds an async iterator, an end-of-stream watcher and a promise per
// chunk, ~2 KB per request (docs/decisions/025). The listeners are anonymous on purpose: the
// bundle keeps function names (esbuild keepNames), which costs a defineProperty for every
// named closure made per request.
import type { IncomingMessage } from "node:http";

/**
 * The body passed its limit. The rest is read and dropped (up to DRAIN_LIMIT more bytes),
 * so the 413 the caller answers reaches the client: a socket closed with unread data
 * sends a reset, and the client loses the answer with it (a chunked upload has no length
 * to refuse before it starts).
 */
export class BodyTooLarge extends Error {}

/** How much more of an oversized body is dropped before the connection is cut after all. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/** The client went away (or the stream failed) before the body's end. */
export class BodyIncomplete extends Error {}

/** The whole body; rejects with BodyTooLarge past `limit` bytes, BodyIncomplete when it is cut. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // The first of data past the limit, end, error or close settles it; the listeners then
    // stay, idle, for the little that is left of the request's life.
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (settled) {
        if (size > limit + DRAIN_LIMIT) req.destroy();
        return;
      }
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      settled = true;
      chunks.length = 0;
      reject(new BodyTooLarge(`The request body exceeds ${limit} bytes`));
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    for (const event of CUT) {
      req.on(event, () => {
        if (settled) return;
        settled = true;
        reject(new BodyIncomplete("The request ended before its body did"));
      });
    }
  });
}

/** Events that end a body before its end. */
const CUT = ["error", "close"] as const;

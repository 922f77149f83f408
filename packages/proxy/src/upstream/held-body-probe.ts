// A client that leaves in the middle of a body the MCP server is not reading cannot be seen
// leaving: the proxy stops reading it (backpressure), and its FIN waits behind the bytes the
// proxy holds back, in the kernels' buffers, until server.request_timeout. Only a write
// reveals it: a socket its program has closed answers new data with a reset, and the write
// after that fails. So while such a body stands still, the client is sent "100 Continue"
// (an interim answer every HTTP/1.1 client must accept, RFC 9110 §15.2) now and then: the
// second one after it left closes the connection, the exchange aborts the upstream request
// and the access log says 499 (docs/decisions/030).
import type { IncomingMessage, ServerResponse } from "node:http";

/** The first probe comes after the body stood still this long; each wait after doubles. */
const FIRST_PROBE_MS = 1000;
/**
 * At most this many interim answers per request, the client's own 100 Continue (Expect)
 * included: Go's net/http refuses a sixth (max1xxResponses = 5). After them, the request
 * timeout is what ends a body that stands still.
 */
const MAX_INTERIM_ANSWERS = 4;

/** Probes the client of a streamed body, for as long as the body stands still and nothing has been answered. */
export function probeWhileHeld(req: IncomingMessage, res: ServerResponse, continued: boolean): void {
  // HTTP/1.0 clients must not be sent interim answers (RFC 9110 §15.2).
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor === 0) return;
  const socket = req.socket;
  let budget = MAX_INTERIM_ANSWERS - (continued ? 1 : 0);
  let read = socket.bytesRead;
  let wait = FIRST_PROBE_MS;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    if (req.complete || res.headersSent || res.destroyed) return;
    if (socket.bytesRead === read) {
      res.writeContinue();
      budget--;
      wait *= 2;
    }
    read = socket.bytesRead;
    if (budget > 0) timer = setTimeout(check, wait).unref();
  };
  timer = setTimeout(check, wait).unref();
  res.once("close", () => clearTimeout(timer));
}

// What a client gets when Node cannot even parse its request. Node's own answer to request
// headers over the 16 KiB limit is a bare 431 without a body: a person sees a blank page
// and does not learn that the site's cookies are to blame. The proxy answers it like its
// other errors: the short HTML page for a page load, JSON otherwise. Every other parse
// error and the request timeout get Node's own answers, under Node's own rule that nothing
// is written into a response already under way.
import { randomUUID } from "node:crypto";
import { type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { renderErrorPage } from "./error-page.ts";
import { errorBody, ProxyError } from "./errors.ts";
import { PAGE_HEADERS } from "./html-page.ts";

/**
 * The headers were not parsed (that is the failure), so the raw bytes Node kept are all
 * there is: a browser's page load says `Sec-Fetch-Mode: navigate` early in the request.
 */
const NAVIGATION = /\r\nsec-fetch-mode:[ \t]*navigate\r\n/i;

const NODE_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

type ClientError = Error & { code?: string; rawPacket?: Buffer };

export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: ClientError, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const status = (error.code && NODE_STATUS[error.code]) || 400;
      socket.write(
        status === 431
          ? headersTooLarge(error.rawPacket)
          : `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`,
      );
    }
    socket.destroy(error);
  });
}

function headersTooLarge(raw: Buffer | undefined): string {
  const error = new ProxyError(
    "BAD_REQUEST",
    431,
    "The request headers are too large: this site's cookies may have piled up. Deleting this site's cookies in the browser fixes it.",
  );
  const requestId = randomUUID();
  const page = raw !== undefined && NAVIGATION.test(raw.toString("latin1"));
  const body = page ? renderErrorPage(error, requestId) : JSON.stringify(errorBody(error, requestId));
  const headers = page ? PAGE_HEADERS : { "content-type": "application/json; charset=utf-8" };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 431 ${STATUS_CODES[431]}\r\n${lines.join("")}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

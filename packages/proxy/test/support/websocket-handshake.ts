// A WebSocket handshake as a browser sends it (GET, Connection: Upgrade, Upgrade: websocket),
// for the tests of what the proxy does to upgrades: resolves with the upgraded socket (101;
// the caller ends it) or the answer that refused it (its status and content type; its body
// only when its length is declared, as the proxy's JSON errors' is: an event stream is endless).
import http, { type OutgoingHttpHeaders } from "node:http";
import type { Socket } from "node:net";

export interface HandshakeResult {
  status: number;
  type?: string;
  /** The refusal's body, when its length was declared. */
  body?: string;
  socket?: Socket;
}

export function websocketHandshake(url: string, headers: OutgoingHttpHeaders = {}): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        ...headers,
      },
    });
    req.on("upgrade", (_res, socket: Socket) => resolve({ socket, status: 101 }));
    req.on("response", (res) => {
      const type = res.headers["content-type"];
      const answer = { status: res.statusCode ?? 0, ...(type ? { type } : {}) };
      if (res.headers["content-length"] === undefined) {
        res.destroy();
        resolve(answer);
        return;
      }
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ ...answer, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

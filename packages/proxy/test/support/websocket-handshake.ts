// A WebSocket handshake as a browser sends it (GET, Connection: Upgrade, Upgrade: websocket),
// for the tests of what the proxy does to upgrades: resolves with the upgraded socket (101;
// the caller ends it) or the answer that refused it (its status and content type; the body,
// which may be an endless event stream, is not read).
import http, { type OutgoingHttpHeaders } from "node:http";
import type { Socket } from "node:net";

export interface HandshakeResult {
  status: number;
  type?: string;
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
      res.destroy();
      const type = res.headers["content-type"];
      resolve({ status: res.statusCode ?? 0, ...(type ? { type } : {}) });
    });
    req.on("error", reject);
    req.end();
  });
}

// Tracks the server's connections and how many requests each is serving, so shutdown can
// close every connection the moment it has nothing in flight. Node's closeIdleConnections
// misses sockets that connected but never sent a request (clients pre-open pooled sockets),
// which would otherwise hold shutdown until the client's own idle timeout.
import type { Server } from "node:http";
import type { Socket } from "node:net";

export class ConnectionDrain {
  readonly #inFlight = new Map<Socket, number>();

  constructor(server: Server) {
    server.on("connection", (socket: Socket) => {
      this.#inFlight.set(socket, 0);
      // 'close' comes once: plain listeners (once() wraps each in three more objects, held
      // for as long as an event stream keeps its connection open).
      socket.on("close", () => this.#inFlight.delete(socket));
    });
    server.on("request", (req, res) => {
      const socket: Socket = req.socket;
      this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1);
      res.on("close", () => {
        const count = this.#inFlight.get(socket);
        if (count !== undefined) this.#inFlight.set(socket, count - 1);
      });
    });
    // An upgraded connection (WebSocket) is busy until it ends.
    server.on("upgrade", (req) => this.#inFlight.set(req.socket, 1));
  }

  /** Closes every connection with no request in flight; returns how many stay open. */
  closeIdle(): number {
    let busy = 0;
    for (const [socket, count] of this.#inFlight) {
      if (count === 0) socket.destroy();
      else busy++;
    }
    return busy;
  }

  closeAll(): void {
    for (const socket of this.#inFlight.keys()) socket.destroy();
  }
}

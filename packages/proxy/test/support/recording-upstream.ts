// An upstream that records exactly what reached it (method, raw target, raw header lines) and
// answers 200 JSON; upgrades get a 101 and an echo. For tests of what the proxy forwards.
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  /** [name, value, name, value, …] as received: repeated headers stay separate lines. */
  rawHeaders: string[];
  /** The body's bytes as received (filled in once it ended). */
  body: Buffer;
}

export interface RecordingUpstream {
  url: string;
  requests: RecordedRequest[];
  /** The values of every header line named `name` (any case) of a recorded request. */
  values(request: RecordedRequest | undefined, name: string): string[];
  close(): Promise<void>;
}

const record = (req: IncomingMessage, method = req.method ?? ""): RecordedRequest => ({
  method,
  url: req.url ?? "",
  rawHeaders: [...req.rawHeaders],
  body: Buffer.alloc(0),
});

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const recorded = record(req);
    requests.push(recorded);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      recorded.body = Buffer.concat(chunks);
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    requests.push(record(req, "UPGRADE"));
    socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    values(request, name) {
      const raw = request?.rawHeaders ?? [];
      const out: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        if ((raw[i] as string).toLowerCase() === name.toLowerCase()) out.push(raw[i + 1] as string);
      }
      return out;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

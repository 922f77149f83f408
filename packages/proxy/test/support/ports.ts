// A free loopback port, for a server a test must know the address of before it starts (a
// public URL, a load balancer in front of replicas). Servers that need no fixed port bind 0.
import net from "node:net";

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

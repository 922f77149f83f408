// The GET stream filter: list-shaped results are rewritten for the caller, every other event
// leaves byte for byte (ids, comments, retry, CR/LF/CRLF line ends, events split anywhere
// across chunks), and an event that grows past the limit cuts the stream.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configSchema } from "../../../src/config/schema.ts";
import { McpPolicy } from "../../../src/mcp/policy.ts";
import { listEventFilter, UnfilterableEvent } from "../../../src/mcp/stream-filter.ts";

const policy = new McpPolicy(configSchema.parse({ mcp_policy: { rules: [{ tools: ["echo"] }] } }).mcp_policy);
const caller = { user: { id: "bob", groups: [], provider: "https://id.example.com", emailVerified: true } };
const input = { policy, caller, modern: false };

const list = {
  jsonrpc: "2.0",
  id: 7,
  result: { tools: [{ name: "echo" }, { name: "admin_report" }], nextCursor: "c" },
};
const call = { jsonrpc: "2.0", id: 8, result: { content: [{ type: "text", text: "tools: admin_report" }] } };

function run(chunks: string[], limit = 1 << 20): string {
  const filter = listEventFilter(input, limit);
  return chunks.map((chunk) => filter.push(Buffer.from(chunk)).toString()).join("");
}

describe("listEventFilter (GET event streams)", () => {
  it("a list result on the stream is filtered for the caller, whatever request it answers; id and type kept", () => {
    const out = run([`event: message\nid: s1_4\ndata: ${JSON.stringify(list)}\n\n`]);
    const [id, event, data] = out.split("\n");
    assert.equal(id, "id: s1_4");
    assert.equal(event, "event: message");
    assert.deepEqual(JSON.parse((data as string).slice("data: ".length)).result, {
      tools: [{ name: "echo" }],
      nextCursor: "c",
    });
  });

  it("a list result framed with CRLF (sse-starlette, the Python SDK) is filtered too, in any chunking", () => {
    const stream = `event: message\r\ndata: ${JSON.stringify(list)}\r\n\r\n: ping\r\n\r\n`;
    for (const size of [1, 5, stream.length]) {
      const out = run(stream.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) as string[]);
      assert.doesNotMatch(out, /admin_report/, `chunks of ${size}`);
      assert.match(out, /"name":"echo"/);
      assert.match(out, /: ping\r\n\r\n$/);
    }
  });

  it("a rewritten event keeps its retry line", () => {
    const out = run([`retry: 3000\nid: 5\ndata: ${JSON.stringify(list)}\n\n`]);
    assert.match(out, /^retry: 3000\n\nid: 5\ndata: .*"echo"/);
    assert.doesNotMatch(out, /admin_report/);
  });

  it("every other event leaves byte for byte, also split across chunks and with CRLF split in two", () => {
    const stream = `: hello\r\n\r\nevent: endpoint\r\ndata: /messages?sessionId=1\r\n\r\nid: 9\rretry: 10\rdata: ${JSON.stringify(call)}\r\r`;
    for (const size of [1, 2, 3, 7, stream.length]) {
      const chunks = stream.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) as string[];
      assert.equal(run(chunks), stream, `chunks of ${size}`);
    }
  });

  it("nothing of an incomplete event is relayed until it ends; then it goes at once", () => {
    const filter = listEventFilter(input, 1 << 20);
    assert.equal(filter.push(Buffer.from('data: {"jsonrpc"')).length, 0);
    assert.equal(
      filter.push(Buffer.from(':"2.0","method":"ping"}\n\ndata: x')).toString(),
      'data: {"jsonrpc":"2.0","method":"ping"}\n\n',
    );
  });

  it("an event whose closing CRLF is split after the CR is relayed at once (no wait for the next event)", () => {
    const filter = listEventFilter(input, 1 << 20);
    assert.equal(
      filter.push(Buffer.from("event: endpoint\r\ndata: /messages/?session_id=1\r\n\r")).toString(),
      "event: endpoint\r\ndata: /messages/?session_id=1\r\n\r",
    );
    assert.equal(filter.push(Buffer.from("\n: ping\r\n\r\n")).toString(), "\n: ping\r\n\r\n");
  });

  it("an event past the limit cuts the stream (it could be a list): UnfilterableEvent", () => {
    const filter = listEventFilter(input, 64);
    filter.push(Buffer.from(`data: ${"x".repeat(40)}`));
    assert.throws(() => filter.push(Buffer.from("y".repeat(40))), UnfilterableEvent);
  });

  it("kinds the policy does not govern pass unfiltered", () => {
    const prompts = { jsonrpc: "2.0", id: 1, result: { prompts: [{ name: "anything" }] } };
    const text = `data: ${JSON.stringify(prompts)}\n\n`;
    assert.equal(run([text]), text);
  });

  it("an event of the proxy's own goes between events, never inside one (decision 049)", () => {
    const addresses: string[] = [];
    const filter = listEventFilter(input, 1 << 20, (address) => addresses.push(address));
    const ours = Buffer.from("event: message\ndata: {}\n\n");
    assert.equal(filter.push(Buffer.from("event: endpoint\ndata: /messages?sessionId=abc\n\n")).length > 0, true);
    assert.deepEqual(addresses, ["/messages?sessionId=abc"]);
    assert.equal(filter.insert(ours, 0).toString(), ours.toString(), "between events: now");
    assert.equal(filter.push(Buffer.from("data: half")).toString(), "");
    assert.equal(filter.insert(ours, 0).toString(), "", "inside an upstream event: later");
    assert.equal(filter.push(Buffer.from(" done\n\ndata: next")).toString(), `data: half done\n\n${ours}`);
  });

  it("events of the proxy's own are refused past the limit, kept or unsent alike (decision 052)", () => {
    const ours = Buffer.from(`event: message\ndata: ${"x".repeat(77)}\n\n`); // 100 bytes
    const filter = listEventFilter(input, 250);
    const bytes = (out: Buffer | false) => (out === false ? "refused" : out.length);
    assert.equal(bytes(filter.insert(ours, 150)), 100, "unsent 150 + 100: within 250, written now");
    assert.equal(filter.insert(ours, 151), false, "unsent 151 + 100: past it, refused");
    filter.push(Buffer.from("data: half"));
    assert.equal(bytes(filter.insert(ours, 0)), 0, "kept: 100");
    assert.equal(bytes(filter.insert(ours, 0)), 0, "kept: 200");
    assert.equal(filter.insert(ours, 0), false, "a third would make 300: refused, not kept");
    assert.equal(filter.insert(ours, 50), false, "200 kept + 50 unsent + 100 is past it too");
    const out = filter.push(Buffer.from(" done\n\n")).toString();
    assert.equal(out, `data: half done\n\n${ours}${ours}`, "the two kept ones follow the event, no more");
    assert.equal(bytes(filter.insert(ours, 150)), 100, "once relayed they no longer count");
  });
});

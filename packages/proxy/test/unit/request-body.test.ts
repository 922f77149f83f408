// Request bodies read whole and bounded (request-body.ts): the forwarder's small bodies and the
// MCP policy's, read from the stream's events.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { BodyIncomplete, BodyTooLarge, readBody } from "../../src/request-body.ts";

const request = () => new PassThrough() as PassThrough & IncomingMessage;

describe("request body", () => {
  it("reads every chunk, in order, up to the limit", async () => {
    const req = request();
    const body = readBody(req, 6);
    req.write("abc");
    req.end("def");
    assert.equal((await body).toString(), "abcdef");
  });

  it("refuses a body past its limit, drops the rest so the answer can reach the client, and cuts it past 8 MiB more", async () => {
    const req = request();
    const body = readBody(req, 4);
    req.write("abc");
    req.write("def");
    await assert.rejects(body, BodyTooLarge);
    req.write(Buffer.alloc(4 * 1024 * 1024));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(req.destroyed, false, "still read (and dropped)");
    req.write(Buffer.alloc(4 * 1024 * 1024 + 1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(req.destroyed, true);
  });

  it("tells a body cut short from a whole one", async () => {
    const req = request();
    const body = readBody(req, 100);
    req.write("abc");
    req.destroy();
    await assert.rejects(body, BodyIncomplete);
  });
});

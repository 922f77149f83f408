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

  it("refuses a body past its limit and stops reading it", async () => {
    const req = request();
    const body = readBody(req, 4);
    req.write("abc");
    req.write("def");
    await assert.rejects(body, BodyTooLarge);
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

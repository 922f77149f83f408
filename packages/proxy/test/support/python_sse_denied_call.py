"""The official Python SDK's HTTP+SSE client (pip `mcp`) at $SSE_URL: calls admin_report (which
the policy denies) and then echo, printing one JSON line for each: the error's code and
message, then echo's text. The session's read timeout is long: a denial the client never
read would surface as that timeout, far past the test's own.
"""

import json
import os

import anyio
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp import MCPError


async def main() -> None:
    async with sse_client(os.environ["SSE_URL"]) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=600) as session:
            await session.initialize()
            try:
                await session.call_tool("admin_report", {})
                print(json.dumps({"code": None}), flush=True)
            except MCPError as error:
                print(json.dumps({"code": error.code, "message": error.message}), flush=True)
            result = await session.call_tool("echo", {"text": "still here"})
            print(json.dumps({"text": result.content[0].text}), flush=True)


anyio.run(main)

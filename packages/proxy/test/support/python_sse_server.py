"""An MCP server on the older HTTP+SSE transport, from the official Python SDK (pip `mcp`).

Its endpoint event is `/messages/?session_id=<hex>` (not the TypeScript SDK's `sessionId`):
the proxy must bind whatever address the server hands out. It listens on a port the
system picks and prints it once the socket listens, so the test waits for that line.
"""

import asyncio
import socket

import uvicorn
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("python-sse", log_level="WARNING")


@mcp.tool()
def secret() -> str:
    """What only the session's owner may read."""
    return "alice-private-data"


async def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print(listener.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(mcp.sse_app(), log_level="warning"))
    await server.serve(sockets=[listener])


asyncio.run(main())

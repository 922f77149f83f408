"""An MCP server of the 2026-07-28 revision (and the handshake revisions) built on the official
Python SDK (`mcp` 2.x, MCPServer over Streamable HTTP), for the proxy's tests: whoami, echo and
admin_report tools. Each tool run prints "called <tool>" on stdout, so a test can tell that a
call the proxy denied never ran. Prints "listening <url>" once it accepts connections.

Usage: python python_mcp_modern_server.py
"""

import asyncio
import socket

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

server = MCPServer(name="modern-test-server", version="1.0.0")


@server.tool()
def whoami() -> str:
    print("called whoami", flush=True)
    return "whoami ran"


@server.tool()
def echo(text: str) -> str:
    print("called echo", flush=True)
    return text


@server.tool()
def admin_report() -> str:
    print("called admin_report", flush=True)
    return "3 servers, 0 incidents"


async def main() -> None:
    # The proxy in front checks Host and Origin; the server is reached on loopback only.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = server.streamable_http_app(transport_security=security)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    runner = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    print(f"listening http://127.0.0.1:{port}/mcp", flush=True)
    await runner.serve(sockets=[listener])


if __name__ == "__main__":
    asyncio.run(main())

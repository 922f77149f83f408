"""An MCP client in another language than the proxy: the official Python SDK's
OAuthClientProvider and streamable HTTP client, signing in through the proxy's authorization
server the way the SDK does for a real user.

The person's part (the browser) is played over HTTP with a cookie jar: the authorization URL is
opened, redirects are followed, and each HTML form met on the way (the provider's sign-in and
consent, the proxy's consent page) is submitted as a browser submits it, with Origin and Referer.
The client's metadata leaves token_endpoint_auth_method out, as the SDK does by default, so the
authorization server applies RFC 7591's default (client_secret_basic).

Usage: python python_mcp_oauth_client.py MCP_URL USER [--modern] [--call TOOL]...
--modern speaks the 2026-07-28 revision (server/discover, no session) instead of initialize.
Prints one JSON object: the registration the SDK kept, the tools listed, whoami's answer (legacy)
and, for each --call, the tool's text or {"error": message}.
"""

import asyncio
import json
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:33419/callback"


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Forms(HTMLParser):
    """The forms of a page: action, method and the fields a submission carries."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}, "submit": []})
        elif self.forms and tag in ("input", "button"):
            kind = a.get("type", "submit" if tag == "button" else "text")
            if kind == "submit":
                if a.get("name"):
                    self.forms[-1]["submit"].append((a["name"], a.get("value", "")))
            elif a.get("name"):
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")


class Person:
    """Signs in as `user` and allows the client, like a person at a browser."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.browser = httpx2.AsyncClient(follow_redirects=False, timeout=30)
        self.landing: str | None = None

    async def open(self, url: str) -> None:
        method, data, headers = "GET", None, {"accept": "text/html"}
        for _ in range(30):
            response = await self.browser.request(method, url, data=data, headers=headers)
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                if url.startswith(REDIRECT_URI):
                    self.landing = url
                    return
                method, data, headers = "GET", None, {"accept": "text/html"}
                continue
            parser = Forms()
            parser.feed(response.text)
            form = self.choose(parser.forms)
            if form is None:
                raise RuntimeError(f"stuck at {url} ({response.status_code}): {response.text[:300]}")
            target = urljoin(url, form["action"])
            origin = "{0.scheme}://{0.netloc}".format(urlparse(url))
            method, data = "POST", form["data"]
            headers = {"accept": "text/html", "origin": origin, "referer": url}
            url = target
        raise RuntimeError("too many steps")

    def choose(self, forms: list[dict]) -> dict | None:
        for form in forms:
            fields = dict(form["fields"])
            buttons = dict(form["submit"])
            if "login" in fields:
                fields.update(login=self.user, password="any")
            if buttons.get("decision") == "deny":
                continue  # the proxy's consent page: the person presses Allow
            fields.update(buttons)
            return {"action": form["action"], "data": fields}
        return None

    async def redirect_handler(self, authorization_url: str) -> None:
        await self.open(authorization_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.landing is None:
            raise RuntimeError("the browser never came back to the client")
        query = parse_qs(urlparse(self.landing).query)
        if "code" not in query:
            raise RuntimeError(f"no code: {self.landing}")
        return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0])


async def call(session: ClientSession, name: str) -> object:
    try:
        result = await session.call_tool(name, {})
    except Exception as error:  # the SDK raises MCPError for a JSON-RPC error answer
        return {"error": str(error)}
    if result.is_error:
        return {"error": result.content[0].text if result.content else "tool error"}
    return result.content[0].text if result.content else None


async def main(mcp_url: str, user: str, modern: bool, calls: list[str]) -> None:
    person = Person(user)
    storage = MemoryStorage()
    oauth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="Python SDK test client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                if modern:
                    await session.discover()
                else:
                    await session.initialize()
                tools = await session.list_tools()
                who = None if modern else await session.call_tool("whoami", {})
                answers = {name: await call(session, name) for name in calls}
    await person.browser.aclose()
    info = storage.client_info
    print(
        json.dumps(
            {
                "client_id": info.client_id if info else None,
                "token_endpoint_auth_method": info.token_endpoint_auth_method if info else None,
                "has_client_secret": bool(info and info.client_secret),
                "tools": [tool.name for tool in tools.tools],
                "whoami": who.content[0].text if who and who.content else None,
                "protocol_version": session.protocol_version,
                "calls": answers,
            }
        )
    )


if __name__ == "__main__":
    args = sys.argv[3:]
    tools_to_call = [args[i + 1] for i, arg in enumerate(args) if arg == "--call"]
    asyncio.run(main(sys.argv[1], sys.argv[2], "--modern" in args, tools_to_call))

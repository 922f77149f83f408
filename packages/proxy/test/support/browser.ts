// A scripted stand-in for a browser where a test is about programs, not pages: fetch with a
// cookie jar (tough-cookie) for programs holding a session cookie (the MCP SDK's
// transports), and sign-in and consent over HTTP for the OAuth tests of MCP clients. It
// sends what Chromium sends (test/integration/browser-pages.test.ts checks the pages
// themselves in Chromium, test/support/chromium.ts).
import http from "node:http";
import https from "node:https";
import { CookieJar } from "tough-cookie";

export interface BrowserResponse {
  status: number;
  headers: Headers;
  url: string;
  text: string;
}

export class TestBrowser {
  readonly jar = new CookieJar();
  /** Extra CA (PEM) this browser trusts, as a company laptop trusts the company CA. */
  readonly #ca: string | undefined;

  constructor(options: { ca?: string } = {}) {
    this.#ca = options.ca;
  }

  /** fetch that sends and stores cookies, for the MCP SDK's transports too. */
  readonly fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.set("cookie", cookie);
    const response = await fetch(input, { ...init, headers, redirect: "manual" });
    for (const setCookie of response.headers.getSetCookie()) await this.jar.setCookie(setCookie, url);
    return response;
  };

  /**
   * One request the way a browser's address bar makes it (node:http, since fetch forces
   * Sec-Fetch-Mode: cors), with the jar's cookies.
   */
  async request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const headers: Record<string, string> = { accept: "text/html", "sec-fetch-mode": "navigate", ...init.headers };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = url.startsWith("https:")
        ? https.request(url, { method: init.method ?? "GET", headers, ...(this.#ca ? { ca: this.#ca } : {}) }, resolve)
        : http.request(url, { method: init.method ?? "GET", headers }, resolve);
      req.on("error", reject);
      req.end(init.body);
    });
    for (const setCookie of response.headers["set-cookie"] ?? []) await this.jar.setCookie(setCookie, url);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (typeof value === "string") responseHeaders.set(name, value);
    }
    return { status: response.statusCode ?? 0, headers: responseHeaders, url, text: Buffer.concat(chunks).toString() };
  }

  /** A top-level navigation: follows up to 15 redirects like a browser, or stops at `stopAt`. */
  async navigate(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    stopAt?: string,
  ): Promise<BrowserResponse> {
    let current = url;
    let request = init;
    for (let hop = 0; hop <= 15; hop++) {
      const response = await this.request(current, request);
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        current = new URL(location, current).href;
        // A redirect to an app that is not a web server here (an MCP client's redirect URI).
        if (stopAt && current.startsWith(stopAt))
          return { status: response.status, headers: response.headers, url: current, text: "" };
        request = {};
        continue;
      }
      return response;
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /**
   * Opens `url` on the proxy, signs in at the development provider as `user` and returns the
   * page finally shown. The provider's login and consent forms are submitted as posted forms.
   */
  async signIn(
    url: string,
    user: string,
    stopAt?: string,
    consent: "allow" | "deny" | "stop" = "allow",
  ): Promise<BrowserResponse> {
    let page = await this.navigate(url, {}, stopAt);
    for (let step = 0; step < 6 && isFormPage(page.text); step++) {
      if (page.text.includes("data-mcp-consent")) {
        // The proxy's own consent page (MCP clients): the person allows or denies the client.
        if (consent === "stop") return page;
        page = await this.answerConsent(page, consent, stopAt);
        continue;
      }
      const action = /action="([^"]+)"/.exec(page.text)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(page.text)?.[1];
      if (!action || !prompt) throw new Error(`unexpected provider page: ${page.text.slice(0, 300)}`);
      const form = new URLSearchParams({ prompt });
      if (prompt === "login") {
        form.set("login", user);
        form.set("password", "any");
      }
      page = await this.navigate(
        new URL(action, page.url).href,
        { method: "POST", body: form.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } },
        stopAt,
      );
    }
    return page;
  }

  /** Submits the proxy's consent page as a person clicking Allow or Deny would. */
  async answerConsent(page: BrowserResponse, decision: "allow" | "deny", stopAt?: string): Promise<BrowserResponse> {
    const uid = /data-mcp-consent="([^"]+)"/.exec(page.text)?.[1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (!uid || !csrf) throw new Error(`not a consent page: ${page.text.slice(0, 300)}`);
    const target = new URL(`/interaction/${uid}/${decision === "allow" ? "confirm" : "abort"}`, page.url);
    return this.navigate(
      target.href,
      {
        method: "POST",
        body: new URLSearchParams({ csrf, decision }).toString(),
        // What Chromium sends with the page's form under Referrer-Policy: same-origin.
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: target.origin,
          "sec-fetch-site": "same-origin",
        },
      },
      stopAt,
    );
  }
}

function isFormPage(text: string): boolean {
  return text.includes('name="prompt"') || text.includes("data-mcp-consent");
}

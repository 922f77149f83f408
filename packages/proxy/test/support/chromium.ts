// A real browser for the pages a person sees: Debian's chromium driven by playwright-core
// (installed by `make setup`). One browser per test file, a new context (fresh cookies) per
// person; the test clicks what a person clicks and the browser sends what it sends.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's package (scripts/ensure-system-deps.sh installs it). */
const CHROMIUM = "/usr/bin/chromium";

/**
 * Without the background-networking flags Chromium's own connections (updates, sync) are
 * refused on machines without internet and slow every start. playwright-core gives each
 * launch a fresh temporary profile (user-data-dir) and removes it on close.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Clicks a button that submits a form and waits for the page the browser lands on. */
export async function clickAndWait(page: Page, name: string | RegExp): Promise<void> {
  await page.getByRole("button", { name }).click();
  await page.waitForLoadState("load");
}

/**
 * Answers the development provider's pages as a person: its sign-in form (any user name,
 * any password), then its own consent page when it shows one.
 */
export async function signInAtProvider(page: Page, user: string, issuer: string): Promise<void> {
  for (let step = 0; step < 3 && page.url().startsWith(issuer); step++) {
    const login = page.locator('input[name="login"]');
    if ((await login.count()) > 0) {
      await login.fill(user);
      await page.locator('input[name="password"]').fill("any password");
      await clickAndWait(page, "Sign-in");
    } else {
      await clickAndWait(page, "Continue");
    }
  }
}

/**
 * Opens `url` and signs `user` in at the provider when its sign-in page comes; returns when
 * the browser settled on a page that is not the provider's.
 */
export async function openSignedIn(page: Page, url: string, user: string, issuer: string): Promise<void> {
  await page.goto(url);
  await signInAtProvider(page, user, issuer);
}

/**
 * A person in Chromium's `page` answering an MCP client's authorization URL (for
 * connectWithOAuth): signs `user` in at the provider when asked, clicks Allow on the consent
 * page when shown. The client's redirect URI must be served (startLoopbackSite): the page
 * ends there with the code in its URL, or on the error the proxy showed.
 */
export function chromiumSignIn(page: Page, issuer: string) {
  return {
    async signIn(url: string, user: string, stopAt: string): Promise<{ url: string; text: string }> {
      await openSignedIn(page, url, user, issuer);
      if (!page.url().startsWith(stopAt) && (await page.locator("[data-mcp-consent]").count()) > 0) {
        await clickAndWait(page, "Allow");
      }
      return { url: page.url(), text: (await page.locator("body").textContent()) ?? "" };
    },
  };
}

/** The session API as the browser's own cookies answer it (same context, no page). */
export async function sessionStatus(context: BrowserContext, proxyUrl: string): Promise<number> {
  const response = await context.request.get(`${proxyUrl}/api/v1/session`);
  return response.status();
}

/** A plain web server on loopback serving one page: another site, or an app's redirect URI. */
export interface LoopbackSite {
  url: string;
  /** Request URLs (path and query) it received. */
  hits: string[];
  close(): Promise<void>;
}

export async function startLoopbackSite(html: string, host = "127.0.0.1"): Promise<LoopbackSite> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? "/");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

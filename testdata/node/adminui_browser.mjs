// Drives the official Socket.IO Admin UI (ui/dist of @socket.io/admin-ui)
// in headless Chromium against a running eventrouter, as an operator
// would: it fills the connection form, logs in, and checks that the
// sockets and rooms pages list what the test expects. Used by
// TestAdminUIBrowser (adminui_browser_test.go).
//
// Input: one JSON object as argv[2]:
//   {"ui": "http://127.0.0.1:PORT/", "server": "http://127.0.0.1:PORT",
//    "username": "...", "password": "...", "sockets": ["sid", ...],
//    "rooms": ["room", ...], "artifacts": "/dir", "chromium": "/usr/bin/chromium"}
// Output: one JSON line on stdout, {"ok": true} or {"ok": false, "error": "..."};
// screenshots in artifacts. Exit code 0 when ok.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.argv[2]);
const profile = mkdtempSync(join(tmpdir(), "adminui-chromium-"));
const step = (msg) => process.stderr.write(`adminui_browser: ${msg}\n`);

async function main() {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: cfg.chromium,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 900 },
  });
  let page;
  try {
    // The UI's page links fonts and icons from CDNs; the test has no
    // network beyond loopback, so those are refused at once instead of
    // waiting for a timeout.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === "127.0.0.1" || url.hostname === "localhost") return route.continue();
      return route.abort();
    });
    page = context.pages()[0] || (await context.newPage());
    page.on("console", (m) => step(`console ${m.type()}: ${m.text()}`));
    page.setDefaultTimeout(15000);

    step("open the UI");
    await page.goto(cfg.ui, { waitUntil: "domcontentloaded" });
    await page.getByLabel("Server URL").fill(cfg.server);
    await page.getByLabel("Username").fill(cfg.username);
    await page.getByLabel("Password").fill(cfg.password);
    await page.screenshot({ path: join(cfg.artifacts, "1-login.png"), animations: "disabled" });
    await page.getByRole("button", { name: "Connect" }).click();

    step("wait for the connection");
    await page.getByLabel("Server URL").waitFor({ state: "hidden" });
    await page.getByText(/^connected$/i).first().waitFor();
    // The dashboard's namespace table fills from server_stats.
    await page.getByRole("cell", { name: "/admin", exact: true }).first().waitFor();
    await page.screenshot({ path: join(cfg.artifacts, "2-dashboard.png"), animations: "disabled" });

    step("sockets page");
    await page.goto(new URL("#/sockets/", cfg.ui).href);
    for (const id of cfg.sockets) {
      await page.getByText(id, { exact: true }).first().waitFor();
    }
    await page.screenshot({ path: join(cfg.artifacts, "3-sockets.png"), animations: "disabled" });

    step("rooms page");
    await page.goto(new URL("#/rooms/", cfg.ui).href);
    for (const room of cfg.rooms) {
      await page.getByText(room, { exact: true }).first().waitFor();
    }
    await page.screenshot({ path: join(cfg.artifacts, "4-rooms.png"), animations: "disabled" });
  } catch (err) {
    if (page) await page.screenshot({ path: join(cfg.artifacts, "failure.png") }).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

main().then(
  () => {
    rmSync(profile, { recursive: true, force: true });
    process.stdout.write(JSON.stringify({ ok: true }) + "\n");
  },
  (err) => {
    rmSync(profile, { recursive: true, force: true });
    process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack || err) }) + "\n");
    process.exitCode = 1;
  },
);

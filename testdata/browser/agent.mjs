// agent.mjs: a browser agent for eventrouter's browser tests.
//
// Drives a real Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) with
// playwright-core; Playwright's own browser downloads are never used.
// Controlled by one JSON object per line on stdin; answers one JSON object
// per line on stdout. Driven from Go by internal/browser.
//
// Every command carries a "seq" and gets exactly one answer with it:
//   {"type":"result","seq":N,"value":...}  or  {"type":"error","seq":N,"message":"..."}
//
// Commands (stdin):
//   {"op":"open","id":"a","url":"http://...","width":540,"height":640}  a new tab
//   {"op":"fill","id":"a","selector":"#text","value":"hi"}
//       a selector is CSS (any Playwright selector), or "label:Username"
//       (the field so labelled) or "button:Connect" (the button so named)
//   {"op":"press","id":"a","selector":"#text","key":"Enter"}
//   {"op":"click","id":"a","selector":"#join"}
//   {"op":"wait","id":"a","selector":"#state[data-state=connected]","text":"...","timeout_ms":10000}
//       waits until an element matches (and holds text, when given)
//   {"op":"text","id":"a","selector":"#sid"}        the first match's textContent
//   {"op":"count","id":"a","selector":"li"}          how many elements match
//   {"op":"eval","id":"a","expr":"window.x"}        evaluates an expression in the page
//   {"op":"screenshot","id":"a","path":"/tmp/a.png"}
//   {"op":"compose","shots":[{"path":"a.png","label":"Tab 1"}],"out":"both.png","title":"..."}
//       lays screenshots side by side, with labels, into one image
//   {"op":"offline","value":true}                   emulates the network going away (all tabs)
//   {"op":"close","id":"a"}
//   {"op":"exit"}
//
// Unsolicited reports (stdout):
//   {"type":"ready"}
//   {"type":"dialog","id","message"}      an alert/confirm/prompt opened (and dismissed)
//   {"type":"pageerror","id","message"}   an uncaught exception in a page
//   {"type":"console","id","level","text"} a console error or warning

import { createInterface } from "node:readline";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const DEFAULT_TIMEOUT_MS = 10000;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const userDataDir = await mkdtemp(join(tmpdir(), "eventrouter-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 540, height: 640 },
});
// The tests have no network beyond loopback: a page's request elsewhere
// (the Admin UI links fonts and icons from CDNs) is refused at once rather
// than left to time out.
await context.route("**/*", (route) => {
  const host = new URL(route.request().url()).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]" ? route.continue() : route.abort();
});
// A persistent context opens one blank tab; tabs are opened by "open".
for (const p of context.pages()) await p.close();

/** @type {Map<string, import("playwright-core").Page>} */
const pages = new Map();

function page(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no tab ${JSON.stringify(id)}`);
  return p;
}

// locate finds a selector in tab id: "label:TEXT" is the form field
// labelled TEXT, "button:NAME" the button named NAME; anything else is a
// Playwright selector (CSS by default).
function locate(id, selector) {
  const p = page(id);
  if (selector.startsWith("label:")) return p.getByLabel(selector.slice(6), { exact: true });
  if (selector.startsWith("button:")) return p.getByRole("button", { name: selector.slice(7), exact: true });
  return p.locator(selector);
}

function timeout(cmd) {
  return cmd.timeout_ms > 0 ? cmd.timeout_ms : DEFAULT_TIMEOUT_MS;
}

async function open(cmd) {
  if (pages.has(cmd.id)) throw new Error(`tab ${JSON.stringify(cmd.id)} is already open`);
  const p = await context.newPage();
  pages.set(cmd.id, p);
  p.on("dialog", async (d) => {
    report({ type: "dialog", id: cmd.id, message: d.message() });
    await d.dismiss().catch(() => {});
  });
  p.on("pageerror", (err) => report({ type: "pageerror", id: cmd.id, message: String(err) }));
  p.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      report({ type: "console", id: cmd.id, level: m.type(), text: m.text() });
    }
  });
  await p.setViewportSize({ width: cmd.width || 540, height: cmd.height || 640 });
  const resp = await p.goto(cmd.url, { timeout: timeout(cmd) });
  return resp ? resp.status() : null;
}

// compose lays the screenshots side by side on a plain page, each under
// its label, and screenshots that. The page is built with DOM calls.
async function compose(cmd) {
  const shots = [];
  for (const s of cmd.shots) {
    const png = await readFile(s.path);
    shots.push({ src: "data:image/png;base64," + png.toString("base64"), label: s.label || "" });
  }
  const p = await context.newPage();
  try {
    await p.setViewportSize({ width: 4000, height: 400 }); // wider than any row: the body sizes itself
    await p.evaluate(({ shots, title }) => {
      const body = document.body;
      document.documentElement.style.background = "#fff"; // else the body's background paints the viewport
      body.style.cssText = "margin:0;padding:28px 32px 32px;background:linear-gradient(135deg,#e9edf6,#d9e1f2);" +
        "font-family:system-ui,sans-serif;color:#1d2330;display:inline-block";
      if (title) {
        const h = document.createElement("div");
        h.textContent = title;
        h.style.cssText = "font-size:18px;font-weight:600;margin:0 0 16px 4px";
        body.append(h);
      }
      const row = document.createElement("div");
      row.style.cssText = "display:flex;gap:28px;align-items:flex-start";
      for (const s of shots) {
        const fig = document.createElement("figure");
        fig.style.cssText = "margin:0;border-radius:12px;overflow:hidden;background:#fff;" +
          "box-shadow:0 8px 28px rgba(20,30,60,.18)";
        const cap = document.createElement("figcaption");
        cap.textContent = s.label;
        cap.style.cssText = "padding:8px 14px;font-size:13px;color:#677084;background:#f7f8fb;border-bottom:1px solid #dde1e8";
        const img = document.createElement("img");
        img.src = s.src;
        img.style.cssText = "display:block";
        fig.append(cap, img);
        row.append(fig);
      }
      body.append(row);
      return Promise.all([...document.images].map((i) => i.decode()));
    }, { shots, title: cmd.title || "" });
    await p.locator("body").screenshot({ path: cmd.out });
  } finally {
    await p.close();
  }
  return cmd.out;
}

async function handle(cmd) {
  switch (cmd.op) {
    case "open":
      return open(cmd);
    case "fill":
      return locate(cmd.id, cmd.selector).first().fill(cmd.value, { timeout: timeout(cmd) });
    case "press":
      return locate(cmd.id, cmd.selector).first().press(cmd.key, { timeout: timeout(cmd) });
    case "click":
      return locate(cmd.id, cmd.selector).first().click({ timeout: timeout(cmd) });
    case "wait": {
      let loc = locate(cmd.id, cmd.selector);
      if (cmd.text) loc = loc.filter({ hasText: cmd.text });
      await loc.first().waitFor({ state: "attached", timeout: timeout(cmd) });
      return true;
    }
    case "text":
      return locate(cmd.id, cmd.selector).first().textContent({ timeout: timeout(cmd) });
    case "count":
      return locate(cmd.id, cmd.selector).count();
    case "eval":
      return page(cmd.id).evaluate(cmd.expr);
    case "screenshot":
      await page(cmd.id).screenshot({ path: cmd.path, animations: "disabled" }); // transitions finished, not half-faded
      return cmd.path;
    case "compose":
      return compose(cmd);
    case "offline":
      await context.setOffline(Boolean(cmd.value));
      return true;
    case "close":
      await page(cmd.id).close();
      pages.delete(cmd.id);
      return true;
    default:
      throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
  }
}

async function shutdown(code) {
  await context.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  process.exit(code);
}

// Commands run one at a time, in order.
let queue = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    report({ type: "error", message: `bad command: ${err.message}` });
    return;
  }
  if (cmd.op === "exit") {
    queue = queue.then(() => shutdown(0));
    return;
  }
  queue = queue.then(async () => {
    try {
      const value = await handle(cmd);
      report({ type: "result", seq: cmd.seq, value: value === undefined ? null : value });
    } catch (err) {
      report({ type: "error", seq: cmd.seq, message: String(err && err.message ? err.message : err) });
    }
  });
});
rl.on("close", () => {
  queue = queue.then(() => shutdown(0));
});
process.on("SIGTERM", () => shutdown(0));

report({ type: "ready" });

// The registry's pages in a real browser: Debian's chromium, headless, driven over the DevTools protocol
// (puppeteer-core, no browser download), with axe-core for WCAG 2.1 AA. tests/browser/run.sh starts the
// service with the seed data and sets RBN_BASE.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const BASE = (process.env.RBN_BASE || "http://127.0.0.1:8080").replace(/\/$/, "");
const SERVICE = new URL(BASE).host;
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

let browser;
let profile;
let otherOrigin; // a page of another origin that embeds the service's card and map
let otherServer;

before(async () => {
  profile = mkdtempSync(join(tmpdir(), "rbn-chromium-"));
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  otherServer = http.createServer((req, res) => {
    const src = req.url === "/gesperrt" ? `${BASE}/netzwerke/kreis-mettmann` : `${BASE}/einbetten/netzwerke/kreis-mettmann`;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Bildungsbüro</title></head>
<body><h1>Website eines Bildungsbüros</h1>
<iframe id="karte" src="${src}" title="Regionales Bildungsnetzwerk" width="400" height="500"></iframe>
<iframe id="bezirk" src="${BASE}/einbetten/karte?bezirk=1" title="Karte" width="400" height="400"></iframe>
</body></html>`);
  });
  await new Promise((resolve) => otherServer.listen(0, "127.0.0.1", resolve));
  otherOrigin = `http://127.0.0.1:${otherServer.address().port}`;
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => otherServer?.close(resolve));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A new tab that records every request it makes and every console error or CSP violation. */
async function open(options = {}) {
  const page = await browser.newPage();
  const requests = [];
  const problems = [];
  page.on("request", (request) => requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  if (options.bypassCsp) await page.setBypassCSP(true); // only to inject axe-core
  if (options.javascript === false) await page.setJavaScriptEnabled(false);
  await page.setViewport(options.viewport || { width: 1200, height: 1000 });
  return { page, requests, problems };
}

/** Every request went to the service (or to the given other hosts): no CDN, font, tile or tracker. */
function onlyOwnRequests(requests, allowed = []) {
  const hosts = new Set(requests.filter((u) => !u.startsWith("data:")).map((u) => new URL(u).host));
  for (const host of hosts) {
    assert.ok(host === SERVICE || allowed.includes(host), `a request left for ${host}: ${[...hosts]}`);
  }
  assert.ok(requests.length > 0);
}

async function axe(path) {
  const { page } = await open({ bypassCsp: true });
  const response = await page.goto(BASE + path, { waitUntil: "load" });
  assert.equal(response.status(), 200, path);
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
    [...WCAG, "best-practice"],
  );
  await page.close();
  const summary = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`,
  );
  console.log(`axe-core ${result.testEngine.version} on ${path}: ${result.violations.length} violations, ${result.passes?.length ?? "-"} rules passed`);
  return summary;
}

test("the map: 53 linked areas with names, keyboard order and visible focus; nothing from other hosts", async () => {
  const { page, requests, problems } = await open();
  const response = await page.goto(BASE + "/", { waitUntil: "load" });
  assert.equal(response.status(), 200);
  const areas = await page.$$eval("svg.map a[href]", (links) =>
    links.map((a) => ({ href: a.getAttribute("href"), name: a.getAttribute("aria-label"), title: a.querySelector("title")?.textContent })),
  );
  assert.equal(areas.length, 53);
  for (const area of areas) {
    assert.ok(area.name && area.name === area.title, `accessible name and tooltip: ${JSON.stringify(area)}`);
  }
  assert.equal(new Set(areas.map((a) => a.href)).size, 53);
  // The accessibility tree names the link after its region.
  const snapshot = await page.accessibility.snapshot({ interestingOnly: true });
  const names = [];
  (function walk(node) {
    if (node.role === "link") names.push(node.name);
    (node.children || []).forEach(walk);
  })(snapshot);
  assert.ok(names.includes("Kreis Mettmann"), "the accessibility tree has a link named Kreis Mettmann");

  // Keyboard: Tab reaches every area, in the order of the list below the map, each visibly focused.
  let first = -1;
  for (let i = 0; i < 20 && first < 0; i++) {
    await page.keyboard.press("Tab");
    first = await page.evaluate(() => [...document.querySelectorAll("svg.map a")].indexOf(document.activeElement));
  }
  assert.equal(first, 0, "the first area is reached by Tab");
  const unfocused = await page.$eval("svg.map a:nth-of-type(2) path", (p) => getComputedStyle(p).strokeWidth);
  for (let i = 1; i < 53; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const links = [...document.querySelectorAll("svg.map a")];
      const path = document.activeElement.querySelector("path");
      return { index: links.indexOf(document.activeElement), stroke: path && getComputedStyle(path).strokeWidth };
    });
    assert.equal(focused.index, i, `Tab ${i} focuses area ${i}`);
    assert.notEqual(focused.stroke, unfocused, "the focused area is drawn differently");
  }
  const listOrder = await page.$$eval(".districts a", (links) => links.map((a) => a.getAttribute("href")));
  assert.deepEqual(listOrder, areas.map((a) => a.href), "the map's keyboard order is the list's order");

  // The BKG attribution, linked.
  const attribution = await page.$eval('a[href="https://www.bkg.bund.de"]', (a) => a.textContent);
  assert.equal(attribution, "© GeoBasis-DE / BKG 2021 (Daten verändert)");
  onlyOwnRequests(requests);
  assert.deepEqual(problems, [], "no console errors, no CSP violations");
  await page.close();
});

test("Kreis Mettmann: follow its area to its page; the JSON-LD parses and names the network", async () => {
  const { page, requests, problems } = await open();
  await page.goto(BASE + "/", { waitUntil: "load" });
  const mettmann = await page.$('svg.map a[aria-label="Kreis Mettmann"]');
  assert.ok(mettmann, "an area named Kreis Mettmann");
  await mettmann.evaluate((a) => a.focus());
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.keyboard.press("Enter")]);
  assert.equal(new URL(page.url()).pathname, "/netzwerke/kreis-mettmann");
  const heading = await page.$eval("h1", (h) => h.textContent);
  assert.match(heading, /Kreis Mettmann/);
  const jsonLd = await page.$eval('script[type="application/ld+json"]', (s) => JSON.parse(s.textContent));
  assert.equal(jsonLd["@context"], "https://schema.org");
  assert.match(jsonLd.name, /Kreis Mettmann/);
  assert.equal(jsonLd.areaServed.name, "Kreis Mettmann");
  assert.equal(jsonLd.foundingDate, "2013-11-19");
  assert.equal(jsonLd.parentOrganization.name, "Bezirksregierung Düsseldorf");
  // Its next meeting (run.sh makes one): on the page, and as a schema.org Event with its place.
  const [event] = jsonLd.event;
  assert.equal(event["@type"], "Event");
  assert.equal(event.name, "Bildungskonferenz 2099");
  assert.equal(event.startDate, "2099-03-15T09:00:00+01:00");
  assert.equal(event.location.address.addressLocality, "Mettmann");
  assert.match(await page.$eval("ul.meetings", (m) => m.innerText), /Bildungskonferenz 2099/);
  const canonical = await page.$eval('link[rel="canonical"]', (l) => l.href);
  assert.match(canonical, /\/netzwerke\/kreis-mettmann$/);
  const ogTitle = await page.$eval('meta[property="og:title"]', (m) => m.content);
  assert.match(ogTitle, /Kreis Mettmann/);
  const text = await page.$eval("main", (m) => m.innerText);
  assert.match(text, /19\. November 2013/);
  onlyOwnRequests(requests);
  assert.deepEqual(problems, []);
  // And back by mouse: the area of the map is clickable too.
  await page.goto(BASE + "/", { waitUntil: "load" });
  const box = await page.$eval('svg.map a[aria-label="Kreis Mettmann"] path', (p) => {
    const r = p.getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height };
  });
  assert.ok(box.w > 10 && box.h > 10);
  await page.close();
});

test("axe-core: no WCAG 2.1 AA violations on the map, a network page, the embeds and a region page", async () => {
  const paths = ["/", "/netzwerke/kreis-mettmann", "/einbetten/netzwerke/kreis-mettmann", "/einbetten/karte?bezirk=5", "/regionen/05770"];
  for (const path of paths) {
    const violations = await axe(path);
    assert.deepEqual(violations, [], `axe-core on ${path}`);
  }
});

test("usable at 320 px width, and without JavaScript", async () => {
  for (const path of ["/", "/netzwerke/kreis-mettmann", "/einbetten/netzwerke/kreis-mettmann"]) {
    const { page } = await open({ viewport: { width: 320, height: 640 }, javascript: false });
    await page.goto(BASE + path, { waitUntil: "load" });
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(widths.scroll <= widths.client, `${path}: no horizontal scrolling at 320 px (${JSON.stringify(widths)})`);
    if (path === "/") {
      assert.equal(await page.$$eval("svg.map a[href]", (links) => links.length), 53);
      const mapWidth = await page.$eval("svg.map", (svg) => svg.getBoundingClientRect().width);
      assert.ok(mapWidth <= 320 && mapWidth > 250, `the map fits: ${mapWidth}`);
    }
    await page.close();
  }
});

test("an unknown network is a German 404 page with a link back to the map", async () => {
  const { page } = await open();
  const response = await page.goto(BASE + "/netzwerke/gibt-es-nicht", { waitUntil: "load" });
  assert.equal(response.status(), 404);
  assert.match(response.headers()["content-type"], /^text\/html/);
  assert.equal(await page.$eval("h1", (h) => h.textContent), "Seite nicht gefunden");
  await Promise.all([page.waitForNavigation(), page.click('main a[href="/"]')]);
  assert.equal(new URL(page.url()).pathname, "/");
  await page.close();
});

test("the card and the district map embed in a page of another origin; the network page does not", async () => {
  const { page, requests, problems } = await open();
  await page.goto(otherOrigin + "/", { waitUntil: "load" });
  const card = page.frames().find((f) => f.url().includes("/einbetten/netzwerke/kreis-mettmann"));
  assert.ok(card, `the card's frame: ${page.frames().map((f) => f.url())}`);
  const title = await card.$eval("h1", (h) => h.textContent);
  assert.match(title, /Kreis Mettmann/);
  const districtMap = page.frames().find((f) => f.url().includes("/einbetten/karte?bezirk=1"));
  assert.equal(await districtMap.$$eval("svg.map a[href]", (links) => links.length), 15, "the 15 regions of Düsseldorf");
  const targets = await districtMap.$$eval("svg.map a", (links) => [...new Set(links.map((a) => a.getAttribute("target")))]);
  assert.deepEqual(targets, ["_top"], "a click in the embedded map opens the network's page in the window");
  onlyOwnRequests(requests, [new URL(otherOrigin).host]);
  assert.deepEqual(problems, []);
  await page.close();

  // Everything but /einbetten/ refuses to be framed (frame-ancestors 'none'): chromium shows its error page.
  const blocked = await open();
  await blocked.page.goto(otherOrigin + "/gesperrt", { waitUntil: "load" });
  const urls = blocked.page.frames().map((f) => f.url());
  assert.ok(urls.includes("chrome-error://chromewebdata/"), `the network page is not framed: ${urls}`);
  assert.ok(!urls.some((u) => u.endsWith("/netzwerke/kreis-mettmann")), `${urls}`);
  assert.ok(blocked.problems.some((p) => p.includes("frame-ancestors 'none'")), `${blocked.problems}`);
  await blocked.page.close();
});

test("printable: the map page prints to PDF with the map", async () => {
  const { page } = await open();
  await page.goto(BASE + "/", { waitUntil: "load" });
  await page.emulateMediaType("print");
  assert.equal(await page.$eval("svg.map", (svg) => getComputedStyle(svg).display), "block");
  const pdf = await page.pdf({ format: "A4" });
  assert.ok(pdf.length > 10_000, "a PDF with content");
  await page.close();
});

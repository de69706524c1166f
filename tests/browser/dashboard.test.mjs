// Browser test of the embedded dashboard in Debian's chromium, driven by
// playwright-core (scripts/browser-test.sh starts the servers and sets the
// environment):
//
//   BASE        http://127.0.0.1:PORT of `serve` without a token
//   TOKEN_BASE  http://127.0.0.1:PORT of `serve --token-file`, TOKEN its token
//   HOSTILE_HOST  the host whose lookups carry markup in their names
//   CHROMIUM    the browser binary (default: Debian's)
//   OUT         folder for downloads and screenshots
//
// Every check runs; the last line is "N passed, N failed" and the exit code
// is non-zero if any failed. A missing browser or module is a failure, never
// a skip.
import fs from "node:fs";
import path from "node:path";

const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const XSS_NAME = "a<script>alert(1)</script>.evil-example.com";
const IMG_NAME = 'b"><img src=x onerror=alert(2)>.evil-example.com';
const FORMULA_NAME = "=cmd.evil-example.com";

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`dashboard.test: ${name} is not set (run scripts/browser-test.sh)`);
    process.exit(2);
  }
  return v;
}

const BASE = need("BASE");
const TOKEN_BASE = need("TOKEN_BASE");
const TOKEN = need("TOKEN");
const HOSTILE_HOST = need("HOSTILE_HOST");
const OUT = process.env.OUT || fs.mkdtempSync("/tmp/sentineldns-browser-");
// CHROMIUM, when given, is the only candidate.
const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];
const CHROMIUM = candidates.find((p) => fs.existsSync(p));
if (!CHROMIUM) {
  console.error("dashboard.test: FAIL: no chromium binary (" + candidates.join(", ") + "); install Debian's chromium (apt-get install chromium)");
  process.exit(1);
}

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  console.error("dashboard.test: FAIL: playwright-core is not installed (run npm ci in tests/browser): " + e.message);
  process.exit(1);
}

let passed = 0;
let failed = 0;
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function check(name, f) {
  try {
    await f();
    passed++;
    console.log("ok   " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + ": " + (e && e.stack ? e.stack : e));
  }
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

// Everything a page reports that a test must see: console errors, script
// errors, dialogs (an alert() from injected markup), failed requests.
function watch(page) {
  const w = { errors: [], dialogs: [], failed: [] };
  page.on("console", (m) => {
    if (m.type() === "error") w.errors.push(m.text());
  });
  page.on("pageerror", (e) => w.errors.push("pageerror: " + e.message));
  page.on("dialog", async (d) => {
    w.dialogs.push(d.type() + ": " + d.message());
    await d.dismiss();
  });
  page.on("requestfailed", (r) => {
    // A download's blob: URL is not a page request failure.
    if (!r.url().startsWith("blob:")) w.failed.push(r.url() + " " + (r.failure() && r.failure().errorText));
  });
  return w;
}

async function ready(page) {
  await page.waitForSelector("body[data-ready]", { timeout: 20000 });
}

const RANK = { "Likely Compromise": 2, Unusual: 1, Normal: 0 };

const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const seen = watch(page);

await check("overview is served with the strict CSP and no inline script", async () => {
  const resp = await page.goto(BASE + "/");
  assert(resp.status() === 200, "status " + resp.status());
  const h = resp.headers();
  assert(h["content-security-policy"] === EXPECTED_CSP, "CSP: " + h["content-security-policy"]);
  assert(h["x-content-type-options"] === "nosniff", "nosniff");
  assert(h["content-type"].startsWith("text/html"), h["content-type"]);
  const html = await resp.text();
  assert(!/<script>|<style|\sstyle=|\son\w+=|javascript:/i.test(html), "inline script or style in the shell");
  await ready(page);
});

await check("overview lists hosts worst verdict first", async () => {
  const rows = await page.$$eval('table[data-table="hosts"] tbody tr', (trs) =>
    trs.map((tr) => ({ label: tr.cells[1].textContent, score: Number(tr.cells[2].textContent) }))
  );
  assert(rows.length >= 5, "hosts: " + rows.length);
  for (let i = 1; i < rows.length; i++) {
    const a = RANK[rows[i - 1].label] ?? -1, b = RANK[rows[i].label] ?? -1;
    assert(a > b || (a === b && rows[i - 1].score >= rows[i].score), "not ordered at row " + i + ": " + JSON.stringify(rows.slice(i - 1, i + 1)));
  }
  assert(rows[0].label === "Likely Compromise", "first host: " + rows[0].label);
});

await check("overview draws verdicts over time as stacked bars and lists open incidents", async () => {
  const bars = await page.$$eval("svg.chart g.bucket rect", (rs) => rs.map((r) => r.getAttribute("class")));
  assert(bars.length > 10, "bars: " + bars.length);
  assert(bars.some((c) => c.includes("bar-likely")) && bars.some((c) => c.includes("bar-normal")), "labels in bars");
  const sections = await page.$$eval("section.card h2", (hs) => hs.map((h) => h.textContent));
  assert(sections.includes("Open incidents") && sections.includes("Latest windows"), sections.join("|"));
});

await check("filters are reflected in the URL and restored from it", async () => {
  await page.selectOption('select[name="min_label"]', "likely");
  await page.fill('input[name="since"]', "2024-03-04T08:00:00");
  await page.fill('input[name="until"]', "2024-03-04T09:00:00");
  await page.click('form#filters button[type="submit"]');
  await page.waitForFunction(() => location.search.includes("min_label=likely"));
  await ready(page);
  const u = new URL(page.url());
  assert(u.searchParams.get("since") === "2024-03-04T08:00:00Z", "since " + u.searchParams.get("since"));
  assert(u.searchParams.get("until") === "2024-03-04T09:00:00Z", "until " + u.searchParams.get("until"));
  // Shared view: a fresh page on the URL shows the same filters and data.
  const p2 = await context.newPage();
  const w2 = watch(p2);
  await p2.goto(page.url());
  await ready(p2);
  assert((await p2.inputValue('select[name="min_label"]')) === "likely", "min_label not restored");
  const since = await p2.inputValue('input[name="since"]');
  assert(/^2024-03-04T08:00(:00)?$/.test(since), "since not restored: " + since);
  const labels = await p2.$$eval('table[data-table="windows"] tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent));
  assert(labels.length > 0 && labels.every((l) => l === "Likely Compromise"), "windows table: " + labels.join(","));
  const starts = await p2.$$eval('table[data-table="windows"] tbody tr td:nth-child(1)', (tds) => tds.map((t) => t.textContent));
  assert(starts.every((s) => s >= "2024-03-04 08:00:00" && s < "2024-03-04 09:00:00"), "time filter: " + starts.join(","));
  await p2.close();
  assert(!w2.errors.length, "console errors: " + w2.errors.join("; "));
});

let hostileRows = 0;
await check("host page: timeline with threshold lines and flagged markers", async () => {
  // Opened from the overview's hosts table, as a person would.
  await page.goto(BASE + "/");
  await ready(page);
  const [resp] = await Promise.all([
    page.waitForNavigation(),
    page.click('table[data-table="hosts"] a[href^="/hosts/' + encodeURIComponent(HOSTILE_HOST) + '"]'),
  ]);
  assert(new URL(page.url()).pathname === "/hosts/" + HOSTILE_HOST, page.url());
  assert(resp.headers()["content-security-policy"] === EXPECTED_CSP, "CSP on the host page");
  await ready(page);
  const unusual = await page.$$eval("svg.timeline line.thr-unusual", (ls) => ls.map((l) => Number(l.getAttribute("y1"))));
  const likely = await page.$$eval("svg.timeline line.thr-likely", (ls) => ls.map((l) => Number(l.getAttribute("y1"))));
  assert(unusual.length >= 1 && likely.length >= 1, `threshold lines: ${unusual.length} unusual, ${likely.length} likely`);
  assert(likely[0] < unusual[0], "the Likely threshold must be drawn above the Unusual one");
  const marks = await page.$$eval("svg.timeline circle.mark", (cs) => cs.map((c) => c.getAttribute("class")));
  hostileRows = await page.$$eval('table[data-table="flagged-windows"] tbody tr', (trs) => trs.length);
  assert(marks.length >= 1 && marks.length === hostileRows, `markers ${marks.length}, flagged windows ${hostileRows}`);
  const expl = await page.$$eval('table[data-table="flagged-windows"] td.text', (tds) => tds.map((t) => t.textContent));
  assert(expl.every((e) => e.length > 40), "explanations");
  const reasons = await page.$$eval('table[data-table="flagged-windows"] ul.reasons li strong', (s) => s.map((x) => x.textContent));
  assert(reasons.includes("dga_like_names"), "reasons: " + reasons.join(","));
  const mixes = await page.$$eval("svg.mix rect.bar-flagged-mix", (rs) => rs.length);
  assert(mixes >= 2, "qtype / rcode bars: " + mixes);
});

await check("hostile qnames are shown as text and nothing is injected", async () => {
  const names = await page.$$eval('table[data-table="top-domains"] tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert(names.includes(XSS_NAME), "the <script> name is not shown as text: " + names.join(" | "));
  assert(names.includes(IMG_NAME), "the <img> name is not shown as text");
  assert(names.includes(FORMULA_NAME), "the formula name is not shown");
  const scripts = await page.$$eval("script", (ss) => ss.map((s) => s.getAttribute("src")));
  assert(scripts.length === 1 && scripts[0] === "/assets/app.js", "script elements: " + JSON.stringify(scripts));
  const injected = await page.evaluate(() => ({
    img: document.querySelectorAll("img").length,
    handlers: [...document.querySelectorAll("*")].filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
  }));
  assert(injected.img === 0 && injected.handlers === 0, "injected elements: " + JSON.stringify(injected));
  await page.waitForTimeout(300);
  assert(seen.dialogs.length === 0, "a dialog fired: " + seen.dialogs.join("; "));
});

await check("CSV download of the top domains: quoted, formula-safe", async () => {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click('button[data-csv="top-domains"]')]);
  assert(/^sentineldns-top-domains-.*\.csv$/.test(dl.suggestedFilename()), dl.suggestedFilename());
  const file = path.join(OUT, dl.suggestedFilename());
  await dl.saveAs(file);
  const text = fs.readFileSync(file, "utf8");
  assert(text.charCodeAt(0) === 0xfeff, "no UTF-8 BOM");
  const lines = text.slice(1).split("\r\n");
  assert(lines[0] === '"Domain","Lookups","NXDOMAIN","Windows","Flagged windows","Risk"', "header: " + lines[0]);
  assert(lines.includes('"' + XSS_NAME + '",15,0,3,3,1'), "script row: " + lines.join("\n"));
  assert(lines.some((l) => l.startsWith('"b""><img src=x onerror=alert(2)>.evil-example.com",')), "quote doubling");
  assert(lines.some((l) => l.startsWith("\"'" + FORMULA_NAME + '",')), "formula not neutralised: " + lines.join("\n"));
  assert(!lines.some((l) => l.startsWith('"=')), "a cell starts with =");
});

await check("CSV download of the flagged windows", async () => {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click('button[data-csv="flagged-windows"]')]);
  const file = path.join(OUT, dl.suggestedFilename());
  await dl.saveAs(file);
  const text = fs.readFileSync(file, "utf8").slice(1);
  const lines = text.split("\r\n").filter((l) => l.length);
  assert(lines[0].startsWith('"Start (UTC)","End (UTC)","Label","Score"'), lines[0]);
  // Explanations hold commas and quotes: the rows still parse to one per window.
  assert(lines.filter((l) => l.startsWith('"2024-')).length === hostileRows, "rows: " + lines.length);
});

await check("incidents page: table, state filter in the URL", async () => {
  const resp = await page.goto(BASE + "/incidents");
  assert(resp.headers()["content-security-policy"] === EXPECTED_CSP, "CSP");
  await ready(page);
  const n = await page.$$eval('table[data-table="incidents"] tbody tr', (trs) => trs.length);
  assert(n >= 1, "incidents: " + n);
  await page.selectOption("select#state", "closed");
  await page.waitForFunction(() => location.search.includes("state=closed"));
  await ready(page);
  const states = await page.$$eval('table[data-table="incidents"] tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent));
  assert(states.every((s) => s === "closed"), states.join(","));
});

// scripts/browser-test.sh stores a triage verdict whose text carries markup
// on the hostile host's incident and "breaker_open" on the others.
const TRIAGE_SUMMARY = 'Beacon <img src=x onerror=alert(3)> to a DGA domain';
const TRIAGE_ACTION = "<script>alert(4)</script> isolate the host";
await check("incidents show their triage, escaped, or why there is none", async () => {
  await page.goto(BASE + "/incidents");
  await ready(page);
  const ok = await page.$$eval('table[data-table="incidents"] [data-triage="ok"]', (ds) =>
    ds.map((d) => ({
      category: d.querySelector(".triage-category").textContent,
      score: d.querySelector(".triage-score").textContent,
      confidence: d.querySelector(".triage-confidence").textContent,
      summary: d.querySelector(".triage-summary").textContent,
      actions: [...d.querySelectorAll(".triage-actions li")].map((li) => li.textContent),
      markup: d.querySelectorAll("img, script").length,
    }))
  );
  assert(ok.length === 1, "triaged incidents: " + JSON.stringify(ok));
  const t = ok[0];
  assert(t.category === "c2" && t.score === "87" && t.confidence === "high", JSON.stringify(t));
  assert(t.summary === TRIAGE_SUMMARY, "summary as text: " + t.summary);
  assert(t.actions.length === 2 && t.actions[0] === TRIAGE_ACTION, "actions as text: " + JSON.stringify(t.actions));
  assert(t.markup === 0, "markup from the triage became elements");
  const none = await page.$$eval('table[data-table="incidents"] .triage-none', (ss) => ss.map((s) => [s.dataset.triage, s.textContent]));
  assert(none.length >= 1, "incidents without triage: " + none.length);
  assert(none.every(([st, text]) => st === "breaker_open" && text.includes("circuit breaker was open")), JSON.stringify(none));
  // The open incident (breaker open) is on the overview too.
  await page.goto(BASE + "/");
  await ready(page);
  const overview = await page.$$eval('table[data-table="open-incidents"] .triage-none', (ss) => ss.map((s) => s.textContent));
  assert(overview.length >= 1 && overview.every((x) => x.includes("circuit breaker")), JSON.stringify(overview));
  assert(!seen.dialogs.length, "dialogs: " + seen.dialogs.join("; "));
});

await check("auto-refresh reloads every 30 s and keeps the filters", async () => {
  const p = await context.newPage();
  const w = watch(p);
  await p.clock.install();
  await p.goto(BASE + "/hosts/" + encodeURIComponent(HOSTILE_HOST) + "?since=2024-03-04T08:00:00Z");
  await ready(p);
  await p.check("#refresh");
  await p.waitForFunction(() => location.search.includes("refresh=30"));
  const before = await p.evaluate(() => document.body.dataset.ready);
  let apiCalls = 0;
  p.on("request", (r) => {
    if (r.url().includes("/api/v1/")) apiCalls++;
  });
  await p.clock.runFor(31000);
  await p.waitForFunction((b) => document.body.dataset.ready !== b, before, { timeout: 10000 });
  const u = new URL(p.url());
  assert(u.searchParams.get("since") === "2024-03-04T08:00:00Z" && u.searchParams.get("refresh") === "30", p.url());
  assert(apiCalls >= 4, "API calls on refresh: " + apiCalls);
  assert(await p.isChecked("#refresh"), "toggle unchecked after refresh");
  await p.close();
  assert(!w.errors.length, "console errors: " + w.errors.join("; "));
});

await check("readable on a 390 px phone: no horizontal page overflow", async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  const w = watch(p);
  for (const [name, url] of [["overview", "/"], ["incidents", "/incidents"], ["host", "/hosts/" + encodeURIComponent(HOSTILE_HOST)]]) {
    await p.goto(BASE + url);
    await ready(p);
    const m = await p.evaluate(() => ({
      inner: window.innerWidth,
      doc: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
    }));
    assert(m.doc <= m.inner && m.body <= m.inner, url + ": page wider than the screen " + JSON.stringify(m));
    // Wide tables scroll inside their own box.
    const wraps = await p.$$eval(".table-wrap", (ws) => ws.map((x) => getComputedStyle(x).overflowX));
    assert(wraps.every((o) => o === "auto"), url + ": table wrappers " + wraps.join(","));
    await p.screenshot({ path: path.join(OUT, name + "-390.png"), fullPage: false });
  }
  await phone.close();
  assert(!w.errors.length, "console errors: " + w.errors.join("; "));
});

await check("1280 px screenshot", async () => {
  await page.goto(BASE + "/");
  await ready(page);
  await page.screenshot({ path: path.join(OUT, "overview-1280.png"), fullPage: false });
});

await check("no console errors, script errors or failed requests on the open server", async () => {
  assert(!seen.errors.length, "console: " + seen.errors.join("; "));
  assert(!seen.failed.length, "failed requests: " + seen.failed.join("; "));
  assert(!seen.dialogs.length, "dialogs: " + seen.dialogs.join("; "));
});

// The token server: pages need the token; the browser presents it once on
// the login page and then carries an HttpOnly, SameSite=Strict cookie.
await check("with a token: login page, HttpOnly cookie, dashboard, log out", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  const w = watch(p);
  const api = await ctx.request.get(TOKEN_BASE + "/api/v1/hosts");
  assert(api.status() === 401, "API without the token: " + api.status());
  let resp = await p.goto(TOKEN_BASE + "/hosts/" + encodeURIComponent(HOSTILE_HOST));
  assert(resp.status() === 401, "page without the token: " + resp.status());
  assert(resp.headers()["content-security-policy"] === EXPECTED_CSP, "CSP on the login page");
  await p.waitForSelector("#token");
  await p.fill("#token", "wrong-token-wrong-token");
  await p.click('#login button[type="submit"]');
  await p.waitForFunction(() => document.getElementById("msg").textContent.length > 0);
  assert((await p.textContent("#msg")).includes("wrong token"), await p.textContent("#msg"));
  await p.fill("#token", TOKEN);
  await Promise.all([p.waitForNavigation(), p.click('#login button[type="submit"]')]);
  await ready(p);
  const names = await p.$$eval('table[data-table="top-domains"] tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert(names.includes(XSS_NAME), "dashboard data after login");
  const cookies = await ctx.cookies(TOKEN_BASE);
  const session = cookies.find((c) => c.name === "sentineldns_session");
  assert(session && session.httpOnly && session.sameSite === "Strict", "session cookie: " + JSON.stringify(session));
  assert(!session.value.includes(TOKEN), "the cookie must name a session, not carry the token");
  const js = await p.evaluate(() => document.cookie);
  assert(!js.includes("sentineldns_session"), "the session cookie is readable by scripts");
  assert(!p.url().includes(TOKEN), "token in the URL");
  // Log out: the cookie is gone and the pages need the token again.
  assert(await p.isVisible("#logout"), "no log-out button");
  await Promise.all([p.waitForURL(TOKEN_BASE + "/login"), p.click("#logout")]);
  resp = await p.goto(TOKEN_BASE + "/");
  assert(resp.status() === 401, "after log out: " + resp.status());
  // Bearer still works for scripts.
  const bearer = await ctx.request.get(TOKEN_BASE + "/api/v1/hosts", { headers: { Authorization: "Bearer " + TOKEN } });
  assert(bearer.status() === 200, "bearer: " + bearer.status());
  await ctx.close();
  // The 401 page and the wrong-token answer log errors by design; nothing else may.
  const unexpected = w.errors.filter((e) => !/status of 401/.test(e));
  assert(!unexpected.length, "console errors: " + unexpected.join("; "));
  assert(!w.dialogs.length, "dialogs: " + w.dialogs.join("; "));
});

await browser.close();
console.log(`\nbrowser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

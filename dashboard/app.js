"use strict";
// The sentineldns dashboard: plain JavaScript, no framework, no CDN.
//
// Safety rule: every string that comes from the API (host names, domain
// names, reasons, explanations: attacker-controlled text) reaches the page
// through textContent, createElement or setAttribute on a known attribute,
// never through a property or call that parses HTML. Charts are SVG built with
// createElementNS. The page's CSP forbids inline script and style anyway.
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const REFRESH_MS = 30000;
  const LABELS = ["Normal", "Unusual", "Likely Compromise"];
  const LABEL_KEYS = { normal: 0, unusual: 1, likely: 2 };
  const main = document.getElementById("main");
  const form = document.getElementById("filters");
  const refreshBox = document.getElementById("refresh");
  const updated = document.getElementById("updated");
  let timer = null;
  let generation = 0;

  // ---------------------------------------------------------------- DOM

  // el("td", {className: "x"}, "text", node, ...): children are strings
  // (text nodes) or nodes; attributes are set as properties or attributes,
  // never as markup.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "className") e.className = v;
        else if (k === "dataset") Object.assign(e.dataset, v);
        else if (k === "on") for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
        else e.setAttribute(k, v === true ? "" : String(v));
      }
    }
    append(e, children);
    return e;
  }

  function append(parent, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return parent;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    }
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function svgTitle(parent, text) {
    parent.appendChild(svg("title", {}, text));
    return parent;
  }

  // ------------------------------------------------------------- formats

  function fmtTime(t) {
    return typeof t === "string" ? t.replace("T", " ").replace(/Z$/, "") : "";
  }
  function fmtScore(s) {
    return typeof s === "number" && Number.isFinite(s) ? s.toFixed(3) : "";
  }
  function fmtNum(n) {
    return typeof n === "number" && Number.isFinite(n) ? n.toLocaleString("en-US") : "";
  }
  function rank(label) {
    const i = LABELS.indexOf(label);
    return i < 0 ? -1 : i;
  }
  function labelClass(label) {
    return ["normal", "unusual", "likely"][rank(label)] || "unscored";
  }
  function badge(label) {
    return el("span", { className: "badge badge-" + labelClass(label) }, label || "not scored");
  }
  function hostHref(host) {
    const q = carry(["since", "until", "min_label", "min_score"]);
    return "/hosts/" + encodeURIComponent(host) + (q ? "?" + q : "");
  }
  function hostLink(host) {
    return el("a", { href: hostHref(host) }, host);
  }
  function reasonsText(reasons) {
    return (reasons || []).map((r) => r.tag).join(", ");
  }
  function domainsText(domains) {
    return (domains || []).map((d) => d.name + " (" + d.count + ")").join(", ");
  }
  function counted(map) {
    return Object.entries(map || {})
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([k, n]) => k + " ×" + n)
      .join(", ");
  }

  // ------------------------------------------------------------- state

  // The filters live in the URL query, so a view can be shared.
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  function readState() {
    const q = new URLSearchParams(location.search);
    const s = {};
    for (const k of ["since", "until"]) {
      const v = q.get(k);
      if (v && RFC3339.test(v)) s[k] = v;
    }
    const host = q.get("host");
    if (host && host.length <= 64) s.host = host;
    const ml = q.get("min_label");
    if (ml && ml in LABEL_KEYS) s.min_label = ml;
    const ms = q.get("min_score");
    if (ms !== null && ms !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0 && Number(ms) <= 1) s.min_score = ms;
    const st = q.get("state");
    if (st === "open" || st === "closed") s.state = st;
    if (q.get("refresh") === "30") s.refresh = "30";
    return s;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    }
    return q.toString();
  }

  // The query of the current state restricted to `keys`.
  function carry(keys) {
    const s = readState();
    const p = {};
    for (const k of keys) p[k] = s[k];
    if (s.refresh) p.refresh = s.refresh;
    return query(p);
  }

  function setState(next, replace) {
    const q = query(next);
    const url = location.pathname + (q ? "?" + q : "");
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
  }

  // datetime-local (read as UTC) <-> RFC 3339.
  function toInput(t) {
    if (!t) return "";
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 19);
  }
  function fromInput(v) {
    if (!v) return undefined;
    const full = v.length === 16 ? v + ":00" : v.slice(0, 19);
    return RFC3339.test(full + "Z") ? full + "Z" : undefined;
  }

  function fillForm(s, page) {
    form.elements.since.value = toInput(s.since);
    form.elements.until.value = toInput(s.until);
    form.elements.host.value = page.name === "host" ? page.host : s.host || "";
    form.elements.min_label.value = s.min_label || "";
    form.elements.min_score.value = s.min_score || "";
    refreshBox.checked = s.refresh === "30";
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const s = readState();
    const f = form.elements;
    const next = {
      since: fromInput(f.since.value),
      until: fromInput(f.until.value),
      host: f.host.value.trim().slice(0, 64) || undefined,
      min_label: f.min_label.value || undefined,
      min_score: f.min_score.value !== "" ? f.min_score.value : undefined,
      state: s.state,
      refresh: s.refresh,
    };
    const page = currentPage();
    if (page.name === "host") {
      // The host is the page: another host is another page.
      const host = next.host;
      next.host = undefined;
      if (host && host !== page.host) {
        location.assign("/hosts/" + encodeURIComponent(host) + "?" + query(next));
        return;
      }
      if (!host) {
        location.assign("/?" + query(next));
        return;
      }
    }
    setState(next, false);
    render(false);
  });

  document.getElementById("clear").addEventListener("click", () => {
    const s = readState();
    setState({ refresh: s.refresh }, false);
    render(false);
  });

  refreshBox.addEventListener("change", () => {
    const s = readState();
    s.refresh = refreshBox.checked ? "30" : undefined;
    setState(s, true);
    schedule();
  });

  function schedule() {
    if (timer) clearInterval(timer);
    timer = null;
    if (readState().refresh === "30") {
      timer = setInterval(() => {
        if (!document.hidden) render(true);
      }, REFRESH_MS);
    }
  }

  window.addEventListener("popstate", () => render(false));

  const logout = document.getElementById("logout");
  if (/(^|;\s*)sentineldns_login=1(;|$)/.test(document.cookie)) logout.hidden = false;
  logout.addEventListener("click", async () => {
    try {
      await fetch("/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
    } finally {
      location.assign("/login");
    }
  });

  // ---------------------------------------------------------------- API

  class AuthError extends Error {}

  async function api(path, params) {
    const q = query(params || {});
    const r = await fetch("/api/v1/" + path + (q ? "?" + q : ""), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (r.status === 401) throw new AuthError("not logged in");
    let body;
    try {
      body = await r.json();
    } catch (_) {
      throw new Error("HTTP " + r.status + ": not JSON");
    }
    if (!r.ok) {
      const field = body && body.field ? body.field + ": " : "";
      throw new Error(field + ((body && body.error) || "HTTP " + r.status));
    }
    return body;
  }

  // ---------------------------------------------------------------- CSV

  // One CSV cell: numbers as they are; text always quoted, with a leading
  // ' when it starts with = + - @ tab or CR, so a spreadsheet never reads
  // an attacker's domain name as a formula.
  function csvCell(v) {
    if (v === undefined || v === null) return "";
    if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
    let s = String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return '"' + s.replace(/"/g, '""') + '"';
  }

  function toCsv(columns, rows) {
    const lines = [columns.map((c) => csvCell(c.title)).join(",")];
    for (const r of rows) lines.push(columns.map((c) => csvCell(c.csv ? c.csv(r) : c.value(r))).join(","));
    return lines.join("\r\n") + "\r\n";
  }

  function download(name, text) {
    const blob = new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name, className: "hidden" });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ------------------------------------------------------------- tables

  // columns: [{title, value(row) -> text|number, cell(row) -> node (optional),
  // csv(row) (optional), className}]
  function table(name, columns, rows, opts) {
    const o = opts || {};
    const head = el("tr", null, columns.map((c) => el("th", { scope: "col", className: c.className }, c.title)));
    const body = el("tbody");
    for (const r of rows) {
      const tr = el("tr", { id: o.rowId ? o.rowId(r) : undefined, className: o.rowClass ? o.rowClass(r) : undefined });
      for (const c of columns) {
        const v = c.cell ? c.cell(r) : c.value(r);
        tr.appendChild(el("td", { className: c.className }, typeof v === "number" ? fmtNum(v) : v));
      }
      body.appendChild(tr);
    }
    const t = el("table", { className: "data", dataset: { table: name } }, el("thead", null, head), body);
    const csv = el(
      "button",
      {
        type: "button",
        className: "csv",
        dataset: { csv: name },
        on: {
          click: () => {
            const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
            download("sentineldns-" + name + "-" + stamp + ".csv", toCsv(columns, rows));
          },
        },
      },
      "Download CSV"
    );
    const info = el("span", { className: "muted" }, rows.length + (rows.length === 1 ? " row" : " rows"));
    return el(
      "div",
      { className: "table-block" },
      el("div", { className: "table-tools" }, info, csv),
      rows.length ? el("div", { className: "table-wrap" }, t) : el("p", { className: "empty" }, o.empty || "Nothing matches the filters.")
    );
  }

  function section(title, ...children) {
    return el("section", { className: "card" }, el("h2", null, title), children);
  }

  function errorBox(e) {
    if (e instanceof AuthError) {
      return el("p", { className: "error" }, "Your session has expired or the token is required: ", el("a", { href: "/login" }, "log in"), ".");
    }
    return el("p", { className: "error" }, "Could not load: " + (e && e.message ? e.message : String(e)));
  }

  // A section whose content comes from `load` (errors shown in place).
  async function part(title, load) {
    try {
      return section(title, await load());
    } catch (e) {
      return section(title, errorBox(e));
    }
  }

  // ------------------------------------------------------------- charts

  function timeTicks(t0, t1, n) {
    const out = [];
    for (let i = 0; i <= n; i++) out.push(t0 + ((t1 - t0) * i) / n);
    return out;
  }
  function shortTime(ms, spanMs) {
    const iso = new Date(ms).toISOString();
    return spanMs > 2 * 86400000 ? iso.slice(5, 16).replace("T", " ") : iso.slice(11, 16);
  }
  function legend(items) {
    return el(
      "ul",
      { className: "legend" },
      items.map(([cls, text]) => el("li", null, el("span", { className: "sw " + cls }), text))
    );
  }

  // Verdicts over time: one stacked bar per bucket.
  function verdictChart(data) {
    const W = 960, H = 240, L = 44, R = 10, T = 10, B = 28;
    const buckets = data.buckets || [];
    if (!buckets.length) return el("p", { className: "empty" }, "No windows in this range.");
    const step = data.bucket_secs * 1000;
    const t0 = Date.parse(buckets[0].start);
    const t1 = Date.parse(buckets[buckets.length - 1].start) + step;
    const total = (b) => b.normal + b.unusual + b.likely + b.unscored;
    const max = Math.max(1, ...buckets.map(total));
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (n) => H - B - (n / max) * (H - T - B);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img", "aria-label": "Windows per verdict over time" });
    root.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
    for (const n of [0, Math.round(max / 2), max]) {
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y(n), y2: y(n), class: "grid" }));
      root.appendChild(svg("text", { x: L - 4, y: y(n) + 4, class: "tick", "text-anchor": "end" }, n));
    }
    timeTicks(t0, t1, 4).forEach((t, i, all) => {
      const anchor = i === 0 ? "start" : i === all.length - 1 ? "end" : "middle";
      root.appendChild(svg("text", { x: x(t), y: H - 8, class: "tick", "text-anchor": anchor }, shortTime(t, t1 - t0)));
    });
    const bw = Math.max(1, x(t0 + step) - x(t0) - 1);
    for (const b of buckets) {
      const g = svg("g", { class: "bucket" });
      const bx = x(Date.parse(b.start));
      let acc = 0;
      for (const [key, cls] of [["normal", "normal"], ["unscored", "unscored"], ["unusual", "unusual"], ["likely", "likely"]]) {
        const n = b[key];
        if (!n) continue;
        g.appendChild(svg("rect", { x: bx, width: bw, y: y(acc + n), height: Math.max(0.5, y(acc) - y(acc + n)), class: "bar bar-" + cls }));
        acc += n;
      }
      svgTitle(g, fmtTime(b.start) + ": " + b.normal + " Normal, " + b.unusual + " Unusual, " + b.likely + " Likely Compromise, " + b.unscored + " not scored");
      root.appendChild(g);
    }
    return el(
      "div",
      { className: "chart-block" },
      root,
      legend([["sw-normal", "Normal"], ["sw-unscored", "not scored"], ["sw-unusual", "Unusual"], ["sw-likely", "Likely Compromise"]]),
      el("p", { className: "muted" }, "Windows per " + Math.round(data.bucket_secs / 60) + " min bucket.")
    );
  }

  // A host's score timeline: the score of each window, the Unusual and
  // Likely thresholds of the model that scored each window as step lines,
  // and a marker on every flagged window (linking to its row below).
  function timelineChart(points) {
    const W = 960, H = 260, L = 40, R = 10, T = 12, B = 28;
    const pts = points.filter((p) => p.window_start);
    if (!pts.length) return el("p", { className: "empty" }, "No windows in this range.");
    const t0 = Date.parse(pts[0].window_start);
    const t1 = Math.max(t0 + 60000, Date.parse(pts[pts.length - 1].window_end));
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (s) => H - B - Math.min(1, Math.max(0, s)) * (H - T - B);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart timeline", role: "img", "aria-label": "Score timeline" });
    for (const s of [0, 0.25, 0.5, 0.75, 1]) {
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y(s), y2: y(s), class: s === 0 ? "axis" : "grid" }));
      root.appendChild(svg("text", { x: L - 4, y: y(s) + 4, class: "tick", "text-anchor": "end" }, s.toFixed(2)));
    }
    timeTicks(t0, t1, 4).forEach((t, i, all) => {
      const anchor = i === 0 ? "start" : i === all.length - 1 ? "end" : "middle";
      root.appendChild(svg("text", { x: x(t), y: H - 8, class: "tick", "text-anchor": anchor }, shortTime(t, t1 - t0)));
    });
    // Threshold step lines: one segment per run of windows scored by the
    // same thresholds.
    const thr = svg("g", { class: "thresholds" });
    let run = null;
    const flush = () => {
      if (!run) return;
      for (const [key, cls, name] of [["unusual", "thr-unusual", "Unusual"], ["likely", "thr-likely", "Likely Compromise"]]) {
        const line = svg("line", { x1: x(run.from), x2: Math.max(x(run.to), x(run.from) + 2), y1: y(run[key]), y2: y(run[key]), class: "thr " + cls });
        svgTitle(line, name + " threshold " + run[key].toFixed(3) + " (model " + (run.model || "?") + ")");
        thr.appendChild(line);
      }
      run = null;
    };
    for (const p of pts) {
      if (typeof p.unusual !== "number" || typeof p.likely !== "number") {
        flush();
        continue;
      }
      const from = Date.parse(p.window_start), to = Date.parse(p.window_end);
      if (run && run.unusual === p.unusual && run.likely === p.likely && from - run.to <= run.len * 2) {
        run.to = to;
      } else {
        flush();
        run = { from: from, to: to, len: Math.max(1000, to - from), unusual: p.unusual, likely: p.likely, model: p.model_id };
      }
    }
    flush();
    root.appendChild(thr);
    // Score line, broken where the host was silent for more than two windows.
    const scored = pts.filter((p) => typeof p.score === "number");
    let seg = [], last = null;
    const line = svg("g", { class: "score" });
    const out = () => {
      if (seg.length > 1) line.appendChild(svg("polyline", { points: seg.join(" "), class: "score-line" }));
      seg = [];
    };
    for (const p of scored) {
      const a = Date.parse(p.window_start), b = Date.parse(p.window_end);
      const mid = (a + b) / 2;
      if (last !== null && a - last > 2 * Math.max(1000, b - a)) out();
      seg.push(x(mid).toFixed(1) + "," + y(p.score).toFixed(1));
      last = b;
    }
    out();
    root.appendChild(line);
    if (scored.length <= 400) {
      for (const p of scored) {
        if (rank(p.label) >= 1) continue;
        const mid = (Date.parse(p.window_start) + Date.parse(p.window_end)) / 2;
        root.appendChild(svgTitle(svg("circle", { cx: x(mid), cy: y(p.score), r: 2, class: "pt" }), fmtTime(p.window_start) + " " + (p.label || "") + " " + fmtScore(p.score)));
      }
    }
    // Flagged windows.
    const marks = svg("g", { class: "marks" });
    for (const p of scored) {
      const r = rank(p.label);
      if (r < 1) continue;
      const mid = (Date.parse(p.window_start) + Date.parse(p.window_end)) / 2;
      const a = svg("a", { href: "#w-" + p.id });
      const m = svg("circle", { cx: x(mid), cy: y(p.score), r: 5, class: "mark mark-" + (r === 2 ? "likely" : "unusual") });
      svgTitle(m, fmtTime(p.window_start) + ": " + p.label + ", score " + fmtScore(p.score) + (p.tags && p.tags.length ? " (" + p.tags.join(", ") + ")" : ""));
      a.appendChild(m);
      marks.appendChild(a);
    }
    root.appendChild(marks);
    return el(
      "div",
      { className: "chart-block" },
      root,
      legend([["sw-score", "score"], ["sw-thr-unusual", "Unusual threshold"], ["sw-thr-likely", "Likely threshold"], ["sw-unusual", "Unusual window"], ["sw-likely", "Likely Compromise window"]])
    );
  }

  // Share of lookups per category, normal vs flagged windows, as bars.
  function mixChart(title, names, normal, flagged) {
    const keys = Object.keys(names);
    const sum = (m) => keys.reduce((a, k) => a + (m[k] || 0), 0);
    const nN = sum(normal), nF = sum(flagged);
    const rows = keys.filter((k) => (normal[k] || 0) + (flagged[k] || 0) > 0);
    if (!rows.length) return el("p", { className: "empty" }, "No lookups counted in this range.");
    const W = 480, L = 110, R = 56, rowH = 30, T = 6;
    const H = T + rows.length * rowH + 4;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart mix", role: "img", "aria-label": title });
    const x = (f) => L + f * (W - L - R);
    rows.forEach((k, i) => {
      const y0 = T + i * rowH;
      root.appendChild(svg("text", { x: L - 6, y: y0 + 17, class: "tick", "text-anchor": "end" }, names[k]));
      [[normal, nN, "bar-normal-mix", "normal"], [flagged, nF, "bar-flagged-mix", "flagged"]].forEach(([m, n, cls, which], j) => {
        const f = n ? (m[k] || 0) / n : 0;
        const r = svg("rect", { x: L, y: y0 + 2 + j * 12, width: Math.max(f > 0 ? 1 : 0, x(f) - L), height: 10, class: "bar " + cls });
        svgTitle(r, names[k] + ", " + which + " windows: " + (m[k] || 0) + " lookups (" + (100 * f).toFixed(1) + " %)");
        root.appendChild(r);
        root.appendChild(svg("text", { x: x(f) + 4, y: y0 + 11 + j * 12, class: "val" }, n ? (100 * f).toFixed(1) + " %" : "–"));
      });
    });
    return el(
      "div",
      { className: "chart-block mix-block" },
      el("h3", null, title),
      root,
      legend([["sw-normal-mix", "normal windows (" + fmtNum(nN) + " lookups)"], ["sw-flagged-mix", "flagged windows (" + fmtNum(nF) + " lookups)"]])
    );
  }

  // ------------------------------------------------------------- columns

  const windowColumns = (withHost) =>
    [
      { title: "Start (UTC)", value: (w) => fmtTime(w.window_start), csv: (w) => w.window_start },
      withHost && { title: "Host", value: (w) => w.host, cell: (w) => hostLink(w.host) },
      { title: "Label", value: (w) => w.label || "", cell: (w) => badge(w.label) },
      { title: "Score", value: (w) => fmtScore(w.score), csv: (w) => w.score, className: "num" },
      { title: "Lookups", value: (w) => w.lookups, className: "num" },
      { title: "Reasons", value: (w) => reasonsText(w.reasons), className: "wide" },
      { title: "Top domains", value: (w) => domainsText(w.top_domains), className: "names" },
    ].filter(Boolean);

  // Why an incident has no language-model triage, from its triage_status.
  function triageWhy(status) {
    const st = typeof status === "string" ? status : "off";
    if (st === "off") return "no triage: triage was off for the run that wrote it";
    if (st === "pending") return "triage pending: the model has not answered yet";
    if (st === "breaker_open") return "no triage: the model's circuit breaker was open";
    if (st === "queue_full") return "no triage: the triage queue was full";
    if (st === "shutdown") return "no triage: the sensor stopped before the model answered";
    if (st.startsWith("failed")) return "no triage: the model request failed (" + st + ")";
    if (st.startsWith("invalid_response")) return "no triage: the model's answer was refused (" + st + ")";
    return "no triage: " + st;
  }

  // An incident's triage (attacker-influenced text: only ever text nodes),
  // or why there is none. Triage annotates; the label above stands.
  function triageCell(i) {
    const t = i.triage;
    if (i.triage_status === "ok" && t && typeof t === "object") {
      const actions = Array.isArray(t.recommended_actions) ? t.recommended_actions : [];
      return el(
        "div",
        { className: "triage", dataset: { triage: "ok" } },
        el("div", null, el("strong", { className: "triage-category" }, String(t.category ?? "")), " threat ", el("span", { className: "triage-score" }, String(t.threat_score ?? "")), "/100, confidence ", el("span", { className: "triage-confidence" }, String(t.confidence ?? ""))),
        el("p", { className: "triage-summary" }, String(t.summary ?? "")),
        actions.length ? el("ul", { className: "triage-actions" }, actions.map((a) => el("li", null, String(a)))) : null
      );
    }
    return el("span", { className: "muted triage-none", dataset: { triage: String(i.triage_status ?? "off") } }, triageWhy(i.triage_status));
  }

  function triageText(i) {
    const t = i.triage;
    if (i.triage_status === "ok" && t && typeof t === "object") {
      const actions = Array.isArray(t.recommended_actions) ? t.recommended_actions.join("; ") : "";
      return t.category + " " + t.threat_score + "/100 (" + t.confidence + "): " + t.summary + (actions ? " Actions: " + actions : "");
    }
    return triageWhy(i.triage_status);
  }

  const incidentColumns = [
    { title: "Id", value: (i) => i.id, className: "num" },
    { title: "Host", value: (i) => i.host, cell: (i) => hostLink(i.host) },
    { title: "State", value: (i) => i.state },
    { title: "First seen (UTC)", value: (i) => fmtTime(i.first_seen), csv: (i) => i.first_seen },
    { title: "Last seen (UTC)", value: (i) => fmtTime(i.last_seen), csv: (i) => i.last_seen },
    { title: "Windows", value: (i) => i.windows, className: "num" },
    { title: "Peak label", value: (i) => i.peak_label, cell: (i) => badge(i.peak_label) },
    { title: "Peak score", value: (i) => fmtScore(i.peak_score), csv: (i) => i.peak_score, className: "num" },
    { title: "Reasons", value: (i) => counted(i.reasons), className: "wide" },
    { title: "Domains", value: (i) => counted(i.domains), className: "names" },
    { title: "Explanation", value: (i) => i.explanation, className: "text" },
    { title: "Triage", value: triageText, cell: triageCell, className: "text" },
  ];

  // --------------------------------------------------------------- pages

  function currentPage() {
    const p = location.pathname;
    if (p === "/") return { name: "overview" };
    if (p === "/incidents") return { name: "incidents" };
    if (p.startsWith("/hosts/") && p.length > 7 && p.indexOf("/", 7) < 0) {
      let host;
      try {
        host = decodeURIComponent(p.slice(7));
      } catch (_) {
        host = null;
      }
      if (host && host.length <= 64) return { name: "host", host: host };
    }
    return { name: "missing" };
  }

  async function overview(s) {
    const filt = { host: s.host, since: s.since, until: s.until };
    return Promise.all([
      part("Hosts by worst current verdict", async () => {
        const rows = await api("hosts", { host: s.host, min_label: s.min_label, min_score: s.min_score, limit: 500 });
        return table(
          "hosts",
          [
            { title: "Host", value: (h) => h.host, cell: (h) => hostLink(h.host) },
            { title: "Current label", value: (h) => h.label || "", cell: (h) => badge(h.label) },
            { title: "Score", value: (h) => fmtScore(h.score), csv: (h) => h.score, className: "num" },
            { title: "Latest window (UTC)", value: (h) => fmtTime(h.latest_window), csv: (h) => h.latest_window },
            { title: "Last seen (UTC)", value: (h) => fmtTime(h.last_seen), csv: (h) => h.last_seen },
            { title: "Open incidents", value: (h) => h.open_incidents, className: "num" },
            { title: "Windows", value: (h) => h.windows, className: "num" },
          ],
          rows,
          { rowClass: (h) => "row-" + labelClass(h.label), empty: "No host matches the filters." }
        );
      }),
      part("Verdicts over time", async () => verdictChart(await api("verdicts", filt))),
      part("Open incidents", async () => {
        const page = await api("incidents", { ...filt, state: "open", min_label: s.min_label === "normal" ? undefined : s.min_label, order: "desc", limit: 200 });
        return table("open-incidents", incidentColumns, page.items, { empty: "No open incident matches the filters." });
      }),
      part("Latest windows", async () => {
        const page = await api("windows", { ...filt, min_label: s.min_label, min_score: s.min_score, order: "desc", limit: 100 });
        return table("windows", windowColumns(true), page.items, { rowClass: (w) => "row-" + labelClass(w.label) });
      }),
    ]);
  }

  async function incidentsPage(s) {
    const params = { host: s.host, since: s.since, until: s.until, state: s.state, min_label: s.min_label === "normal" ? undefined : s.min_label, order: "desc", limit: 200 };
    const stateSel = el(
      "select",
      {
        id: "state",
        on: {
          change: (ev) => {
            const next = readState();
            next.state = ev.target.value || undefined;
            setState(next, false);
            render(false);
          },
        },
      },
      el("option", { value: "" }, "open and closed"),
      el("option", { value: "open" }, "open"),
      el("option", { value: "closed" }, "closed")
    );
    stateSel.value = s.state || "";
    const holder = el("div");
    const rows = [];
    const more = el("button", { type: "button", className: "more", hidden: true }, "Load more");
    let cursor = null;
    const load = async () => {
      const page = await api("incidents", { ...params, cursor: cursor });
      rows.push(...page.items);
      cursor = page.next_cursor;
      holder.replaceChildren(table("incidents", incidentColumns, rows, { empty: "No incident matches the filters." }));
      more.hidden = !cursor;
    };
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        await load();
      } catch (e) {
        holder.appendChild(errorBox(e));
      } finally {
        more.disabled = false;
      }
    });
    try {
      await load();
    } catch (e) {
      holder.replaceChildren(errorBox(e));
    }
    return [section("Incidents", el("label", { className: "inline" }, "State ", stateSel), holder, more)];
  }

  const QTYPES = { a: "A", aaaa: "AAAA", txt: "TXT", null: "NULL", any: "ANY", ptr: "PTR", other_common: "MX, SRV, CNAME, …", rare: "other types" };
  const RCODES = { noerror: "NOERROR", nxdomain: "NXDOMAIN", servfail: "SERVFAIL", refused: "REFUSED", other: "other codes", no_response: "no response" };

  async function hostPage(s, host) {
    const range = { since: s.since, until: s.until };
    const minLabel = s.min_label === "likely" ? "likely" : "unusual";
    const head = (async () => {
      try {
        const rows = await api("hosts", { host: host, limit: 1 });
        const h = rows[0];
        const title = el("h1", { className: "host-title" }, "Host ", el("span", { className: "host-name" }, host));
        if (!h) return [title, el("p", { className: "error" }, "No window of this host is stored.")];
        return [
          title,
          el(
            "dl",
            { className: "facts" },
            el("dt", null, "Current label"),
            el("dd", null, badge(h.label), " ", fmtScore(h.score)),
            el("dt", null, "Latest window"),
            el("dd", null, fmtTime(h.latest_window)),
            el("dt", null, "Last seen"),
            el("dd", null, fmtTime(h.last_seen)),
            el("dt", null, "Open incidents"),
            el("dd", null, fmtNum(h.open_incidents)),
            el("dt", null, "Windows stored"),
            el("dd", null, fmtNum(h.windows))
          ),
        ];
      } catch (e) {
        return [el("h1", { className: "host-title" }, "Host ", el("span", { className: "host-name" }, host)), errorBox(e)];
      }
    })();
    const parts = Promise.all([
      part("Score timeline", async () => {
        const pts = await api("hosts/" + encodeURIComponent(host) + "/timeline", { ...range, order: "desc", limit: 1000 });
        pts.reverse();
        const note = pts.length >= 1000 ? el("p", { className: "muted" }, "The latest 1,000 windows; narrow the time range to see older ones.") : null;
        return [timelineChart(pts), note];
      }),
      part("Flagged windows", async () => {
        const page = await api("windows", { host: host, ...range, min_label: minLabel, min_score: s.min_score, order: "desc", limit: 200 });
        const cols = [
          { title: "Start (UTC)", value: (w) => fmtTime(w.window_start), csv: (w) => w.window_start },
          { title: "End (UTC)", value: (w) => fmtTime(w.window_end), csv: (w) => w.window_end },
          { title: "Label", value: (w) => w.label || "", cell: (w) => badge(w.label) },
          { title: "Score", value: (w) => fmtScore(w.score), csv: (w) => w.score, className: "num" },
          {
            title: "Reasons",
            value: (w) => (w.reasons || []).map((r) => r.tag + " (" + r.feature + " " + r.value + ", usual " + r.usual + ")").join("; "),
            cell: (w) => el("ul", { className: "reasons" }, (w.reasons || []).map((r) => el("li", null, el("strong", null, r.tag), " ", r.feature + " " + fmtNum(r.value) + " (usual " + fmtNum(r.usual) + ")"))),
          },
          { title: "Explanation", value: (w) => w.explanation || "", className: "text" },
          { title: "Top domains", value: (w) => domainsText(w.top_domains), className: "names" },
          { title: "Incident", value: (w) => (w.incident_id === null || w.incident_id === undefined ? "" : w.incident_id), className: "num" },
        ];
        return table("flagged-windows", cols, page.items, { rowId: (w) => "w-" + w.id, rowClass: (w) => "row-" + labelClass(w.label), empty: "No flagged window in this range." });
      }),
      part("Top domains", async () => {
        const p = await api("hosts/" + encodeURIComponent(host) + "/profile", { ...range, top: 30 });
        const cols = [
          { title: "Domain", value: (d) => d.name, className: "names" },
          { title: "Lookups", value: (d) => d.lookups, className: "num" },
          { title: "NXDOMAIN", value: (d) => d.nxdomain, className: "num" },
          { title: "Windows", value: (d) => d.windows, className: "num" },
          { title: "Flagged windows", value: (d) => d.flagged_windows, className: "num" },
          { title: "Risk", value: (d) => fmtScore(d.risk), csv: (d) => d.risk, className: "num" },
        ];
        const note = el(
          "p",
          { className: "muted" },
          fmtNum(p.windows) + " windows (" + fmtNum(p.flagged_windows) + " flagged" + (p.truncated ? "; the latest 10,000 only" : "") + "). Lookups are counted in the windows where the name was among the top domains."
        );
        return [
          note,
          table("top-domains", cols, p.top_domains, { empty: "No domain in this range." }),
          el(
            "div",
            { className: "mixes" },
            mixChart("Query types, share of lookups", QTYPES, p.qtypes.normal, p.qtypes.flagged),
            mixChart("Response codes, share of lookups", RCODES, p.rcodes.normal, p.rcodes.flagged)
          ),
        ];
      }),
      part("Incidents of this host", async () => {
        const page = await api("incidents", { host: host, since: s.since, until: s.until, order: "desc", limit: 100 });
        return table("host-incidents", incidentColumns, page.items, { empty: "No incident of this host in this range." });
      }),
    ]);
    const [h, ps] = await Promise.all([head, parts]);
    return [el("div", { className: "host-head" }, h), ...ps];
  }

  async function render(isRefresh) {
    const my = ++generation;
    const s = readState();
    const page = currentPage();
    fillForm(s, page);
    schedule();
    document.getElementById("nav-overview").classList.toggle("active", page.name === "overview");
    document.getElementById("nav-incidents").classList.toggle("active", page.name === "incidents");
    if (!isRefresh) main.replaceChildren(el("p", { className: "status" }, "Loading…"));
    let nodes;
    try {
      if (page.name === "overview") {
        document.title = "sentineldns: overview";
        nodes = await overview(s);
      } else if (page.name === "incidents") {
        document.title = "sentineldns: incidents";
        nodes = await incidentsPage(s);
      } else if (page.name === "host") {
        document.title = "sentineldns: " + page.host;
        nodes = await hostPage(s, page.host);
      } else {
        nodes = [el("p", { className: "error" }, "No such page. "), el("a", { href: "/" }, "Overview")];
      }
    } catch (e) {
      nodes = [errorBox(e)];
    }
    if (my !== generation) return; // a newer render started meanwhile
    const y = window.scrollY;
    main.replaceChildren(...nodes);
    if (isRefresh) window.scrollTo(0, y);
    else if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
    updated.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
    document.body.dataset.ready = String(my);
  }

  render(false);
})();

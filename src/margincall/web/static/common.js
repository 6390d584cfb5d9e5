// margincall dashboard: helpers shared by every page (API calls, number formats, theme, nav).
// Every value from the server goes into the page as text (MC.h and MC.fill build DOM nodes);
// no page parses a string as HTML.
"use strict";

const MC = {
  async api(path, options) {
    const res = await fetch(path, options);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const msg = body && body.error ? body.error : `HTTP ${res.status}`;
      throw new Error(msg);
    }
    return body;
  },
  usd(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    const a = Math.abs(x), s = x < 0 ? "-" : "";
    if (a >= 1e9) return `${s}$${(a / 1e9).toFixed(2)}B`;
    if (a >= 1e6) return `${s}$${(a / 1e6).toFixed(1)}M`;
    if (a >= 1e3) return `${s}$${(a / 1e3).toFixed(1)}k`;
    return `${s}$${a.toFixed(0)}`;
  },
  price(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  },
  pct(x, digits = 2) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return (x > 0 ? "+" : "") + (x * 100).toFixed(digits) + "%";
  },
  int(x) { return x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US"); },
  time(ms) { return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC"; },
  el(id) { return document.getElementById(id); },
  // An element: h("td", { class: "num" }, "text", childNode, ...). Attributes are set as
  // attributes and children (strings, numbers, nodes, arrays of them) are added as text or nodes.
  h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "data") Object.assign(e.dataset, v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  },
  fill(id, nodes) { MC.el(id).replaceChildren(...nodes); },
  // A definition list's <dt>/<dd> pairs from [label, value, class] rows.
  kv(id, rows) {
    MC.fill(id, rows.flatMap(([k, v, cls]) => [MC.h("dt", {}, k), MC.h("dd", { class: cls }, v)]));
  },
  css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); },
  // Plotly layout colours from the current theme.
  layout(extra) {
    const fg = MC.css("--fg"), grid = MC.css("--grid"), panel = MC.css("--panel");
    return Object.assign({
      paper_bgcolor: panel, plot_bgcolor: panel, font: { color: fg, size: 12 },
      margin: { l: 70, r: 20, t: 50, b: 40 }, showlegend: true,
      legend: { orientation: "h", y: 1.0, yanchor: "bottom", x: 0, bgcolor: "rgba(0,0,0,0)" },
      hovermode: "x unified",
      xaxis: { gridcolor: grid }, yaxis: { gridcolor: grid },
    }, extra || {});
  },
  onTheme: [],
  setTheme(t) {
    document.documentElement.dataset.theme = t;
    localStorage.setItem("mc-theme", t);
    const b = MC.el("theme");
    if (b) b.textContent = t === "dark" ? "☀ light" : "☾ dark";
    MC.onTheme.forEach((f) => f());
  },
  header(here) {
    const pages = [["/", "Runs"], ["/stress", "Stress"], ["/monitor", "Monitor"]];
    const nav = pages.map(([h, n]) => MC.h("a", { href: h, class: h === here ? "here" : "" }, n));
    document.body.prepend(MC.h("header", {}, MC.h("span", { class: "brand" }, "margincall"),
      MC.h("nav", {}, nav), MC.h("span", { class: "spacer" }),
      MC.h("a", { class: "muted", href: "/openapi.json" }, "API schema"),
      MC.h("button", { id: "theme", type: "button" })));
    MC.el("theme").addEventListener("click", () =>
      MC.setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
    MC.setTheme(localStorage.getItem("mc-theme") || "dark");
  },
};

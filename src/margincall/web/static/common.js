// margincall dashboard: helpers shared by every page (API calls, number formats, theme, nav).
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
  esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
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
    const nav = pages.map(([h, n]) => `<a href="${h}" class="${h === here ? "here" : ""}">${n}</a>`).join("");
    document.body.insertAdjacentHTML("afterbegin",
      `<header><span class="brand">margincall</span><nav>${nav}</nav><span class="spacer"></span>` +
      `<a class="muted" href="/openapi.json">API schema</a><button id="theme" type="button"></button></header>`);
    MC.el("theme").addEventListener("click", () =>
      MC.setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
    MC.setTheme(localStorage.getItem("mc-theme") || "dark");
  },
};

// Monitor page: the market stress report (the monitor command's summary, tables and metrics)
// of one data file under --data.
"use strict";
MC.header("/monitor");
let R = null;

function table(id, rows) {
  MC.fill(id, rows.map(([k, v, note]) =>
    MC.h("tr", {}, MC.h("td", {}, k), MC.h("td", { class: "num" }, v), MC.h("td", { class: "muted" }, note || ""))));
}
function list(id, items) {
  MC.fill(id, items.length ? items.map((s) => MC.h("li", {}, s)) : [MC.h("li", { class: "muted" }, "none")]);
}

function draw() {
  if (!R) return;
  const m = R.metrics, g = MC.css("--grid"), x = m.ts;
  const ax = (domain, t, fmt) => ({ domain, title: { text: t, font: { size: 11 } }, gridcolor: g, tickformat: fmt || "~s" });
  const tr = [
    { x, y: m.close, name: "close (USD)", type: "scatter", mode: "lines", line: { color: MC.css("--accent") }, yaxis: "y" },
    { x, y: (m.liq_long_usd || []).map((v) => -(v || 0)), name: "long liquidated (USD)", type: "bar", marker: { color: MC.css("--long") }, yaxis: "y2" },
    { x, y: m.liq_short_usd || [], name: "short liquidated (USD)", type: "bar", marker: { color: MC.css("--short") }, yaxis: "y2" },
    { x, y: m.oi_usd || [], name: "open interest (USD)", type: "scatter", mode: "lines", line: { color: "#40c4c4" }, yaxis: "y3" },
    { x, y: m.sentiment || [], name: "sentiment (0-100)", type: "scatter", mode: "lines", line: { color: MC.css("--warn") }, yaxis: "y4" },
  ];
  Plotly.react("chart", tr, MC.layout({ barmode: "relative", bargap: 0,
    xaxis: { type: "date", gridcolor: g, anchor: "y4" },
    yaxis: ax([0.55, 1], "price $", ",.0f"), yaxis2: ax([0.33, 0.52], "liquidated $"),
    yaxis3: ax([0.16, 0.30], "OI $"), yaxis4: ax([0, 0.13], "sentiment", "d") }),
  { displaylogo: false, responsive: true });
}

async function load() {
  const name = MC.el("file").value;
  if (!name) return;
  MC.el("error").textContent = "";
  MC.el("status").textContent = "computing the report…";
  try {
    R = await MC.api(`/api/monitor/${encodeURIComponent(name)}`);
    MC.el("report-title").textContent = `${R.symbol} market stress report, ${R.at}`;
    list("sentences", R.sentences);
    table("t-headline", R.tables.headline);
    table("t-liquidations", R.tables.liquidations);
    table("t-sentiment", R.tables.sentiment);
    list("watch", R.watch);
    list("warnings", R.warnings.map((w) => `${w.kind} (${w.column}): ${w.message}`));
    MC.el("status").textContent = `${MC.int(R.metrics.ts.length)} bars`;
    draw();
  } catch (e) { MC.el("error").textContent = e.message; MC.el("status").textContent = ""; }
}

(async () => {
  try {
    const files = await MC.api("/api/data");
    MC.fill("file", files.map((f) => MC.h("option", { value: f.name }, `${f.name} (${(f.bytes / 1024).toFixed(0)} kB)`)));
    if (!files.length) MC.el("status").textContent = "no .csv or .parquet files under --data (start the server with --data DIR)";
    MC.el("file").addEventListener("change", load);
    MC.onTheme.push(draw);
    await load();
  } catch (e) { MC.el("error").textContent = e.message; }
  document.body.dataset.ready = "1";
})();

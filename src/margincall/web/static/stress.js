// Stress page: a liquidation map (a run's or a preset's start state) and a shock slider that
// asks the API for the estimated cascade (final price, liquidated long and short) as it moves.
"use strict";
MC.header("/stress");
let MAP = null, last = null, seq = 0, pending = null;

function query() {
  const v = MC.el("source").value, q = new URLSearchParams();
  const [kind, name] = [v.slice(0, v.indexOf(":")), v.slice(v.indexOf(":") + 1)];
  if (kind === "run") q.set("run", name);
  else { q.set("preset", name); q.set("seed", MC.el("seed").value); q.set("accounts", MC.el("accounts").value); }
  return q;
}

function drawMap() {
  if (!MAP) return;
  const e = MAP.bin_edges, mid = e.slice(0, -1).map((x, i) => (x + e[i + 1]) / 2);
  const shapes = [{ type: "line", x0: MAP.reference_price, x1: MAP.reference_price, yref: "paper", y0: 0, y1: 1, line: { color: MC.css("--muted"), dash: "dot" } }];
  if (last) shapes.push({ type: "line", x0: last.price, x1: last.price, yref: "paper", y0: 0, y1: 1, line: { color: MC.css("--accent"), width: 2 } });
  Plotly.react("map", [
    { x: mid, y: MAP.long_usd, type: "bar", name: "long notional by liquidation price (USD)", marker: { color: MC.css("--long") } },
    { x: mid, y: MAP.short_usd, type: "bar", name: "short notional by liquidation price (USD)", marker: { color: MC.css("--short") } },
  ], MC.layout({ barmode: "overlay", bargap: 0, shapes,
    xaxis: { title: { text: "liquidation price (USD); dotted: reference, blue: after the cascade" }, gridcolor: MC.css("--grid"), tickformat: ",.0f" },
    yaxis: { title: { text: "notional USD" }, gridcolor: MC.css("--grid"), tickformat: "~s" } }),
  { displaylogo: false, responsive: true });
}

async function update() {
  if (!MAP) return;
  const shock = Number(MC.el("shock").value) / 100, mine = ++seq;
  MC.el("shock-label").textContent = MC.pct(shock, 1);
  const q = query(); q.set("shock", String(shock)); q.set("depth_scale", MC.el("depth").value);
  q.set("refill", MC.el("refill").value);
  try {
    const r = await MC.api(`/api/stress/cascade?${q}`);
    if (mine !== seq) return; // a newer slider position is on its way
    last = r;
    MC.el("final-price").textContent = MC.price(r.price);
    MC.el("final-move").textContent = `move ${MC.pct(r.final_move)} (shock ${MC.pct(r.shock, 1)})`;
    MC.el("long-liq").textContent = MC.usd(r.long_liquidated_usd);
    MC.el("short-liq").textContent = MC.usd(r.short_liquidated_usd);
    MC.el("rounds").textContent = r.rounds + (r.converged ? "" : " (cap)");
    const bound = r.final_move <= -0.99 || r.final_move >= 9.99;
    MC.el("note").textContent = bound
      ? "The cascade ran to the price bound: with this depth and refill the book cannot absorb the forced flow. Try a deeper book or more refill."
      : `Fixed point of shock → liquidations → impact, one side per move, book re-centred on the shocked price, ${r.refill ? MC.pct(r.refill, 0) + " of the consumed depth refilled before each round" : "no refill"}.`;
    MC.el("shock").dataset.shown = String(shock);
    drawMap();
  } catch (e) { MC.el("error").textContent = e.message; }
}

function schedule() { clearTimeout(pending); pending = setTimeout(update, 40); }

async function loadMap(ev) {
  if (ev) ev.preventDefault();
  MC.el("error").textContent = "";
  MC.el("map-source").textContent = "building the map…";
  try {
    MAP = await MC.api(`/api/stress/map?${query()}`);
    MC.el("map-source").textContent = MAP.source;
    const imp = MAP.impact || {};
    MC.kv("totals", [["reference price", MC.price(MAP.reference_price)],
      ["long notional", MC.usd(MAP.long_total_usd)], ["short notional", MC.usd(MAP.short_total_usd)],
      ["impact", imp.impact || "–"], ["±1% depth", MC.usd(imp.depth_1pct_usd)], ["depth exponent", imp.beta ?? "–"]]);
    last = null;
    await update();
  } catch (e) { MC.el("error").textContent = e.message; MC.el("map-source").textContent = ""; }
}

(async () => {
  try {
    const [runs, presets] = await Promise.all([MC.api("/api/runs"), MC.api("/api/presets")]);
    const want = new URLSearchParams(location.search).get("run");
    MC.fill("source", [
      ...runs.map((r) => MC.h("option", { value: `run:${r.name}`, selected: r.name === want }, `run ${r.name}`)),
      ...presets.map((p) => MC.h("option", { value: `preset:${p.name}`, selected: !want && !runs.length && p.name === "flash-crash" },
        `preset ${p.name} (start state)`))]);
    const isPreset = () => MC.el("source").value.startsWith("preset:");
    const toggle = () => { MC.el("seed").disabled = MC.el("accounts").disabled = !isPreset(); };
    MC.el("source").addEventListener("change", () => { toggle(); loadMap(); });
    toggle();
    MC.el("source-form").addEventListener("submit", loadMap);
    MC.el("shock").addEventListener("input", schedule);
    MC.el("depth").addEventListener("change", update);
    MC.el("refill").addEventListener("change", update);
    MC.onTheme.push(drawMap);
    await loadMap();
  } catch (e) { MC.el("error").textContent = e.message; }
  document.body.dataset.ready = "1";
})();

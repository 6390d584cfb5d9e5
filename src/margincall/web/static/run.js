// Run page: replay of a run's bars (price, liquidations by side, ±1% depth, open interest,
// insurance fund, ADL events) with play, pause and a time slider, and the run's summary.
// A market run has a venue and an asset selector: the replay shows one venue's instrument.
"use strict";
MC.header("");
const NAME = decodeURIComponent(location.pathname.split("/").pop());
let S = null, frame = 0, timer = null;

function cum(a, n) { let s = 0; for (let i = 0; i <= n && i < a.length; i++) s += a[i] || 0; return s; }

function traces(n) {
  const x = S.ts.slice(0, n + 1), cut = (k) => (S[k] || []).slice(0, n + 1);
  const long = cut("liq_long_usd").map((v) => -(v || 0)), short = cut("liq_short_usd");
  const last = S.ts[n];
  const adlI = S.adl.ts.map((t, i) => i).filter((i) => S.adl.ts[i] <= last);
  return [
    { x, y: cut("close"), name: "price (USD)", type: "scatter", mode: "lines", line: { color: MC.css("--accent"), width: 1.6 }, yaxis: "y" },
    { x: adlI.map((i) => S.adl.ts[i]), y: adlI.map((i) => S.adl.price[i]), name: "ADL", type: "scatter", mode: "markers",
      marker: { symbol: "x", size: 8, color: MC.css("--warn") }, yaxis: "y",
      customdata: adlI.map((i) => MC.usd(S.adl.notional_usd[i])), hovertemplate: "ADL %{customdata}<extra></extra>" },
    { x, y: long, name: "long liquidated (USD)", type: "bar", marker: { color: MC.css("--long") }, yaxis: "y2",
      customdata: long.map((v) => MC.usd(-v)), hovertemplate: "long %{customdata}<extra></extra>" },
    { x, y: short, name: "short liquidated (USD)", type: "bar", marker: { color: MC.css("--short") }, yaxis: "y2",
      customdata: short.map((v) => MC.usd(v)), hovertemplate: "short %{customdata}<extra></extra>" },
    { x, y: cut("depth_1pct_usd"), name: "±1% depth (USD)", type: "scatter", mode: "lines", line: { color: "#9b7bff" }, yaxis: "y3" },
    { x, y: cut("open_interest_usd"), name: "open interest (USD)", type: "scatter", mode: "lines", line: { color: "#40c4c4" }, yaxis: "y4" },
    { x, y: cut("insurance_fund_usd"), name: "insurance fund (USD)", type: "scatter", mode: "lines", line: { color: MC.css("--warn") }, yaxis: "y5" },
  ];
}

function range(k) {
  const v = (S[k] || []).filter((x) => x !== null && isFinite(x));
  if (!v.length) return [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  if (hi === lo) { hi += Math.abs(hi) * 0.01 + 1; lo -= Math.abs(lo) * 0.01 + 1; }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function layout() {
  const g = MC.css("--grid");
  const liqMax = Math.max(1, ...S.liq_long_usd.map((v) => v || 0), ...S.liq_short_usd.map((v) => v || 0));
  const ax = (domain, title, r, fmt) => ({ domain, title: { text: title, font: { size: 11 } }, gridcolor: g, range: r, tickformat: fmt || "~s", fixedrange: true });
  return MC.layout({
    barmode: "relative", bargap: 0,
    xaxis: { type: "date", range: [S.ts[0], S.ts[S.ts.length - 1]], gridcolor: g, anchor: "y5" },
    yaxis: ax([0.60, 1], "price $", range("close"), ",.0f"),
    yaxis2: ax([0.43, 0.57], "liquidated $", [-liqMax * 1.1, liqMax * 1.1]),
    yaxis3: ax([0.29, 0.40], "±1% depth $", range("depth_1pct_usd")),
    yaxis4: ax([0.145, 0.26], "OI $", range("open_interest_usd")),
    yaxis5: ax([0, 0.115], "fund $", range("insurance_fund_usd")),
    margin: { l: 80, r: 20, t: 60, b: 30 },
  });
}

function draw() {
  Plotly.react("chart", traces(frame), layout(), { displaylogo: false, responsive: true });
  MC.el("chart").dataset.frame = String(frame);
  MC.el("slider").value = String(frame);
  const t = S.ts[frame];
  MC.el("clock").textContent = `${MC.time(t)} · bar ${frame + 1} of ${S.ts.length}`;
  const adl = S.adl.ts.filter((x) => x <= t).length;
  MC.kv("now", [
    ["time", MC.time(t)], ["price", MC.price(S.close[frame])],
    ["move since start", MC.pct(S.close[frame] / S.close[0] - 1)],
    ["long liquidated so far", MC.usd(cum(S.liq_long_usd, frame)), "long"],
    ["short liquidated so far", MC.usd(cum(S.liq_short_usd, frame)), "short"],
    ["±1% depth", MC.usd(S.depth_1pct_usd[frame])], ["open interest", MC.usd(S.open_interest_usd[frame])],
    ["insurance fund", MC.usd(S.insurance_fund_usd[frame])], ["ADL events so far", MC.int(adl)],
  ]);
}

function play() {
  if (timer) return;
  if (frame >= S.ts.length - 1) frame = 0;
  MC.el("chart").dataset.playing = "1";
  timer = setInterval(() => {
    const step = Math.max(1, Math.round(S.ts.length / 400)) * Number(MC.el("speed").value);
    frame = Math.min(S.ts.length - 1, frame + step);
    draw();
    if (frame >= S.ts.length - 1) pause();
  }, 60);
}

function pause() {
  clearInterval(timer); timer = null;
  MC.el("chart").dataset.playing = "0";
}

async function loadPair(venue, symbol) {
  // no venue and symbol: the server's default pair (the first venue, BTC)
  const q = venue === undefined ? "" : "?" + new URLSearchParams({ venue, symbol });
  MC.el("error").textContent = "";
  try {
    S = await MC.api(`/api/runs/${encodeURIComponent(NAME)}/series${q}`);
  } catch (e) {
    MC.el("error").textContent = e.message;
    return;
  }
  MC.el("slider").max = String(S.ts.length - 1);
  frame = Math.min(frame, S.ts.length - 1);
  MC.el("chart").dataset.pair = `${S.venue}/${S.symbol}`;
  draw();
}

function marketSummary(s) {
  const m = s.market || {}, big = m.largest_liquidation || {};
  const rows = [
    ["liquidated (market)", MC.usd(m.liquidated_usd)],
    ["long liquidated", MC.usd(m.long_usd), "long"], ["short liquidated", MC.usd(m.short_usd), "short"],
    ["long share", MC.pct(m.long_share, 0)], ["traders liquidated", MC.int(m.traders_liquidated)],
    ["largest liquidation", `${MC.usd(big.usd)} (${big.symbol} on ${big.venue})`],
  ];
  for (const [v, x] of Object.entries(s.by_venue || {})) {
    rows.push([`${v}: liquidated`, MC.usd((x.long_usd || 0) + (x.short_usd || 0))],
      [`${v}: fund used, ADL`, `${MC.usd(x.fund_used_usd)}, ${MC.int(x.adl_events)} events`]);
  }
  for (const [a, x] of Object.entries(s.by_asset || {})) {
    const g = x.gap_between_venues || {};
    rows.push([`${a}: largest gap between venues`, g.max_pct === null || g.max_pct === undefined ? "–" : `${g.max_pct.toFixed(3)}%`]);
  }
  rows.push(["money conserved", (s.invariants || {}).every_venue_and_market_money ? "yes" : "NO"],
    ["wall time", `${s.wall_seconds} s`]);
  MC.kv("summary", rows);
}

async function market(run) {
  const pairs = run.pairs;
  MC.el("pair").hidden = false;
  MC.el("stress-link").parentElement.hidden = true;
  marketSummary(run.summary);
  await loadPair();
  const fillAssets = (v) => MC.fill("asset", pairs[v].map((s) => MC.h("option", { value: s }, s)));
  MC.fill("venue", Object.keys(pairs).map((v) => MC.h("option", { value: v }, v)));
  MC.el("venue").value = S.venue;
  fillAssets(S.venue);
  MC.el("asset").value = S.symbol;
  MC.el("venue").addEventListener("change", async () => {
    pause();
    const keep = MC.el("asset").value;
    fillAssets(MC.el("venue").value);
    if (pairs[MC.el("venue").value].includes(keep)) MC.el("asset").value = keep;
    await loadPair(MC.el("venue").value, MC.el("asset").value);
  });
  MC.el("asset").addEventListener("change", async () => {
    pause();
    await loadPair(MC.el("venue").value, MC.el("asset").value);
  });
}

(async () => {
  try {
    const run = await MC.api(`/api/runs/${encodeURIComponent(NAME)}`);
    const h = run.headline, s = run.summary;
    document.title = `margincall · ${NAME}`;
    MC.el("title").textContent = `${NAME}: ${h.scenario}, seed ${h.seed}, ${h.hours} h, ${MC.int(h.accounts)} accounts, ${h.rulebook}`;
    MC.el("slider").addEventListener("input", (e) => { pause(); frame = Number(e.target.value); draw(); });
    MC.el("play").addEventListener("click", play);
    MC.el("pause").addEventListener("click", pause);
    MC.onTheme.push(() => S && draw());
    if (run.pairs) {
      await market(run);
      document.body.dataset.ready = "1";
      return;
    }
    S = await MC.api(`/api/runs/${encodeURIComponent(NAME)}/series`);
    MC.el("stress-link").href = `/stress?run=${encodeURIComponent(NAME)}`;
    const liq = s.liquidations || {}, fund = s.insurance_fund_usd || {}, oi = s.open_interest_usd || {};
    MC.kv("summary", [
      ["start price", MC.price(h.price_start)], ["low", MC.price(h.price_min)], ["end", MC.price(h.price_end)],
      ["max drawdown", MC.pct(h.max_drawdown)],
      ["long liquidated", MC.usd(liq.long_usd), "long"], ["short liquidated", MC.usd(liq.short_usd), "short"],
      ["accounts liquidated", MC.int(liq.accounts)], ["largest liquidation", MC.usd(liq.largest_usd)],
      ["peak hour", MC.usd(liq.peak_hour_usd)],
      ["open interest", `${MC.usd(oi.start)} → ${MC.usd(oi.end)}`],
      ["insurance fund low", MC.usd(fund.min)], ["ADL", `${MC.int((s.adl || {}).events)} events, ${MC.usd((s.adl || {}).notional_usd)}`],
      ["money conserved", (s.invariants || {}).money_conserved ? "yes" : "NO"],
      ["wall time", `${s.wall_seconds} s`],
    ]);
    MC.el("slider").max = String(S.ts.length - 1);
    draw();
  } catch (e) {
    MC.el("error").textContent = e.message;
  }
  document.body.dataset.ready = "1";
})();

// Runs page: the run folders with headline figures, and the new-run form with progress.
"use strict";
MC.header("/");
let presets = [];

async function loadRuns() {
  const [info, runs] = await Promise.all([MC.api("/api/info"), MC.api("/api/runs")]);
  MC.el("runs-folder").textContent = info.runs_folder;
  const td = (cls, v) => MC.h("td", { class: cls }, v);
  const rows = runs.map((r) => MC.h("tr", { data: { run: r.name } },
    // a monitor folder (report.md) opens as its report page, kept current
    MC.h("td", {}, MC.h("a", { href: `/${r.report ? "reports" : "runs"}/${encodeURIComponent(r.name)}` }, r.name)),
    td("", r.market ? `${r.scenario} (market: ${r.venues.join(", ")})`
      : r.scenario || (r.report ? "market report" : "–")), td("num", MC.int(r.seed)),
    td("num", `${r.hours ?? "–"} h`), td("num", MC.int(r.accounts)),
    td("num", MC.price(r.price_start)), td("num", MC.price(r.price_min)),
    td("num", MC.pct(r.max_drawdown)),
    td("num long", MC.usd(r.liquidated_long_usd)), td("num short", MC.usd(r.liquidated_short_usd)),
    td("num", MC.usd(r.insurance_fund_min_usd)), td("num", MC.int(r.adl_events))));
  document.querySelector("#runs tbody").replaceChildren(...rows);
  MC.el("runs-empty").hidden = runs.length > 0;
}

function describePreset() {
  const p = presets.find((x) => x.name === MC.el("preset").value);
  if (p) MC.el("preset-desc").textContent =
    `${p.description}. Preset default: ${p.hours} h, ${MC.int(p.accounts)} accounts, ` +
    `start ${MC.price(p.start_price)}, open interest ${MC.usd(p.open_interest_usd)}.`;
}

async function watch(job) {
  const bar = MC.el("progress"), label = MC.el("job");
  bar.hidden = false;
  for (;;) {
    label.textContent = `${job.name}: ${job.state}, ${(job.progress * 100).toFixed(0)}%, ` +
      `${MC.int(job.liquidations)} liquidations, ${job.elapsed_seconds} s`;
    bar.value = job.progress;
    if (job.state !== "running") break;
    await new Promise((r) => setTimeout(r, 700));
    job = await MC.api(`/api/jobs/${job.id}`);
  }
  MC.el("start").disabled = false;
  if (job.state === "done") {
    const a = MC.el("open-run");
    a.href = `/runs/${encodeURIComponent(job.name)}`;
    a.textContent = `Open ${job.name} →`;
    a.hidden = false;
    loadRuns();
  } else {
    MC.el("run-error").textContent = job.error || "the run failed";
  }
}

MC.el("run-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  MC.el("run-error").textContent = "";
  MC.el("open-run").hidden = true;
  const body = {
    preset: MC.el("preset").value,
    hours: Number(MC.el("hours").value),
    accounts: Number(MC.el("accounts").value),
    seed: Number(MC.el("seed").value),
  };
  MC.el("start").disabled = true;
  try {
    const job = await MC.api("/api/runs", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    await watch(job);
  } catch (e) {
    MC.el("run-error").textContent = e.message;
    MC.el("start").disabled = false;
  }
});

(async () => {
  try {
    presets = await MC.api("/api/presets");
    MC.fill("preset", presets.map((p) =>
      MC.h("option", { value: p.name, selected: p.name === "flash-crash" }, p.name)));
    MC.el("preset").addEventListener("change", describePreset);
    describePreset();
    await loadRuns();
    const running = (await MC.api("/api/jobs")).find((j) => j.state === "running");
    if (running) { MC.el("start").disabled = true; watch(running); }
  } catch (e) {
    MC.el("run-error").textContent = e.message;
  }
  document.body.dataset.ready = "1";
})();

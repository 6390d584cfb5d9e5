// Report page: the latest report.md of a monitor folder under --runs (a watched folder that
// `margincall monitor --every` rewrites), shown as text and fetched again every few seconds
// with If-None-Match: the server answers 304 while the report is unchanged.
"use strict";
MC.header("");
const NAME = decodeURIComponent(location.pathname.split("/").pop());
const asked = Number(new URLSearchParams(location.search).get("every"));
const EVERY = Number.isFinite(asked) && asked >= 1 && asked <= 600 ? asked : 5;  // seconds
let etag = null, versions = 0;

async function check() {
  try {
    const res = await fetch(`/api/runs/${encodeURIComponent(NAME)}/report`,
      { headers: etag ? { "If-None-Match": etag } : {}, cache: "no-store" });
    const now = new Date().toISOString().slice(11, 19) + " UTC";
    if (res.status === 304) {
      MC.el("status").textContent = `version ${versions}, unchanged at ${now}`;
    } else if (res.ok) {
      MC.el("report").textContent = await res.text();  // text, never markup
      etag = res.headers.get("ETag");
      versions += 1;
      document.body.dataset.versions = String(versions);
      const modified = res.headers.get("Last-Modified") || "?";
      MC.el("status").textContent = `version ${versions}, written ${modified}, read at ${now}`;
    } else {
      let msg = `HTTP ${res.status}`;
      try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    MC.el("error").textContent = "";
  } catch (e) { MC.el("error").textContent = `${e.message} (the last version read stays shown)`; }
}

(async () => {
  MC.el("title").textContent = `Report: ${NAME}`;
  document.title = `margincall · ${NAME}`;
  MC.el("every").textContent = String(EVERY);
  await check();
  setInterval(check, EVERY * 1000);
  document.body.dataset.ready = "1";
})();

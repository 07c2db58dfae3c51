// Finished jobs with duration and outcome (GET /api/jobs), filtered by outcome, text and time.
import { h, setText } from "./dom.js";
import { duration, clockText } from "./format.js";
import { finishedJobs, filterJobs } from "./state.js";

const SINCE = { "": 0, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
let rows = [];
let ui = null;

export function setUpJobHistory(root, fetchJobs) {
  ui = {
    list: root.querySelector("#job-history"), outcome: root.querySelector("#jf-outcome"),
    text: root.querySelector("#jf-text"), since: root.querySelector("#jf-since"), status: root.querySelector("#jf-status"),
  };
  for (const n of [ui.outcome, ui.since]) n.addEventListener("change", render);
  ui.text.addEventListener("input", render);
  ui.reload = async () => {
    try {
      rows = finishedJobs(await fetchJobs());
      render();
    } catch (err) {
      setText(ui.status, `Could not load jobs: ${err.message}`);
    }
  };
  ui.reload();
}

// A job reached a terminal state on the stream: the list is read again from the server.
export function jobFinished() { if (ui) ui.reload(); }

function render() {
  const since = SINCE[ui.since.value] ? Date.now() - SINCE[ui.since.value] : 0;
  const shown = filterJobs(rows, { outcome: ui.outcome.value, text: ui.text.value, since });
  setText(ui.status, `${shown.length} of ${rows.length} finished jobs`);
  ui.list.replaceChildren(...shown.map((j) => h("li", { "data-job-key": j.key, "data-outcome": j.outcome },
    h("span", { class: "state", text: j.outcome }), " ", h("strong", { text: j.name }),
    j.durationMs != null ? ` · took ${duration(j.durationMs / 1000)}` : "",
    j.finishedAt ? ` · ended ${clockText(new Date(j.finishedAt).toISOString())}` : "",
    j.message ? ` — ${j.message}` : "")));
}

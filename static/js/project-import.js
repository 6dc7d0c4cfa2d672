// The import page: send the chosen file to the import API, then follow the job until it ends, showing its
// progress, its counts and the rows it refused (by line number).
import { api, ApiError, announce, h } from "./api.js";

const POLL_MS = 400;
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

const form = document.getElementById("import-form");
const panel = document.getElementById("import-status");
const bar = document.getElementById("import-progress");
const label = document.getElementById("import-progress-label");
const counts = document.getElementById("import-counts");
const errors = document.getElementById("import-errors");

function showErrors(title, items) {
  errors.replaceChildren();
  if (!items.length) return;
  errors.append(
    h("div", { class: "alert alert-block", role: "alert" },
      h("strong", { text: title }),
      h("ul", { class: "error-summary" },
        items.map((e) => h("li", {},
          e.line ? h("strong", { text: `Line ${e.line}` }) : null,
          e.line ? " " : null,
          e.field ? h("code", { text: e.field }) : null,
          e.field ? ": " : null,
          e.message)))));
}

function show(job) {
  const percent = Math.round((job.progress ?? 0) * 100);
  bar.value = percent;
  bar.textContent = `${percent}%`;
  label.textContent = ENDED.has(job.state) ? `Import ${job.state}` : `Importing… ${percent}%`;
  panel.dataset.state = job.state;
  counts.textContent =
    `${job.rows_read} rows read · ${job.created_count} created · ${job.updated_count} updated · ` +
    `${job.unchanged_count} unchanged · ${job.error_count} errors`;
  const problems = job.errors ?? [];
  if (job.state === "failed") {
    showErrors(job.message || "Nothing was imported.", problems.length ? problems : [{ message: "See the job's message." }]);
  } else {
    showErrors(`${job.error_count} row${job.error_count === 1 ? "" : "s"} skipped`, problems);
  }
}

async function follow(id) {
  for (;;) {
    const { data: job } = await api("GET", `imports/${id}`);
    show(job);
    if (ENDED.has(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const body = new FormData(form);
  if (!body.get("format")) body.delete("format");
  form.querySelectorAll(".field-error").forEach((e) => e.remove());
  button.disabled = true;
  panel.hidden = false;
  bar.value = 0;
  label.textContent = "Uploading…";
  counts.textContent = "";
  errors.replaceChildren();
  try {
    const { data: job } = await api("POST", `projects/${form.dataset.project}/imports/`, body);
    show(job);
    const end = await follow(job.id);
    // The history table below reloads itself (htmx) on this event.
    document.body.dispatchEvent(new CustomEvent("import-ended"));
    announce(`Import ${end.state}: ${end.created_count} tasks created, ${end.error_count} errors.`);
  } catch (error) {
    panel.dataset.state = "failed";
    label.textContent = "The import could not start";
    const problems = error instanceof ApiError && error.body?.errors?.length ? error.body.errors : [{ message: error.message }];
    showErrors("Nothing was imported.", problems);
    announce(error.message, "error");
  } finally {
    button.disabled = false;
  }
});

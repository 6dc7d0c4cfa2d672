// The reviewer's page: annotations waiting for review one at a time, oldest first, shown as the annotator saw the
// task, with the answer in the same fields (read-only), and the other annotators' answers beside it. Accept,
// reject with a comment (back to the annotator or the pool, as the project says), or correct it.

import { api, ApiError, announce, h } from "../api.js";
import { Labeller, taskBody } from "./fields.js";
import { humanize, imageSource } from "./content.js";
import { page, schema, settings, typing } from "./page.js";

const { root, content: contentPanel, fields: fieldsPanel, notice, guidelines } = page;
const othersPanel = document.getElementById("others");
const comment = document.getElementById("review-comment");
const buttons = {
  accept: document.getElementById("accept"),
  reject: document.getElementById("reject"),
  correct: document.getElementById("correct"),
};

let queue = [];
let item = null; // {annotation, labeller, correcting}
let decided = 0;
let busy = false;

function drawLabeller(annotation, readOnly) {
  const imageUrl = imageSource(annotation.task.data, `annotations/${annotation.id}/media`);
  const labeller = new Labeller(schema, annotation.task.data, { readOnly, imageUrl });
  labeller.setValue(annotation.result);
  contentPanel.replaceChildren(taskBody(schema, labeller, annotation.task.data, { imageUrl }));
  fieldsPanel.replaceChildren(h("div", { class: "fields-body" }, labeller.widgets.map((w) => w.element)));
  return labeller;
}

function summary(value) {
  if (value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

async function showOthers(annotation) {
  othersPanel.replaceChildren(h("p", { class: "muted", text: "Loading the other answers…" }));
  try {
    const { data } = await api("GET", `tasks/${annotation.task.id}/annotations/`);
    const others = (data.results ?? data).filter((a) => a.id !== annotation.id && a.kind !== "correction" && a.review_state !== "superseded");
    if (!others.length) {
      othersPanel.replaceChildren(h("p", { class: "muted", text: "No other answers to this task yet." }));
      return;
    }
    othersPanel.replaceChildren(
      h(
        "table",
        { class: "table table-compact" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Field" }), others.map((o) => h("th", { scope: "col", text: o.annotator?.pseudonym ?? "Annotator" })))),
        h(
          "tbody",
          {},
          schema.fields.map((field) =>
            h("tr", {}, h("th", { scope: "row", text: field.label || humanize(field.name) }), others.map((o) => h("td", { text: summary(o.result?.[field.name]) }))),
          ),
        ),
      ),
    );
  } catch (error) {
    othersPanel.replaceChildren(h("p", { class: "muted", text: error.status === 403 ? "Other answers are not shown on this project." : error.message }));
  }
}

function setBusy(value) {
  busy = value;
  for (const button of Object.values(buttons)) button.disabled = value || !item;
}

function show(annotation) {
  item = { annotation, labeller: drawLabeller(annotation, true), correcting: false };
  root.dataset.state = "reviewing";
  root.dataset.annotation = annotation.id;
  notice.hidden = true;
  comment.value = "";
  buttons.correct.textContent = "Correct";
  buttons.correct.append(" ", h("kbd", { text: "C" }));
  page.taskRef.textContent = annotation.task.external_id;
  const by = annotation.annotator?.email ?? annotation.annotator?.pseudonym ?? "an annotator";
  document.getElementById("annotation-meta").textContent =
    `Version ${annotation.version} by ${by} · ${Math.round((annotation.time_spent_ms || 0) / 1000)} s spent · level ${annotation.review_level}`;
  setBusy(false);
  showOthers(annotation);
}

async function advance() {
  setBusy(true);
  try {
    if (!queue.length) {
      const { data } = await api("GET", `projects/${settings.project}/reviews/queue?level=${settings.level}`);
      queue = data.results ?? data;
    }
  } catch (error) {
    announce(error.message, "error");
    queue = [];
  }
  const next = queue.shift();
  if (!next) {
    item = null;
    root.dataset.state = "idle";
    delete root.dataset.annotation;
    contentPanel.replaceChildren();
    fieldsPanel.replaceChildren();
    othersPanel.replaceChildren();
    notice.replaceChildren(
      h("h2", { text: "Nothing waiting for review" }),
      h("p", { text: decided ? `You reviewed ${decided} annotation${decided === 1 ? "" : "s"}. New work appears here as annotators submit.` : "New work appears here as annotators submit." }),
      h("button", { type: "button", class: "button", text: "Check again", onclick: () => advance() }),
    );
    notice.hidden = false;
    setBusy(false);
    return;
  }
  show(next);
}

async function decide(decision) {
  if (!item || busy) return;
  const body = { decision };
  if (decision === "reject") {
    if (!comment.value.trim()) {
      announce("Say what the annotator should change: a rejection needs a comment.", "error");
      comment.focus();
      return;
    }
    body.comment = comment.value;
  }
  if (decision === "correct") {
    if (!item.correcting) {
      // First press: make the answer editable, keeping the annotator's values to start from.
      item.labeller = drawLabeller(item.annotation, false);
      item.correcting = true;
      buttons.correct.textContent = "Save correction";
      buttons.correct.append(" ", h("kbd", { text: "C" }));
      item.labeller.focusFirst();
      announce("Correct the answer, then save the correction.", "info");
      return;
    }
    if (!item.labeller.check()) return;
    body.result = item.labeller.value();
    if (comment.value.trim()) body.comment = comment.value;
  } else if (comment.value.trim()) {
    body.comment = comment.value;
  }
  setBusy(true);
  try {
    await api("POST", `annotations/${item.annotation.id}/review`, body);
  } catch (error) {
    setBusy(false);
    if (error instanceof ApiError && error.status === 400 && error.body?.errors && item.correcting) {
      const rest = item.labeller.showServerErrors(error.body.errors);
      announce(rest.join(" ") || "Some corrected answers were refused; they are marked.", "error");
      return;
    }
    announce(error.message, "error");
    if (error instanceof ApiError && (error.status === 404 || error.status === 409)) advance();
    return;
  }
  decided += 1;
  page.doneCount.textContent = `${decided} reviewed`;
  announce({ accept: "Accepted.", reject: "Rejected and sent back.", correct: "Correction saved." }[decision], "success");
  advance();
}

buttons.accept.addEventListener("click", () => decide("accept"));
buttons.reject.addEventListener("click", () => decide("reject"));
buttons.correct.addEventListener("click", () => decide("correct"));

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || guidelines.open || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target)) return;
  const action = { a: "accept", r: "reject", c: "correct" }[event.key.toLowerCase()];
  if (event.key === "g" || event.key === "G") {
    event.preventDefault();
    guidelines.showModal();
  } else if (action === "reject" && !comment.value.trim()) {
    event.preventDefault();
    comment.focus();
    announce("Write what should change, then press Reject.", "info");
  } else if (action) {
    event.preventDefault();
    decide(action);
  } else if (/^[0-9]$/.test(event.key) && item?.correcting && item.labeller.digit(Number(event.key))) {
    event.preventDefault();
  }
});

advance();

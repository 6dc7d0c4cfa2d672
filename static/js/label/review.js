// The reviewer's page: annotations waiting for review one at a time, oldest first. The task is shown as the
// annotator saw it (spans marked in the text, boxes on the image), the answer beside it drawn for reading (what was
// chosen marked, the rest muted), then the gold answer of a gold task (when the API sends it) and the other
// annotators' answers in the same rendering. Accept, reject with a comment (back to the annotator or the pool, as
// the project says), or correct it in the labelling fields.

import { api, ApiError, announce, h } from "../api.js";
import { Labeller, taskBody } from "./fields.js";
import { imageSource } from "./content.js";
import { memberName, renderAnswer } from "./readonly.js";
import { page, schema, settings, typing } from "./page.js";

const { root, content: contentPanel, fields: fieldsPanel, notice, guidelines } = page;
const byId = (id) => document.getElementById(id);
const othersPanel = byId("others");
const goldSection = byId("gold");
const goldPanel = byId("gold-answer");
const answerHeading = byId("answer-heading");
const answerMeta = byId("annotation-meta");
const comment = byId("review-comment");
const buttons = {
  accept: byId("accept"),
  reject: byId("reject"),
  correct: byId("correct"),
};

let queue = [];
let item = null; // {annotation, labeller, correcting, imageUrl}
let decided = 0;
let busy = false;

// The task panel (with the fields' own views of their sources) and, when correcting, the editable fields.
function drawTask(annotation, imageUrl, editable) {
  const labeller = new Labeller(schema, annotation.task.data, { readOnly: !editable, imageUrl });
  labeller.setValue(annotation.result);
  contentPanel.replaceChildren(taskBody(schema, labeller, annotation.task.data, { imageUrl }));
  if (editable) fieldsPanel.replaceChildren(h("div", { class: "fields-body" }, labeller.widgets.map((w) => w.element)));
  else fieldsPanel.replaceChildren(renderAnswer(schema, annotation.task.data, annotation.result, { imageUrl }));
  return labeller;
}

const STATES = { pending: "waiting for review", accepted: "accepted", rejected: "rejected", corrected: "corrected" };

// The answers that stand for each other annotator: the newest version of each, not the one under review nor the
// earlier versions it replaces.
function standingOthers(history, current) {
  const replaced = new Set(history.map((a) => a.supersedes).filter(Boolean));
  return history.filter((a) => a.id !== current.id && !replaced.has(a.id));
}

function otherAnswer(other, annotation, imageUrl) {
  const state = STATES[other.review_state];
  const who = `${memberName(other.annotator)}${other.kind === "correction" ? " (a reviewer's correction)" : ""}`;
  return h(
    "article",
    { class: "review-other", dataset: { annotation: other.id } },
    h(
      "h3",
      { class: "review-other-title" },
      h("span", { text: who }),
      state ? h("span", { class: `badge review-state review-state-${other.review_state}`, text: state }) : null,
    ),
    renderAnswer(schema, annotation.task.data, other.result, { imageUrl, pictures: true }),
  );
}

async function showOthers(annotation, imageUrl) {
  othersPanel.replaceChildren(h("p", { class: "muted", text: "Loading the other answers…" }));
  try {
    const { data } = await api("GET", `tasks/${annotation.task.id}/annotations/`);
    if (item?.annotation !== annotation) return; // the reviewer has moved on
    const others = standingOthers(data.results ?? data, annotation);
    if (!others.length) {
      othersPanel.replaceChildren(h("p", { class: "muted", text: "No other answers to this task yet." }));
      return;
    }
    othersPanel.replaceChildren(...others.map((other) => otherAnswer(other, annotation, imageUrl)));
  } catch (error) {
    othersPanel.replaceChildren(h("p", { class: "muted", text: error.status === 403 ? "Other answers are not shown on this project." : error.message }));
  }
}

function showGold(annotation, imageUrl) {
  const known = annotation.gold_answer;
  goldSection.hidden = !known;
  goldPanel.replaceChildren(known ? renderAnswer(schema, annotation.task.data, known, { imageUrl, pictures: true }) : "");
}

function setBusy(value) {
  busy = value;
  for (const button of Object.values(buttons)) button.disabled = value || !item;
}

function correctLabel(text) {
  buttons.correct.replaceChildren(text, " ", h("kbd", { text: "C" }));
}

function show(annotation) {
  const imageUrl = imageSource(annotation.task.data, `annotations/${annotation.id}/media`);
  item = { annotation, imageUrl, correcting: false, labeller: null };
  item.labeller = drawTask(annotation, imageUrl, false);
  root.dataset.state = "reviewing";
  root.dataset.annotation = annotation.id;
  notice.hidden = true;
  comment.value = "";
  correctLabel("Correct");
  page.taskRef.textContent = annotation.task.external_id;
  answerHeading.textContent = `Answer by ${memberName(annotation.annotator)}`;
  answerMeta.textContent = `Version ${annotation.version} · ${Math.round((annotation.time_spent_ms || 0) / 1000)} s spent · review level ${annotation.review_level}`;
  setBusy(false);
  showGold(annotation, imageUrl);
  showOthers(annotation, imageUrl);
}

function showIdle() {
  item = null;
  root.dataset.state = "idle";
  delete root.dataset.annotation;
  contentPanel.replaceChildren();
  fieldsPanel.replaceChildren();
  othersPanel.replaceChildren();
  goldSection.hidden = true;
  goldPanel.replaceChildren();
  notice.replaceChildren(
    h("h2", { text: "Nothing waiting for review" }),
    h("p", { text: decided ? `You reviewed ${decided} annotation${decided === 1 ? "" : "s"}. New work appears here as annotators submit.` : "New work appears here as annotators submit." }),
    h("button", { type: "button", class: "button", text: "Check again", onclick: () => advance() }),
  );
  notice.hidden = false;
  setBusy(false);
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
  if (next) show(next);
  else showIdle();
}

function startCorrecting() {
  // The labelling fields, filled with the annotator's values to start from.
  item.labeller = drawTask(item.annotation, item.imageUrl, true);
  item.correcting = true;
  answerHeading.textContent = `Correcting the answer by ${memberName(item.annotation.annotator)}`;
  correctLabel("Save correction");
  item.labeller.focusFirst();
  announce("Correct the answer, then save the correction.", "info");
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
      startCorrecting();
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
  if (document.activeElement === comment) comment.blur();
  advance();
}

buttons.accept.addEventListener("click", () => decide("accept"));
buttons.reject.addEventListener("click", () => decide("reject"));
buttons.correct.addEventListener("click", () => decide("correct"));

// In the comment, letters are text: the page's keys wait until Esc leaves it; Ctrl + Enter rejects with it.
comment.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    comment.blur();
  } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    decide("reject");
  }
});

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
    announce("Write what should change, then press Ctrl + Enter to reject.", "info");
  } else if (action) {
    event.preventDefault();
    decide(action);
  } else if (/^[0-9]$/.test(event.key) && item?.correcting && item.labeller.digit(Number(event.key))) {
    event.preventDefault();
  }
});

advance();

// The labelling page: claim a task, label it, submit, and go straight on to the next one.
//
// Leases: the page renews each lease it holds on a timer (heartbeat) and says so plainly when one is lost. When the
// project lets a member hold two leases, the second is the next task, claimed and drawn in the background while
// this one is labelled, so "submit" shows the next task at once. Drafts live in sessionStorage per assignment, so
// a reload (which gets the same lease back) restores the answer; they are removed on submit, skip or release.

import { api, ApiError, announce, h } from "../api.js";
import { Labeller, taskBody } from "./fields.js";
import { imageSource } from "./content.js";
import { page, schema, settings, typing } from "./page.js";
import { SuggestionMarks, suggestedResult } from "./suggestions.js";

const { root, content: contentPanel, fields: fieldsPanel, notice, doneCount: doneCounter, guidelines } = page;
const clock = document.getElementById("lease-clock");
const submitButton = document.getElementById("submit");
const skipButton = document.getElementById("skip");
const skipDialog = document.getElementById("skip-dialog");

const NO_WORK = {
  no_tasks: "There is nothing for you to label in this project right now.",
  project_paused: "This project is paused by its managers.",
  member_paused: "Your work on this project is paused. Ask a project manager.",
  paused: "Your work on this project is paused: your accuracy on check questions fell below the project's threshold. A manager can unpause you.",
  excluded: "You cannot work on this project.",
  missing_skills: "This project needs skills your profile does not list yet.",
  missing_languages: "This project needs a language your profile does not list yet.",
  qualification_locked: "You did not pass this project's qualification. You can try again later.",
  qualification_unavailable: "This project's qualification is not available yet.",
};

let current = null; // {lease, labeller, contentNode, fieldsNode, shownAt}
let prefetched = null; // the same shape, drawn but not shown
let prefetching = null;
let done = 0;
let busy = false;

const draftKey = (lease) => `annotate:draft:${lease.id}`;

function saveDraft() {
  if (!current) return;
  try {
    sessionStorage.setItem(draftKey(current.lease), JSON.stringify(current.labeller.value()));
  } catch {
    // Storage full or disabled: drafts are a convenience, the lease is what keeps the work.
  }
}

function takeDraft(lease) {
  try {
    const saved = sessionStorage.getItem(draftKey(lease));
    return saved ? JSON.parse(saved) : null;
  } catch {
    return null;
  }
}

function dropDraft(lease) {
  try {
    sessionStorage.removeItem(draftKey(lease));
  } catch {
    /* nothing stored */
  }
}

let draftTimer = null;
function draftSoon() {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(saveDraft, 300);
}

// Build a task's panels off-screen; shown later by swapping them in.
function draw(lease) {
  const imageUrl = imageSource(lease.task.data, `assignments/${lease.id}/media`);
  let marks = null;
  const onChange = () => {
    marks?.update();
    draftSoon();
  };
  const labeller = new Labeller(schema, lease.task.data, { imageUrl, onChange, lease });
  const contentNode = taskBody(schema, labeller, lease.task.data, { imageUrl });
  if (lease.reason && lease.reason.startsWith("returned after review")) {
    contentNode.prepend(h("div", { class: "alert alert-warning", role: "note" }, h("strong", { text: "Sent back by a reviewer. " }), lease.reason.replace(/^returned after review:\s*/, "")));
  }
  const fieldsNode = h("div", { class: "fields-body" }, labeller.widgets.map((w) => w.element));
  // Suggestions first, a saved draft over them: the marks then stay only where the answer is still the suggestion.
  const suggestions = lease.task.suggestions || {};
  if (Object.keys(suggestions).length) labeller.setValue(suggestedResult(labeller, suggestions));
  const draft = takeDraft(lease);
  if (draft) labeller.setValue(draft);
  marks = new SuggestionMarks(labeller, suggestions);
  return { lease, labeller, contentNode, fieldsNode, shownAt: 0 };
}

function show(item) {
  current = item;
  contentPanel.replaceChildren(item.contentNode);
  fieldsPanel.replaceChildren(item.fieldsNode);
  notice.hidden = true;
  root.dataset.state = "labelling";
  root.dataset.assignment = item.lease.id;
  page.taskRef.textContent = item.lease.task.external_id;
  item.shownAt = performance.now();
  setBusy(false);
  tickClock();
  item.labeller.focusFirst();
  if (item.lease.schema_version !== settings.schema_version) {
    // The schema changed since this page was loaded: a reload draws the fields the server now expects.
    showNotice("This project's labelling form has changed.", "Reload the page to get the new form; your lease is kept.", "Reload", () => window.location.reload());
  }
}

function setBusy(value) {
  busy = value;
  submitButton.disabled = value || !current;
  skipButton.disabled = value || !current;
  root.setAttribute("aria-busy", value ? "true" : "false");
}

function showNotice(title, text, actionLabel, action) {
  const button = actionLabel ? h("button", { type: "button", class: "button", text: actionLabel, onclick: action }) : null;
  notice.replaceChildren(h("h2", { text: title }), h("p", { text }), button);
  notice.hidden = false;
  button?.focus();
}

function idle(title, text, actionLabel = "Check again") {
  current = null;
  contentPanel.replaceChildren();
  fieldsPanel.replaceChildren();
  root.dataset.state = "idle";
  delete root.dataset.assignment;
  page.taskRef.textContent = "";
  clock.textContent = "No lease";
  setBusy(false);
  submitButton.disabled = true;
  skipButton.disabled = true;
  showNotice(title, text, actionLabel, () => advance());
}

async function claim() {
  const response = await api("POST", `projects/${settings.project}/next`);
  if (response.status === 204) return { reason: response.headers.get("X-No-Work-Reason") || "no_tasks" };
  return { lease: response.data };
}

// Fetch and draw the next task in the background, when the project allows a second lease.
function prefetch() {
  if (!settings.prefetch || prefetched || prefetching || !current) return;
  prefetching = claim()
    .then(({ lease }) => {
      if (lease && current && lease.id !== current.lease.id) prefetched = draw(lease);
    })
    .catch(() => {})
    .finally(() => {
      prefetching = null;
    });
}

// Show the next task: the prefetched one if there is one, else claim.
async function advance() {
  setBusy(true);
  try {
    if (prefetching) await prefetching;
    if (prefetched) {
      const next = prefetched;
      prefetched = null;
      show(next);
    } else {
      const { lease, reason } = await claim();
      if (!lease) {
        idle("No task for you right now", NO_WORK[reason] || NO_WORK.no_tasks);
        return;
      }
      show(draw(lease));
    }
    markInteractive();
    prefetch();
  } catch (error) {
    idle("Could not get a task", error.message, "Try again");
  }
}

// The time from the click on "submit" to the next task's first field being usable, for the page and its tests.
let submittedAt = null;
function markInteractive() {
  if (submittedAt === null) return;
  const elapsed = performance.now() - submittedAt;
  submittedAt = null;
  root.dataset.switchMs = elapsed.toFixed(1);
}

function leaseLost(item) {
  dropDraft(item.lease);
  if (item === prefetched) {
    prefetched = null;
    return;
  }
  announce("Your lease on this task was lost.", "error");
  idle(
    "This task is no longer yours",
    "Your lease ran out or was taken back, and the task went to someone else. Your answer to it was not saved.",
    "Get the next task",
  );
}

async function submit() {
  if (!current || busy) return;
  if (!current.labeller.check()) {
    announce("Some answers are missing; they are marked.", "error");
    return;
  }
  const item = current;
  submittedAt = performance.now();
  setBusy(true);
  try {
    await api("POST", `assignments/${item.lease.id}/submit`, {
      lease_token: item.lease.lease_token,
      result: item.labeller.value(),
      time_spent_ms: Math.round(performance.now() - item.shownAt),
    });
  } catch (error) {
    submittedAt = null;
    setBusy(false);
    if (error instanceof ApiError && error.code === "lease_lost") return leaseLost(item);
    if (error instanceof ApiError && error.status === 400 && error.body?.errors) {
      const rest = item.labeller.showServerErrors(error.body.errors);
      announce(rest.length ? rest.join(" ") : "The server refused some answers; they are marked.", "error");
      return;
    }
    announce(error.message, "error");
    return;
  }
  dropDraft(item.lease);
  done += 1;
  doneCounter.textContent = `${done} submitted`;
  announce("Submitted.", "success");
  await advance();
}

async function skip(reason) {
  if (!current || busy) return;
  const item = current;
  setBusy(true);
  try {
    await api("POST", `assignments/${item.lease.id}/skip`, { lease_token: item.lease.lease_token, reason });
  } catch (error) {
    setBusy(false);
    if (error instanceof ApiError && error.code === "lease_lost") return leaseLost(item);
    announce(error.message, "error");
    return;
  }
  dropDraft(item.lease);
  announce("Skipped.", "info");
  await advance();
}

async function heartbeat() {
  for (const item of [current, prefetched]) {
    if (!item) continue;
    try {
      const { data } = await api("POST", `assignments/${item.lease.id}/heartbeat`, { lease_token: item.lease.lease_token });
      item.lease.lease_expires_at = data.lease_expires_at;
    } catch (error) {
      if (error instanceof ApiError && (error.code === "lease_lost" || error.status === 404)) leaseLost(item);
      // Anything else (the network blinked): the next beat tries again, well before the lease runs out.
    }
  }
  tickClock();
}

function tickClock() {
  if (!current) return;
  const left = Math.max(0, Date.parse(current.lease.lease_expires_at) - Date.now());
  const minutes = Math.floor(left / 60000);
  const seconds = Math.floor((left % 60000) / 1000);
  clock.textContent = `Lease ${minutes}:${String(seconds).padStart(2, "0")}`;
  clock.classList.toggle("badge-warning", left < 60000);
  if (left === 0) heartbeat();
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || guidelines.open || skipDialog.open) return;
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
    event.preventDefault();
    submit();
    return;
  }
  if (event.altKey && (event.key === "k" || event.key === "K" || event.code === "KeyK")) {
    event.preventDefault();
    if (current) openSkip();
    return;
  }
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "g" || event.key === "G" || event.key === "?") {
    event.preventDefault();
    guidelines.showModal();
    return;
  }
  if (/^[0-9]$/.test(event.key) && current) {
    if (current.labeller.digit(Number(event.key))) event.preventDefault();
  }
});

function openSkip() {
  skipDialog.querySelector("input").value = "";
  skipDialog.showModal();
}

skipDialog.addEventListener("close", () => {
  if (skipDialog.returnValue === "skip") skip(skipDialog.querySelector("input").value.trim());
});
submitButton.addEventListener("click", submit);
skipButton.addEventListener("click", openSkip);

// A prefetched lease nobody will see goes back to the pool when the page goes away; the current one is kept
// (its draft too), so a reload resumes it.
window.addEventListener("pagehide", () => {
  if (!prefetched) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  fetch(`/api/v1/assignments/${prefetched.lease.id}/release`, {
    method: "POST",
    keepalive: true,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ lease_token: prefetched.lease.lease_token }),
  });
});

setInterval(heartbeat, settings.heartbeat_seconds * 1000);
setInterval(tickClock, 1000);
advance();

// How a task's data is shown: text as text, chats as transcripts, candidates side by side, images at their size.
// Everything from the task goes through textContent (via h()): nothing in task data can become markup or script.

import { api, h } from "../api.js";

export function humanize(key) {
  const words = String(key).replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : String(key);
}

export function chatMessages(value) {
  const list = Array.isArray(value) ? value : value && typeof value === "object" ? value.messages : null;
  if (!Array.isArray(list) || list.length === 0) return null;
  const valid = list.every((m) => m && typeof m === "object" && typeof m.role === "string" && typeof m.content === "string");
  return valid ? list : null;
}

export function candidates(value) {
  if (!Array.isArray(value) || value.length < 2) return null;
  const valid = value.every((c) => c && typeof c === "object" && typeof c.id === "string" && typeof c.content === "string");
  return valid && !chatMessages(value) ? value : null;
}

export function isImage(value) {
  return Boolean(
    value && typeof value === "object" && !Array.isArray(value) &&
      (typeof value.url === "string" || typeof value.key === "string") &&
      Number.isInteger(value.width) && Number.isInteger(value.height),
  );
}

// "A", "B", … for the candidates of a pairwise comparison; the ids themselves otherwise.
export function candidateTitle(candidate, index, lettered) {
  return lettered ? `Response ${String.fromCharCode(65 + index)}` : `Response ${candidate.id}`;
}

export function renderTranscript(messages) {
  return h(
    "ol",
    { class: "transcript" },
    messages.map((message) =>
      h(
        "li",
        { class: `turn turn-${["system", "user", "assistant"].includes(message.role) ? message.role : "other"}` },
        h("span", { class: "turn-role", text: humanize(message.role) }),
        h("div", { class: "turn-content", text: message.content }),
      ),
    ),
  );
}

export function renderCandidates(list, { lettered = false } = {}) {
  return h(
    "div",
    { class: `candidates${list.length === 2 ? " candidates-pair" : ""}` },
    list.map((candidate, index) =>
      h(
        "article",
        { class: "candidate", "aria-label": candidateTitle(candidate, index, lettered) },
        h("h3", { class: "candidate-title", text: candidateTitle(candidate, index, lettered) }),
        h("div", { class: "candidate-content", text: candidate.content }),
      ),
    ),
  );
}

// One value of the task's data, by its shape.
export function renderValue(value, { lettered = false, imageUrl = null } = {}) {
  if (typeof value === "string") return h("div", { class: "task-text", text: value });
  if (typeof value === "number" || typeof value === "boolean") return h("div", { class: "task-text", text: String(value) });
  const messages = chatMessages(value);
  if (messages) return renderTranscript(messages);
  const list = candidates(value);
  if (list) return renderCandidates(list, { lettered });
  if (isImage(value)) {
    const frame = h("div", { class: "image-frame" });
    const image = h("img", { alt: "Task image", width: value.width, height: value.height, class: "task-image" });
    frame.append(image);
    if (imageUrl) imageUrl().then((url) => { if (url) image.src = url; });
    return frame;
  }
  return h("pre", { class: "task-json", text: JSON.stringify(value, null, 2) });
}

// A section per data key, in the task's own order, except the keys an interactive field draws itself.
export function renderTaskData(data, { skip = new Set(), lettered = new Set(), imageUrl = () => null } = {}) {
  const sections = [];
  const entries = data && typeof data === "object" && !Array.isArray(data) ? Object.entries(data) : [["data", data]];
  for (const [key, value] of entries) {
    if (skip.has(key)) continue;
    sections.push(
      h(
        "section",
        { class: "task-section", dataset: { key } },
        h("h2", { class: "task-key", text: humanize(key) }),
        renderValue(value, { lettered: lettered.has(key), imageUrl: () => imageUrl(key) }),
      ),
    );
  }
  return sections;
}

// Where an image of a task is fetched from: an http(s) URL as given, a storage key through a short-lived signed URL
// from `mediaPath` (the lease's, or the annotation's under review); null when neither works.
export function imageSource(data, mediaPath) {
  return async (key) => {
    const value = data?.[key];
    if (!isImage(value)) return null;
    if (typeof value.url === "string" && /^https?:/.test(value.url)) return value.url;
    try {
      const { data: signed } = await api("GET", `${mediaPath}?field=${encodeURIComponent(key)}`);
      return signed.url;
    } catch {
      return null;
    }
  };
}

// A stored answer drawn for reading, not editing: every field of the schema with what was chosen marked and
// strong, and what was not chosen muted, so a reviewer sees the answer at a glance. Used for the answer under
// review, the other answers to the same task and a gold task's known answer. Nothing here is an input, so nothing
// looks disabled; everything from the task or the answer is inserted as text.

import { h } from "../api.js";
import { candidateTitle, candidates, humanize } from "./content.js";
import { renderChatAnswer } from "./chat.js";
import { renderStepsAnswer } from "./steps.js";

const STRENGTHS = ["Slightly", "Clearly", "Much"];

// How the pages name a member: the e-mail where the caller may know who it is, else the project's pseudonym. The
// API sends both on every surface, so one rule names the annotator under review and the others alike.
export function memberName(ref) {
  return ref?.email || ref?.pseudonym || "an annotator";
}

function labelColour(field, label) {
  return `label-${Math.max(0, field.labels.indexOf(label)) % 8}`;
}

function chosenNote() {
  return h("span", { class: "visually-hidden", text: " (chosen)" });
}

// A list of every option, the chosen ones marked.
function optionList(options, chosen, name) {
  return h(
    "ul",
    { class: "ro-options", "aria-label": name },
    options.map((option) => {
      const picked = chosen.has(option.value);
      return h(
        "li",
        { class: picked ? "ro-option ro-chosen" : "ro-option", dataset: { value: option.value } },
        h("span", { class: "ro-mark", "aria-hidden": "true", text: picked ? "✓" : "" }),
        h("span", { class: "ro-option-text", text: option.text }),
        picked ? chosenNote() : null,
      );
    }),
  );
}

// A scale from min to max, the chosen point filled.
function scaleRow(min, max, value, name, labels = null) {
  const points = [];
  for (let point = min; point <= max; point += 1) points.push(point);
  return h(
    "ol",
    { class: "ro-scale", "aria-label": name },
    points.map((point) => {
      const picked = point === value;
      const caption = labels?.[String(point)];
      return h(
        "li",
        { class: picked ? "ro-point ro-chosen" : "ro-point", dataset: { value: String(point) } },
        h("span", { class: "ro-point-number", text: String(point) }),
        caption ? h("span", { class: "ro-point-caption", text: caption }) : null,
        picked ? chosenNote() : null,
      );
    }),
  );
}

function noAnswer() {
  return h("p", { class: "ro-none", text: "No answer" });
}

function textBlock(text) {
  return h("div", { class: "ro-text", text });
}

function codePoints(text, start, end) {
  return [...text].slice(start, end).join("");
}

function itemList(items) {
  return h("ul", { class: "item-list ro-items" }, items);
}

const RENDER = {
  steps: renderStepsAnswer,
  chat: (field, value) => renderChatAnswer(field, value, RENDER),
  choices(field, value) {
    const chosen = new Set(Array.isArray(value) ? value : value === undefined ? [] : [value]);
    if (!chosen.size && !field.multiple) return noAnswer();
    return optionList(field.options.map((option) => ({ value: option, text: option })), chosen, field.label || humanize(field.name));
  },
  rating(field, value) {
    if (typeof value !== "number") return noAnswer();
    return scaleRow(field.min, field.max, value, field.label || humanize(field.name), field.labels);
  },
  text(_field, value) {
    return typeof value === "string" && value.trim() ? textBlock(value) : noAnswer();
  },
  spans(field, value, { data }) {
    if (!Array.isArray(value) || !value.length) return noAnswer();
    const source = typeof data?.[field.source] === "string" ? data[field.source] : "";
    return itemList(
      value.map((span) =>
        h(
          "li",
          { class: "item" },
          h("span", { class: `badge ${labelColour(field, span.label)}`, text: span.label }),
          h("q", { class: "ro-quote", text: codePoints(source, span.start, span.end) }),
        ),
      ),
    );
  },
  boxes(field, value, { data, imageUrl, pictures }) {
    if (!Array.isArray(value) || !value.length) return noAnswer();
    const list = itemList(
      value.map((box) =>
        h(
          "li",
          { class: "item" },
          h("span", { class: `badge ${labelColour(field, box.label)}`, text: box.label }),
          h("span", { class: "item-text", text: `${Math.round(box.x)}, ${Math.round(box.y)} · ${Math.round(box.width)} × ${Math.round(box.height)} px` }),
        ),
      ),
    );
    if (!pictures) return list;
    return h("div", {}, boxPicture(field, value, data?.[field.source], imageUrl), list);
  },
  pairwise(field, value, { data }) {
    if (!value || typeof value !== "object") return noAnswer();
    const pair = candidates(data?.[field.source]) || [];
    const options = pair.map((c, index) => ({ value: c.id, text: `${candidateTitle(c, index, true)} is better` }));
    if (field.allow_tie || value.preferred === "tie") options.push({ value: "tie", text: "About the same" });
    const parts = [optionList(options, new Set([value.preferred]), "Which response is better")];
    if (field.strength && value.preferred !== "tie") {
      const strengths = STRENGTHS.map((word, index) => ({ value: String(index + 1), text: word }));
      parts.push(
        h("p", { class: "ro-sub", text: "How much better?" }),
        optionList(strengths, new Set(value.strength === undefined ? [] : [String(value.strength)]), "How much better"),
      );
    }
    if (field.rationale !== "none") {
      parts.push(h("p", { class: "ro-sub", text: "Why?" }), typeof value.rationale === "string" && value.rationale.trim() ? textBlock(value.rationale) : noAnswer());
    }
    return h("div", {}, parts);
  },
  ranking(field, value, { data }) {
    if (!value || typeof value !== "object") return noAnswer();
    const byId = new Map((candidates(data?.[field.source]) || []).map((c) => [c.id, c]));
    const ids = Object.keys(value).sort((a, b) => value[a] - value[b] || a.localeCompare(b));
    return h(
      "ol",
      { class: "ranking ro-ranking", "aria-label": "Ranking, best first" },
      ids.map((id, index) => {
        const tied = ids.some((other, at) => at !== index && value[other] === value[id]);
        return h(
          "li",
          { class: "rank-item ro-rank", dataset: { id } },
          h("span", { class: "rank-number", text: String(value[id]) }),
          h("span", { class: "rank-label", text: `Response ${id}${tied ? " (tie)" : ""}` }),
          h("span", { class: "rank-excerpt", text: (byId.get(id)?.content ?? "").slice(0, 80) }),
        );
      }),
    );
  },
  rubric(field, value) {
    if (!value || typeof value !== "object") return noAnswer();
    return h(
      "div",
      { class: "ro-rubric" },
      field.criteria.map((criterion) => {
        const name = criterion.label || criterion.name;
        const score = value[criterion.name];
        return h(
          "div",
          { class: "rubric-row ro-rubric-row", dataset: { criterion: criterion.name } },
          h("span", { class: "rubric-name", text: name }),
          typeof score === "number" ? scaleRow(criterion.min, criterion.max, score, name) : noAnswer(),
        );
      }),
    );
  },
};

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

// The boxes over the image they were drawn on (a blank frame of its size when the image cannot be fetched).
function boxPicture(field, boxes, image, imageUrl) {
  const width = image?.width || 1;
  const height = image?.height || 1;
  const img = h("img", { alt: "", class: "box-image", width, height, draggable: "false" });
  const layer = svg("svg", { class: "box-layer ro-box-layer", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  for (const box of boxes) layer.append(svg("rect", { x: box.x, y: box.y, width: box.width, height: box.height, class: `box ${labelColour(field, box.label)}` }));
  const stage = h("div", { class: "box-stage ro-box-stage" }, img, layer);
  if (imageUrl) {
    imageUrl(field.source).then((url) => {
      if (url) img.src = url;
      else stage.classList.add("box-stage-empty");
    });
  } else {
    stage.classList.add("box-stage-empty");
  }
  return stage;
}

// Whether a field was on the form when the answer was given (`when` conditions, over the answer's own values).
function shown(field, result, byName, seen = new Set()) {
  const when = field.when;
  if (!when) return true;
  const other = byName.get(when.field);
  if (!other || seen.has(other.name) || !shown(other, result, byName, new Set([...seen, field.name]))) return false;
  const value = result?.[other.name];
  return Array.isArray(value) ? value.includes(when.equals) : value === when.equals;
}

// One answer, field by field, in the schema's order. `pictures` draws boxes over their image (where the task panel
// does not already show them).
export function renderAnswer(schema, data, result, { imageUrl = null, pictures = false } = {}) {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const body = h("div", { class: "ro-answer" });
  for (const field of schema.fields) {
    if (!shown(field, result, byName)) continue;
    const render = RENDER[field.type];
    if (!render) continue;
    body.append(
      h(
        "section",
        { class: `ro-field ro-field-${field.type}`, dataset: { field: field.name } },
        h("h3", { class: "ro-legend", text: field.label || humanize(field.name) }),
        render(field, result?.[field.name], { data, imageUrl, pictures }),
      ),
    );
  }
  return body;
}

// Suggestions (pre-annotations) on the labelling page: each suggested field starts with the suggested value and
// a mark saying who suggested it. Accepting a suggestion is submitting it as it is; changing the field's value
// takes the mark away for good. Whether an answer kept a suggestion is decided by the server at submit, not here:
// the mark only tells the annotator where an answer came from.

import { h } from "../api.js";

// Field types whose list value is a set of marks: the same marks in another order are the same answer (as the
// server compares them).
const UNORDERED = new Set(["spans", "boxes"]);

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function same(field, a, b) {
  const unordered = UNORDERED.has(field.type) || (field.type === "choices" && field.multiple);
  if (unordered && Array.isArray(a) && Array.isArray(b)) {
    return canonical([...a.map(canonical)].sort()) === canonical([...b.map(canonical)].sort());
  }
  return canonical(a) === canonical(b);
}

function describe(entry) {
  const who = entry.agent ? `Suggested by ${entry.agent}` : "Suggested";
  return typeof entry.score === "number" ? `${who} (${entry.score.toFixed(2)})` : who;
}

// The suggested values of the fields the form has, as a result object for Labeller.setValue.
export function suggestedResult(labeller, suggestions) {
  const result = {};
  for (const [name, entry] of Object.entries(suggestions || {})) {
    if (labeller.byName.has(name)) result[name] = entry.value;
  }
  return result;
}

// Marks on the suggested fields whose value is still the suggested one; call `update()` after every change.
export class SuggestionMarks {
  constructor(labeller, suggestions) {
    this.labeller = labeller;
    this.marks = new Map();
    for (const [name, entry] of Object.entries(suggestions || {})) {
      const widget = labeller.byName.get(name);
      if (!widget) continue;
      const mark = h("p", { class: "suggestion-mark", dataset: { suggestion: name } }, describe(entry));
      const legend = widget.element.querySelector(":scope > legend");
      if (legend) legend.after(mark);
      else widget.element.prepend(mark);
      widget.element.classList.add("field-suggested");
      this.marks.set(name, { widget, entry, mark });
    }
    this.update();
  }
  update() {
    for (const [name, { widget, entry, mark }] of this.marks) {
      if (same(widget.field, widget.value(), entry.value)) continue;
      mark.remove();
      widget.element.classList.remove("field-suggested");
      this.marks.delete(name);
    }
  }
}

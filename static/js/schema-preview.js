// The schema page: as the manager edits the schema's JSON, draw the labelling form an annotator will get, with the
// workspace's own widgets over a sample task, so the preview can be tried (conditions included) before saving.
// The server still checks the schema on save; here a schema the widgets cannot draw says why instead.

import { h } from "./api.js";
import { Labeller, taskBody } from "./label/fields.js";

const preview = document.getElementById("schema-preview");
const source = preview && document.getElementById(preview.dataset.source);

// The defaults the server's canonical form spells out (docs/label-schemas.md), so a hand-written field draws alike.
const DEFAULTS = {
  choices: { multiple: false },
  text: { min_length: 0, max_length: 10000 },
  spans: { allow_overlap: false },
  pairwise: { allow_tie: true, strength: false, rationale: "optional" },
  ranking: { allow_ties: false },
  steps: { verdicts: ["correct", "incorrect", "neutral"], comment: "optional", overall: ["correct", "incorrect"], stop_at_first_error: false },
};
const SAMPLE_TEXT = "Dr. Alice Moreau reviewed the scan at Lyon General on 4 March and found no sign of a fracture.";
const sampleCandidates = (n) =>
  Array.from({ length: n }, (_, i) => ({ id: String.fromCharCode(97 + i), content: `Sample response ${String.fromCharCode(65 + i)}.` }));

function normalised(document_) {
  const fields = Array.isArray(document_?.fields) ? document_.fields : [];
  return {
    fields: fields.map((field, index) => ({
      required: true,
      label: null,
      when: null,
      source: null,
      ...(DEFAULTS[field?.type] ?? {}),
      ...field,
      name: typeof field?.name === "string" && field.name ? field.name : `field_${index + 1}`,
    })),
  };
}

const SAMPLE_CHAT = {
  messages: [
    { role: "user", content: "Can I take ibuprofen with my blood-pressure medicine?" },
    { role: "assistant", content: "Some blood-pressure medicines interact with ibuprofen; ask your pharmacist which one you take." },
  ],
};
const SAMPLE_STEPS = [
  { role: "user", content: "What is the weather in Lyon?" },
  { role: "assistant", content: null, tool_calls: [{ name: "weather", arguments: { city: "Lyon" } }] },
  { role: "tool", name: "weather", content: '{"temp_c": 14, "sky": "rain"}' },
  { role: "assistant", content: "It is 14 °C and raining in Lyon." },
];
// A key whose name says it holds a conversation gets a sample chat; any other optional source a sample text.
const CHAT_KEY = /chat|conversation|dialog|messages|transcript/i;

// A task with something for every field that reads its data.
function sampleTask(schema) {
  const data = {};
  for (const field of schema.fields) {
    if (!field.source || field.source in data) continue;
    if (field.type === "spans") data[field.source] = SAMPLE_TEXT;
    else if (field.type === "boxes") data[field.source] = { key: "sample.png", width: 640, height: 360 };
    else if (field.type === "pairwise") data[field.source] = sampleCandidates(2);
    else if (field.type === "ranking") data[field.source] = sampleCandidates(3);
    else if (field.type === "steps") data[field.source] = SAMPLE_STEPS;
    else data[field.source] = CHAT_KEY.test(field.source) ? SAMPLE_CHAT : SAMPLE_TEXT;
  }
  return data;
}

function render() {
  let document_;
  try {
    document_ = JSON.parse(source.value || "{}");
  } catch (error) {
    preview.replaceChildren(h("p", { class: "alert", text: `The JSON does not parse yet: ${error.message}` }));
    return;
  }
  const schema = normalised(document_);
  if (!schema.fields.length) {
    preview.replaceChildren(h("p", { class: "empty", text: "No fields yet: annotators would have nothing to answer." }));
    return;
  }
  const unknown = schema.fields.find((field) => !["choices", "rating", "text", "spans", "boxes", "pairwise", "ranking", "rubric", "steps"].includes(field.type));
  if (unknown) {
    preview.replaceChildren(h("p", { class: "alert", text: `Field “${unknown.name}” has an unknown type “${unknown.type}”.` }));
    return;
  }
  try {
    const data = sampleTask(schema);
    const labeller = new Labeller(schema, data);
    preview.replaceChildren(
      taskBody(schema, labeller, data),
      h("div", { class: "fields-body" }, labeller.widgets.map((widget) => widget.element)),
    );
    // The preview sits inside the schema form: tie its controls to no form, so that trying them out never adds
    // anything to what the page saves (nor submits it on Enter).
    for (const control of preview.querySelectorAll("input, textarea, select, button")) control.setAttribute("form", "schema-preview-only");
  } catch (error) {
    preview.replaceChildren(h("p", { class: "alert", text: `This schema cannot be drawn yet: ${error.message}` }));
  }
}

// A project starts with no fields: the page offers this one (the example of docs/label-schemas.md), which the
// manager then edits. It only fills the editor; nothing is saved until the form is.
const EXAMPLE = {
  fields: [
    { name: "sentiment", type: "choices", label: "Overall sentiment", options: ["positive", "negative", "mixed"] },
    { name: "reason", type: "text", label: "Why is it mixed?", required: false, when: { field: "sentiment", equals: "mixed" } },
  ],
};

if (preview && source) {
  let timer = null;
  source.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(render, 150);
  });
  render();
  document.getElementById("schema-example")?.addEventListener("click", () => {
    source.value = JSON.stringify(EXAMPLE, null, 2);
    // Announced like typing, so that the field builder follows the JSON too.
    source.dispatchEvent(new Event("input", { bubbles: true }));
    render();
    source.focus();
  });
}

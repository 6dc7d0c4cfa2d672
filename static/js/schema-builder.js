// The schema page's field builder: the label schema as a form, one group of inputs per field, kept in step with the
// JSON textarea both ways. The textarea stays what the page submits (so the page works without script) and the
// advanced view; every edit here rewrites it, and every edit there redraws this form once the JSON parses. Errors
// the server found (`fields[2].max`) are drawn under the input they name.

import { h } from "./api.js";

const builder = document.getElementById("schema-builder");
const source = builder && document.getElementById(builder.dataset.source);
const form = source?.form;

const TYPES = ["choices", "rating", "text", "spans", "boxes", "pairwise", "ranking", "rubric", "steps"];
const CONDITION_TYPES = new Set(["choices", "rating", "text"]);
const SOURCE_REQUIRED = new Set(["spans", "boxes", "pairwise", "ranking", "steps"]);
// What a field of each type starts with when it is added or its type changes: the least that validates.
const STARTERS = {
  choices: { options: ["yes", "no"] },
  rating: { min: 1, max: 5 },
  text: {},
  spans: { source: "text", labels: ["PER", "ORG", "LOC"] },
  boxes: { source: "image", labels: ["object"] },
  pairwise: { source: "responses" },
  ranking: { source: "responses" },
  rubric: { criteria: [{ name: "accuracy", min: 1, max: 5 }] },
  steps: { source: "steps" },
};
const COMMON_KEYS = ["name", "type", "label", "required", "when", "source"];

// Each type's own settings, in the order the form shows them (docs/label-schemas.md has their rules).
const SETTINGS = {
  choices: [
    { key: "options", label: "Options", kind: "lines", hint: "One per line; 2 to 200." },
    { key: "multiple", label: "Several may be chosen", kind: "bool", initial: false },
    { key: "min_selected", label: "At least this many", kind: "int", shown: (field) => field.multiple === true },
    { key: "max_selected", label: "At most this many", kind: "int", shown: (field) => field.multiple === true },
  ],
  rating: [
    { key: "min", label: "Lowest point", kind: "int" },
    { key: "max", label: "Highest point", kind: "int" },
    { key: "labels", label: "Names of points", kind: "points", hint: "One per line, e.g. 1 = poor." },
  ],
  text: [
    { key: "min_length", label: "Minimum length", kind: "int" },
    { key: "max_length", label: "Maximum length", kind: "int", hint: "Characters; 10000 when empty." },
  ],
  spans: [
    { key: "labels", label: "Span labels", kind: "lines", hint: "One per line." },
    { key: "allow_overlap", label: "Spans may overlap", kind: "bool", initial: false },
  ],
  boxes: [{ key: "labels", label: "Box labels", kind: "lines", hint: "One per line." }],
  pairwise: [
    { key: "allow_tie", label: "A tie is an answer", kind: "bool", initial: true },
    { key: "strength", label: "Ask how much better (1 to 3)", kind: "bool", initial: false },
    { key: "rationale", label: "Rationale", kind: "select", choices: ["none", "optional", "required"], initial: "optional" },
  ],
  ranking: [{ key: "allow_ties", label: "Candidates may share a rank", kind: "bool", initial: false }],
  rubric: [{ key: "criteria", label: "Criteria", kind: "criteria" }],
  steps: [
    { key: "verdicts", label: "Verdicts per step", kind: "lines", hint: "One per line; must include incorrect. correct, incorrect, neutral when empty." },
    { key: "comment", label: "Comments on steps", kind: "select", choices: ["none", "optional", "required_on_incorrect"], initial: "optional" },
    { key: "overall", label: "Overall verdicts", kind: "lines", hint: "One per line; correct, incorrect when empty." },
    { key: "stop_at_first_error", label: "Stop at the first incorrect step", kind: "bool", initial: false },
  ],
};

let documentState = null; // the parsed JSON document; its `fields` are edited in place
let lastWritten = null; // the textarea's text as this form last wrote it
let errors = readErrors(); // the server's errors, until the part they name is edited

function readErrors() {
  const node = document.getElementById("schema-errors");
  try {
    return node ? JSON.parse(node.textContent) : [];
  } catch {
    return [];
  }
}

const fieldsOf = () => documentState.fields;
const idFor = (index, ...parts) => ["sb", index, ...parts].join("-");

// Where an error belongs: the setting's key (`max` of `max`, `options` of `options[1]`, `when` of `when.field`),
// and for a rubric the criterion row and its input (`criteria[0].max`).
function errorTarget(setting) {
  const criterion = /^criteria\[(\d+)\]\.([a-z_]+)/.exec(setting);
  if (criterion) return { key: "criteria", row: Number(criterion[1]), part: criterion[2] };
  return { key: /^[a-z_]+/.exec(setting)?.[0] ?? "" };
}

function errorsFor(index, key, row = null, part = null) {
  return errors.filter((error) => {
    if (error.index !== index) return false;
    const target = errorTarget(error.setting || "");
    if (target.key !== key) return false;
    if (row === null) return target.row === undefined;
    return target.row === row && target.part === part;
  });
}

function dropErrors(index, key, row = null, part = null) {
  const stale = new Set(errorsFor(index, key, row, part));
  if (stale.size) errors = errors.filter((error) => !stale.has(error));
}

// One labelled input with its hint and its errors, tied together for assistive technology.
function control(id, label, input, { hint = "", found = [], check = false } = {}) {
  input.id = id;
  // The builder's inputs belong to no form: the textarea holds the schema, and these never submit anything.
  input.setAttribute("form", "schema-builder-only");
  const described = [];
  const hintLine = hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  if (hintLine) described.push(hintLine.id);
  const errorLines = found.map((error, n) => h("p", { class: "field-error", id: `${id}-error-${n}`, text: error.message }));
  described.push(...errorLines.map((line) => line.id));
  if (described.length) input.setAttribute("aria-describedby", described.join(" "));
  if (found.length) input.setAttribute("aria-invalid", "true");
  const clear = () => {
    if (!input.hasAttribute("aria-invalid")) return;
    input.removeAttribute("aria-invalid");
    for (const line of errorLines) line.remove();
    input.setAttribute("aria-describedby", hintLine ? hintLine.id : "");
  };
  input.addEventListener("input", clear);
  input.addEventListener("change", clear);
  if (check) {
    return h("div", { class: "form-field form-field-check" }, h("label", { class: "choice", for: id }, input, ` ${label}`), hintLine, errorLines);
  }
  return h("div", { class: "form-field" }, h("label", { for: id, text: label }), input, hintLine, errorLines);
}

function textInput(value, onInput, attributes = {}) {
  const input = h("input", { type: "text", value: value ?? "", autocomplete: "off", spellcheck: "false", ...attributes });
  input.addEventListener("input", () => onInput(input.value));
  return input;
}

function integer(text) {
  const value = Number(text);
  // Kept as written when it is not an integer, so the server names the problem instead of it vanishing.
  return text.trim() !== "" && Number.isInteger(value) ? value : text;
}

function setOrDrop(field, key, value) {
  if (value === "" || value === undefined || (Array.isArray(value) && !value.length)) delete field[key];
  else field[key] = value;
}

function settingControl(field, index, setting) {
  const id = idFor(index, setting.key);
  const found = errorsFor(index, setting.key);
  const edited = (value) => {
    dropErrors(index, setting.key);
    setOrDrop(field, setting.key, value);
    write();
  };
  if (setting.kind === "lines") {
    const input = h("textarea", { rows: 4, spellcheck: "false" });
    input.value = Array.isArray(field[setting.key]) ? field[setting.key].join("\n") : "";
    input.addEventListener("input", () => edited(input.value.split("\n").map((line) => line.trim()).filter(Boolean)));
    return control(id, setting.label, input, { hint: setting.hint, found });
  }
  if (setting.kind === "points") {
    const input = h("textarea", { rows: 3, spellcheck: "false" });
    const points = field.labels && typeof field.labels === "object" ? field.labels : {};
    input.value = Object.entries(points).map(([point, name]) => `${point} = ${name}`).join("\n");
    input.addEventListener("input", () => {
      const named = {};
      for (const line of input.value.split("\n")) {
        const match = /^\s*(-?\d+)\s*[=:]\s*(.*\S)\s*$/.exec(line);
        if (match) named[match[1]] = match[2];
      }
      edited(Object.keys(named).length ? named : undefined);
    });
    return control(id, setting.label, input, { hint: setting.hint, found });
  }
  if (setting.kind === "int") {
    const input = h("input", { type: "number", step: 1, inputmode: "numeric", value: field[setting.key] ?? "" });
    input.addEventListener("input", () => edited(input.value === "" ? undefined : integer(input.value)));
    return control(id, setting.label, input, { hint: setting.hint, found });
  }
  if (setting.kind === "bool") {
    const input = h("input", { type: "checkbox" });
    input.checked = field[setting.key] ?? setting.initial;
    input.addEventListener("change", () => {
      edited(input.checked);
      // Selection bounds apply to a multiple choice only: show or hide them with it.
      if (setting.key === "multiple") {
        if (!input.checked) {
          delete field.min_selected;
          delete field.max_selected;
          write();
        }
        draw(input.id);
      }
    });
    return control(id, setting.label, input, { hint: setting.hint, found, check: true });
  }
  if (setting.kind === "select") {
    const input = h("select", {}, setting.choices.map((choice) => h("option", { value: choice, text: choice })));
    input.value = field[setting.key] ?? setting.initial;
    input.addEventListener("change", () => edited(input.value));
    return control(id, setting.label, input, { found });
  }
  return criteriaControl(field, index);
}

function criteriaControl(field, index) {
  if (!Array.isArray(field.criteria)) field.criteria = [];
  const criteria = field.criteria;
  const rows = criteria.map((criterion, row) => {
    const part = (key, label, input) => control(idFor(index, "criteria", row, key), label, input, { found: errorsFor(index, "criteria", row, key) });
    const edited = (key, value) => {
      dropErrors(index, "criteria", row, key);
      setOrDrop(criterion, key, value);
      write();
    };
    const numberInput = (key) => {
      const input = h("input", { type: "number", step: 1, inputmode: "numeric", value: criterion[key] ?? "" });
      input.addEventListener("input", () => edited(key, input.value === "" ? undefined : integer(input.value)));
      return input;
    };
    const remove = h("button", {
      type: "button",
      class: "button button-quiet button-small",
      id: idFor(index, "criteria", row, "remove"),
      "aria-label": `Remove criterion ${row + 1}`,
      text: "Remove",
      onclick: () => {
        criteria.splice(row, 1);
        errors = [];
        write();
        draw(idFor(index, "criteria-add"));
      },
    });
    remove.setAttribute("form", "schema-builder-only");
    return h(
      "div",
      { class: "builder-criterion", role: "group", "aria-label": `Criterion ${row + 1}` },
      part("name", "Name", textInput(criterion.name, (value) => edited("name", value))),
      part("label", "Label", textInput(criterion.label, (value) => edited("label", value))),
      part("min", "Lowest", numberInput("min")),
      part("max", "Highest", numberInput("max")),
      remove,
    );
  });
  const add = h("button", {
    type: "button",
    class: "button button-quiet button-small",
    id: idFor(index, "criteria-add"),
    text: "Add a criterion",
    onclick: () => {
      criteria.push({ name: `criterion_${criteria.length + 1}`, min: 1, max: 5 });
      write();
      draw(idFor(index, "criteria", criteria.length - 1, "name"));
    },
  });
  add.setAttribute("form", "schema-builder-only");
  const found = errorsFor(index, "criteria").map((error) => h("p", { class: "field-error", text: error.message }));
  return h("div", { class: "builder-criteria" }, h("p", { class: "builder-subhead", text: "Criteria" }), found, rows, add);
}

function conditionControl(field, index) {
  const earlier = fieldsOf()
    .slice(0, index)
    .filter((other) => other && CONDITION_TYPES.has(other.type) && typeof other.name === "string" && other.name);
  const when = field.when && typeof field.when === "object" ? field.when : null;
  const found = errorsFor(index, "when");
  // Nothing earlier to depend on and no condition set: the row would offer only "always".
  if (!earlier.length && !when && !found.length) return null;
  const select = h("select", {}, h("option", { value: "", text: "always" }), earlier.map((other) => h("option", { value: other.name, text: other.name })));
  // A condition naming no earlier field stays visible as written, for its error to make sense.
  if (when && !earlier.some((other) => other.name === when.field)) select.append(h("option", { value: String(when.field ?? ""), text: `${when.field ?? "(none)"}: not an earlier field` }));
  select.value = when ? String(when.field ?? "") : "";
  const equals = textInput(when ? String(when.equals ?? "") : "", () => update(), { disabled: !when });
  function update() {
    dropErrors(index, "when");
    if (!select.value) {
      delete field.when;
      equals.disabled = true;
    } else {
      equals.disabled = false;
      const other = earlier.find((candidate) => candidate.name === select.value);
      // A rating compares as a number; choices and text as text.
      field.when = { field: select.value, equals: other?.type === "rating" ? integer(equals.value) : equals.value };
    }
    write();
  }
  select.addEventListener("change", update);
  return h(
    "div",
    { class: "builder-row" },
    control(idFor(index, "when"), "Shown only when", select, { found }),
    control(idFor(index, "when-equals"), "equals", equals),
  );
}

function fieldGroup(field, index, count) {
  const safe = field && typeof field === "object" ? field : {};
  const title = () => `Field ${index + 1}: ${safe.name || "(no name)"}`;
  const legend = h("legend", { text: title() });
  const button = (part, text, label, action, disabled = false) => {
    const element = h("button", { type: "button", class: "button button-quiet button-small", id: idFor(index, part), text, "aria-label": label, disabled, onclick: action });
    element.setAttribute("form", "schema-builder-only");
    return element;
  };
  const move = (to) => () => {
    const fields = fieldsOf();
    [fields[index], fields[to]] = [fields[to], fields[index]];
    errors = [];
    write();
    draw(idFor(to, to < index ? "up" : "down"));
  };
  const actions = h(
    "div",
    { class: "builder-actions" },
    button("up", "↑", `Move field ${index + 1} up`, move(index - 1), index === 0),
    button("down", "↓", `Move field ${index + 1} down`, move(index + 1), index === count - 1),
    button("remove", "Remove", `Remove field ${index + 1}`, () => {
      fieldsOf().splice(index, 1);
      errors = [];
      write();
      draw(fieldsOf().length ? idFor(Math.min(index, fieldsOf().length - 1), "name") : "schema-builder-add");
    }),
  );
  const edited = (key) => (value) => {
    dropErrors(index, key);
    setOrDrop(safe, key, value);
    if (key === "name") legend.textContent = title();
    write();
  };
  const type = h("select", {}, TYPES.map((name) => h("option", { value: name, text: name })));
  if (!TYPES.includes(safe.type)) type.prepend(h("option", { value: safe.type ?? "", text: `${safe.type ?? "(none)"}: unknown` }));
  type.value = safe.type ?? "";
  type.addEventListener("change", () => {
    // Settings of the old type mean nothing to the new one: keep the common keys, start the new type's own.
    for (const key of Object.keys(safe)) if (!COMMON_KEYS.includes(key)) delete safe[key];
    safe.type = type.value;
    for (const [key, value] of Object.entries(STARTERS[type.value] ?? {})) if (!(key in safe)) safe[key] = structuredClone(value);
    errors = errors.filter((error) => error.index !== index);
    write();
    draw(type.id);
  });
  const required = h("input", { type: "checkbox" });
  required.checked = safe.required ?? true;
  required.addEventListener("change", () => edited("required")(required.checked));
  const settings = (SETTINGS[safe.type] ?? []).filter((setting) => !setting.shown || setting.shown(safe));
  // Errors on a key the form has no input for (a misspelt key, bounds a single choice does not take) are said on
  // the field's group, with the key.
  const drawn = new Set([...COMMON_KEYS, ...settings.map((setting) => setting.key)]);
  const fieldLevel = errors
    .filter((error) => error.index === index && !drawn.has(errorTarget(error.setting || "").key))
    .map((error) => h("p", { class: "field-error", text: error.setting ? `${error.setting}: ${error.message}` : error.message }));
  const typeErrors = errorsFor(index, "type");
  return h(
    "fieldset",
    { class: "builder-field", "data-index": index },
    legend,
    actions,
    fieldLevel,
    h(
      "div",
      { class: "builder-grid" },
      control(idFor(index, "name"), "Name", textInput(safe.name, edited("name")), { found: errorsFor(index, "name"), hint: "The key in results: a-z, 0-9, _." }),
      control(idFor(index, "type"), "Type", type, { found: typeErrors }),
      control(idFor(index, "label"), "Label", textInput(safe.label, edited("label")), { found: errorsFor(index, "label") }),
      control(idFor(index, "source"), SOURCE_REQUIRED.has(safe.type) ? "Task data key" : "Task data key (optional)", textInput(safe.source, edited("source")), {
        found: errorsFor(index, "source"),
      }),
    ),
    control(idFor(index, "required"), "An answer is required", required, { found: errorsFor(index, "required"), check: true }),
    h("div", { class: "builder-grid" }, settings.map((setting) => settingControl(safe, index, setting))),
    conditionControl(safe, index),
  );
}

// Draw the whole form from the document, then put focus back where it was (or on `focusId`).
function draw(focusId = null) {
  const keep = focusId ?? (builder.contains(document.activeElement) ? document.activeElement.id : null);
  const fields = fieldsOf();
  const unplaced = errors.filter((error) => error.index === null || error.index === undefined || error.index >= fields.length);
  const add = h("button", {
    type: "button",
    class: "button button-quiet",
    id: "schema-builder-add",
    text: "Add a field",
    onclick: () => {
      const taken = new Set(fields.map((field) => field?.name));
      let n = fields.length + 1;
      while (taken.has(`field_${n}`)) n += 1;
      fields.push({ name: `field_${n}`, type: "choices", ...structuredClone(STARTERS.choices) });
      write();
      draw(idFor(fields.length - 1, "name"));
    },
  });
  add.setAttribute("form", "schema-builder-only");
  builder.replaceChildren(
    ...unplaced.map((error) => h("p", { class: "alert", text: `${error.path || "schema"}: ${error.message}` })),
    ...(fields.length ? fields.map((field, index) => fieldGroup(field, index, fields.length)) : [h("p", { class: "empty", text: "No fields yet: add one, or start from a template." })]),
    add,
  );
  if (keep) document.getElementById(keep)?.focus();
}

// The form's edits, written back as the JSON the page submits; the preview follows the textarea's input event.
function write() {
  lastWritten = JSON.stringify(documentState, null, 2);
  source.value = lastWritten;
  source.dispatchEvent(new Event("input", { bubbles: true }));
}

// The textarea's text, drawn as the form when it is a schema document; otherwise the form waits for it to be one.
function follow() {
  if (source.value === lastWritten) return;
  let parsed;
  try {
    parsed = JSON.parse(source.value || "{}");
  } catch {
    parsed = null;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || !Array.isArray(parsed.fields ?? [])) {
    documentState = null;
    builder.replaceChildren(
      h("p", { class: "alert", text: "The JSON below is not a schema document yet; this form follows it again once it parses as an object with a \u201cfields\u201d list." }),
    );
    return;
  }
  parsed.fields ??= [];
  documentState = parsed;
  draw();
}

function confirmReplace(event) {
  const unsaved = form.dataset.unsaved === "true" || source.value !== source.defaultValue;
  if (unsaved && !window.confirm("Replace the fields in the editor? The changes you have not saved will be lost.")) event.preventDefault();
}

if (builder && source && form) {
  builder.closest("[hidden]")?.removeAttribute("hidden");
  let timer = null;
  source.addEventListener("input", () => {
    if (source.value === lastWritten) return;
    errors = [];
    clearTimeout(timer);
    timer = setTimeout(follow, 150);
  });
  for (const button of form.querySelectorAll("[data-replaces-schema]")) button.addEventListener("click", confirmReplace);
  // Enter on a checkbox would submit the form with its first button, which fills a template: never by accident.
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target instanceof HTMLInputElement && event.target.type === "checkbox") event.preventDefault();
  });
  follow();
}

// The eight field types as widgets. Each widget renders its control into the answer panel (and, for spans and
// boxes, an interactive view of its source into the task panel), reports its value in the server's result
// format (docs/label-schemas.md) and can be set from one (drafts, corrections, review).

import { h } from "../api.js";
import { candidateTitle, candidates, humanize, renderTaskData, renderValue } from "./content.js";
import { chatWidgetClass } from "./chat.js";
import { stepsWidgetClass } from "./steps.js";
import { codePointIndex, selectionOffsets, toCodePoint, trimmed } from "./text.js";

const DIGITS = "123456789";

function legend(field) {
  return h(
    "legend",
    { class: "field-legend" },
    field.label || humanize(field.name),
    field.required ? null : h("span", { class: "field-optional", text: " (optional)" }),
  );
}

function keyHint(index) {
  return index < DIGITS.length ? h("kbd", { class: "key-hint", "aria-hidden": "true", text: DIGITS[index] }) : null;
}

// One stop of the keyboard model (docs/web-ui.md, "Keyboard"): a group that takes one Tab and that digits act
// on (a radio group, a multiple choice, a criterion's scale, a label picker). `answers` is false for a part whose
// digits only choose a tool (the label of the next span or box): routing and moving on skip those, so a digit
// pressed outside a field never lands there. `single` parts are complete at one key press and move on.
class Part {
  constructor({ areas, press, open, focus, single = false, answers = true, shown = () => true }) {
    Object.assign(this, { areas, press, open, focus, single, answers, shown });
  }
  holds(node) {
    return this.areas.some((area) => area?.contains(node));
  }
}

// A radio group is one tab stop: the checked radio, or the first while none is.
function focusGroup(inputs) {
  (inputs.find((input) => input.checked) ?? inputs[0])?.focus();
}

// Checkboxes as one tab stop, the way a radio group is one: arrows move between them, Space ticks. Without it
// each option is a stop of its own and the number of Tabs to the next field grows with the options.
function rovingGroup(inputs) {
  let current = inputs[0];
  const settle = (input) => {
    current = input;
    for (const other of inputs) other.tabIndex = other === input ? 0 : -1;
  };
  inputs.forEach((input, index) => {
    input.addEventListener("focus", () => settle(input));
    input.addEventListener("keydown", (event) => {
      const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
      if (!step || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      inputs[(index + step + inputs.length) % inputs.length].focus();
    });
  });
  if (current) settle(current);
  return { focus: () => current?.focus(), settle };
}

class Widget {
  constructor(field, context) {
    this.field = field;
    this.context = context;
    this.element = h("fieldset", { class: `field field-${field.type}`, dataset: { field: field.name } });
    this.element.append(legend(field));
    this.errorLine = h("p", { class: "field-error", id: `error-${field.name}`, hidden: true });
    this.content = null; // the task-panel view this widget draws, if any
  }
  finish() {
    this.element.append(this.errorLine);
    if (this.context.readOnly) this.element.disabled = true;
  }
  changed() {
    this.context.onChange(this);
  }
  showError(message) {
    this.errorLine.textContent = message || "";
    this.errorLine.hidden = !message;
    this.element.classList.toggle("field-invalid", Boolean(message));
  }
  // The keyboard parts of this field, in tab order; a field without any (text, ranking) ignores digits.
  parts() {
    return [];
  }
  answered() {
    return this.value() !== undefined;
  }
  problem() {
    return this.field.required && !this.answered() ? "This field needs an answer." : null;
  }
  focus() {
    const first = this.parts().find((part) => part.shown());
    if (first) first.focus();
    else this.element.querySelector("input:checked, input, textarea, button, [tabindex]")?.focus();
  }
}

class ChoicesWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    const type = field.multiple ? "checkbox" : "radio";
    this.inputs = field.options.map((option, index) => {
      const input = h("input", { type, name: `f-${field.name}`, value: option, onchange: () => this.changed() });
      this.element.append(h("label", { class: "choice" }, input, h("span", { text: option }), keyHint(index)));
      return input;
    });
    const roving = field.multiple ? rovingGroup(this.inputs) : null;
    // A single choice is answered by one digit; a multiple choice toggles an option per digit and stays put.
    this.part = new Part({
      areas: [this.element],
      single: !field.multiple,
      open: () => !this.inputs.some((input) => input.checked),
      focus: () => (roving ? roving.focus() : focusGroup(this.inputs)),
      press: (digit) => {
        const input = this.inputs[digit - 1];
        if (!input) return false;
        input.checked = field.multiple ? !input.checked : true;
        roving?.settle(input);
        this.changed();
        return true;
      },
    });
    this.finish();
  }
  parts() {
    return [this.part];
  }
  value() {
    const chosen = this.inputs.filter((i) => i.checked).map((i) => i.value);
    if (this.field.multiple) return chosen.length || this.field.required ? (chosen.length ? chosen : undefined) : undefined;
    return chosen[0];
  }
  setValue(value) {
    const chosen = new Set(Array.isArray(value) ? value : value === undefined ? [] : [value]);
    for (const input of this.inputs) input.checked = chosen.has(input.value);
  }
  problem() {
    const chosen = this.inputs.filter((i) => i.checked).length;
    if (this.field.required && chosen === 0) return "Choose an option.";
    if (this.field.multiple && chosen) {
      if (this.field.min_selected && chosen < this.field.min_selected) return `Choose at least ${this.field.min_selected}.`;
      if (this.field.max_selected && chosen > this.field.max_selected) return `Choose at most ${this.field.max_selected}.`;
    }
    return null;
  }
}

function scale(min, max, name, labels, onPick, title) {
  const points = [];
  for (let point = min; point <= max; point += 1) points.push(point);
  const group = h("div", { class: "scale", role: "radiogroup", "aria-label": title });
  const inputs = points.map((point) => {
    const input = h("input", { type: "radio", name, value: String(point), onchange: onPick });
    const caption = labels?.[String(point)];
    group.append(
      h(
        "label",
        { class: "scale-point" },
        input,
        h("span", { class: "scale-number", text: String(point) }),
        caption ? h("span", { class: "scale-caption", text: caption }) : null,
      ),
    );
    return input;
  });
  return { group, inputs, points };
}

// A digit picks the point with that value when there is one (a 0–5 scale: "0" is 0), else the digit-th point.
function pointForDigit(points, digit) {
  if (points.includes(digit)) return points.indexOf(digit);
  return digit >= 1 && digit <= points.length ? digit - 1 : -1;
}

// A scale (a rating, a rubric criterion) as a part: one digit answers it.
function scalePart({ group, inputs, points }, changed) {
  return new Part({
    areas: [group],
    single: true,
    open: () => !inputs.some((input) => input.checked),
    focus: () => focusGroup(inputs),
    press: (digit) => {
      const at = pointForDigit(points, digit);
      if (at < 0) return false;
      inputs[at].checked = true;
      changed();
      return true;
    },
  });
}

class RatingWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    const built = scale(field.min, field.max, `f-${field.name}`, field.labels, () => this.changed(), field.label || humanize(field.name));
    Object.assign(this, built);
    this.element.append(built.group);
    this.part = scalePart(built, () => this.changed());
    this.finish();
  }
  parts() {
    return [this.part];
  }
  value() {
    const chosen = this.inputs.find((i) => i.checked);
    return chosen ? Number(chosen.value) : undefined;
  }
  setValue(value) {
    for (const input of this.inputs) input.checked = Number(input.value) === value;
  }
}

class TextWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    const id = `f-${field.name}`;
    this.input = h("textarea", {
      id,
      name: id,
      rows: 4,
      maxlength: field.max_length,
      "aria-describedby": `count-${field.name} error-${field.name}`,
      oninput: () => {
        this.count();
        this.changed();
      },
    });
    this.counter = h("p", { class: "hint field-count", id: `count-${field.name}` });
    this.element.append(h("label", { class: "visually-hidden", for: id, text: field.label || humanize(field.name) }), this.input, this.counter);
    this.count();
    this.finish();
  }
  count() {
    const length = [...this.input.value].length;
    const bounds = this.field.min_length ? `${this.field.min_length}–${this.field.max_length}` : `up to ${this.field.max_length}`;
    this.counter.textContent = `${length} characters (${bounds})`;
  }
  value() {
    const text = this.input.value;
    return text.trim() === "" ? undefined : text;
  }
  setValue(value) {
    this.input.value = typeof value === "string" ? value : "";
    this.count();
  }
  problem() {
    const length = [...this.input.value].length;
    if (this.field.required && this.input.value.trim() === "") return "Write an answer.";
    if (length && length < this.field.min_length) return `At least ${this.field.min_length} characters.`;
    return null;
  }
}

// Labels for spans and boxes: a radio group whose choice applies to the next span or box drawn.
function labelPicker(field, onPick) {
  const name = `label-${field.name}`;
  const inputs = field.labels.map((label, index) => {
    const input = h("input", { type: "radio", name, value: label, onchange: onPick });
    return { input, element: h("label", { class: `choice label-choice label-${index % 8}` }, input, h("span", { text: label }), keyHint(index)) };
  });
  inputs[0].input.checked = true;
  return {
    element: h("div", { class: "label-picker", role: "radiogroup", "aria-label": `Label for new ${field.type}` }, inputs.map((i) => i.element)),
    current: () => inputs.find((i) => i.input.checked).input.value,
    pick: (index) => {
      const chosen = inputs[index]?.input;
      if (!chosen) return false;
      // Within the group focus follows the choice, as it does for a radio group's arrows; else Tab would stop
      // on the radio left behind.
      const within = inputs.some((i) => i.input === document.activeElement);
      chosen.checked = true;
      if (within) chosen.focus();
      return true;
    },
    colour: (label) => Math.max(0, field.labels.indexOf(label)) % 8,
  };
}

// Digits in a spans or boxes field choose the label of the next span or box drawn: a tool, not an answer, so they
// work only while the field (its controls or its view in the task panel) has focus.
function labelPart(widget, focus) {
  return new Part({
    areas: [widget.element, widget.content],
    answers: false,
    open: () => !widget.answered(),
    focus,
    press: (digit) => widget.picker.pick(digit - 1),
  });
}

class SpansWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    this.text = typeof context.data[field.source] === "string" ? context.data[field.source] : "";
    this.utf16At = codePointIndex(this.text);
    this.spans = [];
    this.picker = labelPicker(field, () => {});
    this.list = h("ul", { class: "item-list", "aria-label": "Marked spans" });
    this.element.append(
      h("p", { class: "hint", text: "Select text in the task with the mouse, or focus the text and use Shift + arrows, then Enter." }),
      this.picker.element,
      this.list,
    );
    // The task-panel view: the text itself, with the spans marked. Keyboard users move a caret with the arrows.
    this.view = h("div", {
      class: "span-text",
      tabindex: context.readOnly ? "-1" : "0",
      role: "textbox",
      "aria-readonly": "true",
      "aria-multiline": "true",
      "aria-label": `${field.label || humanize(field.name)}: text to mark`,
      onmouseup: () => this.fromSelection(),
      onkeydown: (event) => this.caretKey(event),
    });
    this.caret = null; // {anchor, focus} in code points, keyboard selection
    this.content = h("section", { class: "task-section" }, h("h2", { class: "task-key", text: humanize(field.source) }), this.view);
    this.labelPart = labelPart(this, () => this.view.focus());
    this.draw();
    this.finish();
  }
  parts() {
    return [this.labelPart];
  }
  fromSelection() {
    if (this.context.readOnly) return;
    const selection = window.getSelection();
    const bounds = selectionOffsets(this.view, selection);
    if (!bounds) return;
    const start = toCodePoint(this.utf16At, bounds.start);
    const end = toCodePoint(this.utf16At, bounds.end);
    selection.removeAllRanges();
    this.add(start, end);
  }
  add(start, end) {
    const characters = [...this.text];
    const edges = trimmed(characters, start, end);
    if (!edges) return;
    const span = { start: edges.start, end: edges.end, label: this.picker.current() };
    const clash = this.spans.find(
      (s) => (s.start === span.start && s.end === span.end && s.label === span.label) ||
        (!this.field.allow_overlap && s.start < span.end && span.start < s.end),
    );
    if (clash) {
      this.showError(this.field.allow_overlap ? "That span is already marked." : "Spans may not overlap in this field.");
      return;
    }
    this.showError("");
    this.spans.push(span);
    this.spans.sort((a, b) => a.start - b.start || a.end - b.end);
    this.draw();
    this.changed();
  }
  remove(span) {
    this.spans = this.spans.filter((s) => s !== span);
    this.draw();
    this.changed();
  }
  caretKey(event) {
    if (this.context.readOnly) return;
    const length = this.utf16At.length - 1;
    if (event.key === "Enter" && this.caret && this.caret.anchor !== this.caret.focus) {
      event.preventDefault();
      this.add(Math.min(this.caret.anchor, this.caret.focus), Math.max(this.caret.anchor, this.caret.focus));
      this.caret = { anchor: this.caret.focus, focus: this.caret.focus };
      this.draw();
      return;
    }
    if (event.key === "Escape" && this.caret) {
      this.caret = null;
      this.draw();
      return;
    }
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    event.preventDefault();
    event.stopPropagation();
    const characters = [...this.text];
    const here = this.caret ? this.caret.focus : 0;
    let to = here;
    const step = event.key === "ArrowRight" ? 1 : -1;
    if (event.ctrlKey || event.altKey) {
      // By word: skip spaces, then the word.
      to += step;
      while (to > 0 && to < length && /\s/.test(characters[step > 0 ? to : to - 1])) to += step;
      while (to > 0 && to < length && !/\s/.test(characters[step > 0 ? to : to - 1])) to += step;
    } else {
      to += step;
    }
    to = Math.max(0, Math.min(length, to));
    this.caret = { anchor: event.shiftKey && this.caret ? this.caret.anchor : to, focus: to };
    this.draw();
  }
  draw() {
    // Cut points: every span edge and the keyboard selection's edges; each piece is marked by what covers it.
    const utf = this.utf16At;
    const selection = this.caret && this.caret.anchor !== this.caret.focus
      ? { start: Math.min(this.caret.anchor, this.caret.focus), end: Math.max(this.caret.anchor, this.caret.focus) }
      : null;
    const cuts = new Set([0, utf.length - 1]);
    for (const s of this.spans) cuts.add(s.start).add(s.end);
    if (selection) cuts.add(selection.start).add(selection.end);
    if (this.caret) cuts.add(this.caret.focus);
    const points = [...cuts].sort((a, b) => a - b);
    this.view.replaceChildren();
    for (let i = 0; i < points.length - 1; i += 1) {
      const [from, to] = [points[i], points[i + 1]];
      if (this.caret && this.caret.focus === from) this.view.append(h("span", { class: "span-caret", "aria-hidden": "true" }));
      const piece = this.text.slice(utf[from], utf[to]);
      const covering = this.spans.filter((s) => s.start <= from && to <= s.end);
      const selected = selection && selection.start <= from && to <= selection.end;
      if (!covering.length && !selected) {
        this.view.append(document.createTextNode(piece));
        continue;
      }
      const label = covering.map((s) => s.label).join(", ");
      const mark = h("mark", {
        class: `span-mark${covering.length ? ` label-${this.picker.colour(covering[covering.length - 1].label)}` : ""}${selected ? " span-selecting" : ""}${covering.length > 1 ? " span-overlap" : ""}`,
        title: label || null,
        text: piece,
      });
      this.view.append(mark);
    }
    if (this.caret && this.caret.focus === utf.length - 1) this.view.append(h("span", { class: "span-caret", "aria-hidden": "true" }));
    this.list.replaceChildren(
      ...this.spans.map((span) =>
        h(
          "li",
          { class: "item" },
          h("span", { class: `badge label-${this.picker.colour(span.label)}`, text: span.label }),
          h("q", { class: "item-text", text: this.text.slice(utf[span.start], utf[span.end]) }),
          this.context.readOnly ? null : h("button", { type: "button", class: "button-icon", "aria-label": `Remove ${span.label} span`, text: "×", onclick: () => this.remove(span) }),
        ),
      ),
    );
  }
  value() {
    return this.spans.length ? this.spans.map((s) => ({ start: s.start, end: s.end, label: s.label })) : this.field.required ? undefined : [];
  }
  answered() {
    return this.spans.length > 0;
  }
  problem() {
    return this.field.required && !this.spans.length ? "Mark at least one span." : null;
  }
  setValue(value) {
    this.spans = Array.isArray(value) ? value.map((s) => ({ ...s })) : [];
    this.draw();
  }
  focus() {
    this.view.focus();
  }
}

const SVG = "http://www.w3.org/2000/svg";
const MIN_BOX = 2;

function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

class BoxesWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    const image = context.data[field.source] || {};
    this.width = image.width || 1;
    this.height = image.height || 1;
    this.boxes = [];
    this.selected = null;
    this.picker = labelPicker(field, () => {
      if (this.selected) {
        this.selected.label = this.picker.current();
        this.draw();
        this.changed();
      }
    });
    this.list = h("ul", { class: "item-list", "aria-label": "Boxes" });
    this.element.append(
      h("p", { class: "hint", text: "Drag on the image to draw. Arrows move the chosen box, Alt + arrows resize it (Shift: 10 px), Delete removes it." }),
      this.picker.element,
      context.readOnly ? null : h("button", { type: "button", class: "button button-quiet", text: "Add a box", onclick: () => this.addCentred() }),
      this.list,
    );
    this.img = h("img", { alt: `${field.label || humanize(field.name)}: image to mark`, class: "box-image", width: this.width, height: this.height, draggable: "false" });
    this.overlay = svg("svg", { class: "box-layer", viewBox: `0 0 ${this.width} ${this.height}`, preserveAspectRatio: "none" });
    this.overlay.setAttribute("aria-label", "Boxes drawn on the image");
    this.overlay.setAttribute("role", "group");
    this.stage = h("div", { class: "box-stage" }, this.img, this.overlay);
    this.content = h("section", { class: "task-section" }, h("h2", { class: "task-key", text: humanize(field.source) }), this.stage);
    if (!context.readOnly) this.listen();
    context.imageUrl(field.source).then((url) => {
      if (url) this.img.src = url;
      else this.stage.classList.add("box-stage-empty");
    });
    this.labelPart = labelPart(this, () => this.picker.element.querySelector("input:checked")?.focus());
    this.draw();
    this.finish();
  }
  parts() {
    return [this.labelPart];
  }
  // Pointer position in image pixels.
  point(event) {
    const rect = this.overlay.getBoundingClientRect();
    return {
      x: Math.max(0, Math.min(this.width, ((event.clientX - rect.left) / rect.width) * this.width)),
      y: Math.max(0, Math.min(this.height, ((event.clientY - rect.top) / rect.height) * this.height)),
    };
  }
  listen() {
    let drag = null;
    this.overlay.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      const at = this.point(event);
      const target = event.target;
      const box = target.__box;
      if (box && target.dataset.handle) drag = { mode: "resize", box, origin: at, start: { ...box } };
      else if (box) drag = { mode: "move", box, origin: at, start: { ...box } };
      else drag = { mode: "draw", origin: at, box: null };
      if (box) this.select(box);
      this.overlay.setPointerCapture(event.pointerId);
    });
    this.overlay.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const at = this.point(event);
      if (drag.mode === "draw") {
        const box = { x: Math.min(at.x, drag.origin.x), y: Math.min(at.y, drag.origin.y), width: Math.abs(at.x - drag.origin.x), height: Math.abs(at.y - drag.origin.y), label: this.picker.current() };
        if (!drag.box && box.width >= MIN_BOX && box.height >= MIN_BOX) {
          drag.box = box;
          this.boxes.push(box);
          this.selected = box;
        }
        if (drag.box) Object.assign(drag.box, box);
      } else if (drag.mode === "move") {
        const dx = at.x - drag.origin.x;
        const dy = at.y - drag.origin.y;
        drag.box.x = Math.max(0, Math.min(this.width - drag.box.width, drag.start.x + dx));
        drag.box.y = Math.max(0, Math.min(this.height - drag.box.height, drag.start.y + dy));
      } else {
        drag.box.width = Math.max(MIN_BOX, Math.min(this.width - drag.box.x, drag.start.width + at.x - drag.origin.x));
        drag.box.height = Math.max(MIN_BOX, Math.min(this.height - drag.box.y, drag.start.height + at.y - drag.origin.y));
      }
      this.draw();
    });
    const end = () => {
      if (!drag) return;
      const touched = drag.box;
      drag = null;
      if (touched) {
        this.round(touched);
        this.draw();
        this.changed();
      }
    };
    this.overlay.addEventListener("pointerup", end);
    this.overlay.addEventListener("pointercancel", end);
    this.overlay.addEventListener("keydown", (event) => this.boxKey(event));
  }
  round(box) {
    for (const key of ["x", "y", "width", "height"]) box[key] = Math.round(box[key] * 100) / 100;
    box.width = Math.min(box.width, this.width - box.x);
    box.height = Math.min(box.height, this.height - box.y);
  }
  addCentred() {
    const box = { x: Math.round(this.width * 0.375), y: Math.round(this.height * 0.375), width: Math.max(MIN_BOX, Math.round(this.width / 4)), height: Math.max(MIN_BOX, Math.round(this.height / 4)), label: this.picker.current() };
    this.boxes.push(box);
    this.select(box);
    this.changed();
  }
  select(box) {
    this.selected = box;
    this.draw();
    this.overlay.querySelector(`[data-index="${this.boxes.indexOf(box)}"]`)?.focus();
  }
  boxKey(event) {
    const box = this.selected;
    if (!box) return;
    if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      this.boxes = this.boxes.filter((b) => b !== box);
      this.selected = null;
      this.draw();
      this.changed();
      return;
    }
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    event.stopPropagation();
    const step = event.shiftKey ? 10 : 1;
    if (event.altKey) {
      box.width = Math.max(MIN_BOX, Math.min(this.width - box.x, box.width + move[0] * step));
      box.height = Math.max(MIN_BOX, Math.min(this.height - box.y, box.height + move[1] * step));
    } else {
      box.x = Math.max(0, Math.min(this.width - box.width, box.x + move[0] * step));
      box.y = Math.max(0, Math.min(this.height - box.height, box.y + move[1] * step));
    }
    this.round(box);
    this.draw();
    this.overlay.querySelector(`[data-index="${this.boxes.indexOf(box)}"]`)?.focus();
    this.changed();
  }
  draw() {
    this.overlay.replaceChildren();
    const handle = Math.max(6, this.width / 60);
    this.boxes.forEach((box, index) => {
      const colour = this.picker.colour(box.label);
      const rect = svg("rect", { x: box.x, y: box.y, width: box.width, height: box.height, class: `box label-${colour}${box === this.selected ? " box-selected" : ""}`, tabindex: this.context.readOnly ? -1 : 0, "data-index": index, role: "img", "aria-label": `${box.label} box at ${Math.round(box.x)}, ${Math.round(box.y)}, ${Math.round(box.width)} by ${Math.round(box.height)}` });
      rect.__box = box;
      rect.addEventListener("focus", () => {
        if (this.selected !== box) {
          this.selected = box;
          for (const other of this.overlay.querySelectorAll(".box")) other.classList.toggle("box-selected", other === rect);
        }
      });
      this.overlay.append(rect);
      if (box === this.selected && !this.context.readOnly) {
        const grip = svg("rect", { x: box.x + box.width - handle / 2, y: box.y + box.height - handle / 2, width: handle, height: handle, class: "box-handle", "data-handle": "se" });
        grip.__box = box;
        this.overlay.append(grip);
      }
    });
    this.list.replaceChildren(
      ...this.boxes.map((box) =>
        h(
          "li",
          { class: "item" },
          h("span", { class: `badge label-${this.picker.colour(box.label)}`, text: box.label }),
          h("span", { class: "item-text", text: `${Math.round(box.x)}, ${Math.round(box.y)} · ${Math.round(box.width)} × ${Math.round(box.height)} px` }),
          this.context.readOnly ? null : h("button", { type: "button", class: "button-icon", "aria-label": `Remove ${box.label} box`, text: "×", onclick: () => { this.boxes = this.boxes.filter((b) => b !== box); this.selected = null; this.draw(); this.changed(); } }),
        ),
      ),
    );
  }
  value() {
    return this.boxes.length ? this.boxes.map(({ x, y, width, height, label }) => ({ x, y, width, height, label })) : this.field.required ? undefined : [];
  }
  answered() {
    return this.boxes.length > 0;
  }
  problem() {
    return this.field.required && !this.boxes.length ? "Draw at least one box." : null;
  }
  setValue(value) {
    this.boxes = Array.isArray(value) ? value.map((b) => ({ ...b })) : [];
    this.selected = null;
    this.draw();
  }
}

class PairwiseWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    this.candidates = candidates(context.data[field.source]) || [];
    const name = `f-${field.name}`;
    const options = this.candidates.map((c, index) => ({ value: c.id, text: `${candidateTitle(c, index, true)} is better` }));
    if (field.allow_tie) options.push({ value: "tie", text: "About the same" });
    this.inputs = options.map((option, index) => {
      const input = h("input", { type: "radio", name, value: option.value, onchange: () => this.changed() });
      this.element.append(h("label", { class: "choice" }, input, h("span", { text: option.text }), keyHint(index)));
      return input;
    });
    // The preference and its strength are two parts: a digit answers the preference, the next one its strength.
    this.preferencePart = new Part({
      areas: this.inputs,
      single: true,
      open: () => this.preferred() === undefined,
      focus: () => focusGroup(this.inputs),
      press: (digit) => this.choose(this.inputs, digit),
    });
    if (field.strength) {
      const words = ["Slightly", "Clearly", "Much"];
      this.strength = words.map((_word, index) => h("input", { type: "radio", name: `${name}-strength`, value: String(index + 1), onchange: () => this.changed() }));
      this.strengthGroup = h("div", { class: "strength", role: "radiogroup", "aria-label": "How much better" },
        h("span", { class: "strength-title", text: "How much better?" }),
        this.strength.map((input, index) => h("label", { class: "choice choice-inline" }, input, h("span", { text: words[index] }), keyHint(index))));
      this.element.append(this.strengthGroup);
      this.strengthPart = new Part({
        areas: [this.strengthGroup],
        single: true,
        // A tie carries no strength: the question is hidden and skipped.
        shown: () => this.preferred() !== "tie",
        open: () => !this.strength.some((input) => input.checked),
        focus: () => focusGroup(this.strength),
        press: (digit) => this.choose(this.strength, digit),
      });
    }
    if (field.rationale !== "none") {
      const id = `${name}-rationale`;
      this.rationale = h("textarea", { id, rows: 3, maxlength: 10000, oninput: () => this.changed() });
      this.element.append(h("label", { for: id, class: "field-sub", text: field.rationale === "required" ? "Why?" : "Why? (optional)" }), this.rationale);
    }
    this.content = h("section", { class: "task-section" }, h("h2", { class: "task-key", text: humanize(field.source) }), renderValue(context.data[field.source], { lettered: true }));
    this.finish();
  }
  choose(inputs, digit) {
    const input = inputs[digit - 1];
    if (!input) return false;
    input.checked = true;
    this.changed();
    return true;
  }
  changed() {
    this.showStrength();
    super.changed();
  }
  showStrength() {
    if (this.strengthGroup) this.strengthGroup.hidden = !this.strengthPart.shown();
  }
  parts() {
    return this.strengthPart ? [this.preferencePart, this.strengthPart] : [this.preferencePart];
  }
  preferred() {
    return this.inputs.find((i) => i.checked)?.value;
  }
  value() {
    const preferred = this.preferred();
    if (preferred === undefined) return undefined;
    const answer = { preferred };
    const strength = this.strength?.find((i) => i.checked);
    if (strength && preferred !== "tie") answer.strength = Number(strength.value);
    const why = this.rationale?.value ?? "";
    if (why.trim()) answer.rationale = why;
    return answer;
  }
  problem() {
    if (this.field.required && !this.inputs.some((i) => i.checked)) return "Choose the better response.";
    if (this.field.rationale === "required" && this.inputs.some((i) => i.checked) && !this.rationale.value.trim()) return "Say why.";
    return null;
  }
  setValue(value) {
    for (const input of this.inputs) input.checked = input.value === value?.preferred;
    for (const input of this.strength || []) input.checked = Number(input.value) === value?.strength;
    this.showStrength();
    if (this.rationale) this.rationale.value = value?.rationale ?? "";
  }
}

class RankingWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    this.candidates = candidates(context.data[field.source]) || [];
    this.order = this.candidates.map((c) => c.id);
    this.tied = new Set(); // ids tied with the one above them
    this.confirmed = false;
    this.list = h("ol", { class: "ranking", "aria-label": "Ranking, best first" });
    this.element.append(
      h("p", { class: "hint", text: "Best first. Drag, or focus an item and press Alt + ↑/↓." }),
      this.list,
      context.readOnly ? null : h("button", { type: "button", class: "button button-quiet", text: "This order is right", onclick: () => { this.confirmed = true; this.draw(); this.changed(); } }),
    );
    this.content = h("section", { class: "task-section" }, h("h2", { class: "task-key", text: humanize(field.source) }), renderValue(context.data[field.source]));
    this.draw();
    this.finish();
  }
  move(id, by) {
    const at = this.order.indexOf(id);
    const to = at + by;
    if (to < 0 || to >= this.order.length) return;
    this.order.splice(at, 1);
    this.order.splice(to, 0, id);
    this.confirmed = true;
    this.draw();
    this.list.querySelector(`[data-id="${CSS.escape(id)}"]`)?.focus();
    this.changed();
  }
  ranks() {
    const ranks = {};
    let rank = 0;
    this.order.forEach((id, index) => {
      if (index === 0 || !this.field.allow_ties || !this.tied.has(id)) rank += 1;
      ranks[id] = rank;
    });
    return ranks;
  }
  draw() {
    const ranks = this.ranks();
    let dragged = null;
    this.list.replaceChildren(
      ...this.order.map((id, index) => {
        const candidate = this.candidates.find((c) => c.id === id);
        const item = h(
          "li",
          {
            class: "rank-item",
            tabindex: this.context.readOnly ? "-1" : "0",
            draggable: this.context.readOnly ? "false" : "true",
            dataset: { id },
            "aria-label": `Rank ${ranks[id]}: response ${id}`,
            onkeydown: (event) => {
              if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
              event.preventDefault();
              event.stopPropagation();
              this.move(id, event.key === "ArrowUp" ? -1 : 1);
            },
            ondragstart: (event) => {
              dragged = id;
              event.dataTransfer.setData("text/plain", id);
            },
            ondragover: (event) => event.preventDefault(),
            ondrop: (event) => {
              event.preventDefault();
              const from = dragged ?? event.dataTransfer.getData("text/plain");
              if (from && from !== id) this.move(from, this.order.indexOf(id) - this.order.indexOf(from));
            },
          },
          h("span", { class: "rank-number", text: String(ranks[id]) }),
          h("span", { class: "rank-label", text: `Response ${id}` }),
          h("span", { class: "rank-excerpt", text: (candidate?.content ?? "").slice(0, 80) }),
        );
        if (this.field.allow_ties && index > 0) {
          const tie = h("input", { type: "checkbox", checked: this.tied.has(id), disabled: this.context.readOnly, onchange: () => { if (tie.checked) this.tied.add(id); else this.tied.delete(id); this.confirmed = true; this.draw(); this.changed(); } });
          item.append(h("label", { class: "rank-tie" }, tie, h("span", { text: "tie with above" })));
        }
        return item;
      }),
    );
    this.element.classList.toggle("ranking-confirmed", this.confirmed);
  }
  value() {
    return this.confirmed ? this.ranks() : undefined;
  }
  problem() {
    return this.field.required && !this.confirmed ? "Order the responses, or confirm the order shown." : null;
  }
  setValue(value) {
    if (!value || typeof value !== "object") {
      this.confirmed = false;
      this.draw();
      return;
    }
    this.order = [...this.order].sort((a, b) => (value[a] ?? 99) - (value[b] ?? 99));
    this.tied = new Set(this.order.filter((id, index) => index > 0 && value[id] === value[this.order[index - 1]]));
    this.confirmed = true;
    this.draw();
  }
  focus() {
    this.list.querySelector(".rank-item")?.focus();
  }
}

class RubricWidget extends Widget {
  constructor(field, context) {
    super(field, context);
    // Each criterion is a part of its own: one digit scores it and moves on to the next.
    this.rows = field.criteria.map((criterion) => {
      const built = scale(criterion.min, criterion.max, `f-${field.name}-${criterion.name}`, null, () => this.changed(), criterion.label || criterion.name);
      this.element.append(h("div", { class: "rubric-row" }, h("span", { class: "rubric-name", text: criterion.label || criterion.name }), built.group));
      return { criterion, ...built, part: scalePart(built, () => this.changed()) };
    });
    this.finish();
  }
  parts() {
    return this.rows.map((row) => row.part);
  }
  value() {
    const answer = {};
    for (const row of this.rows) {
      const chosen = row.inputs.find((i) => i.checked);
      if (!chosen) return undefined;
      answer[row.criterion.name] = Number(chosen.value);
    }
    return answer;
  }
  problem() {
    const open = this.rows.filter((r) => !r.inputs.some((i) => i.checked)).map((r) => r.criterion.label || r.criterion.name);
    if (!open.length) return null;
    return this.field.required || open.length < this.rows.length ? `Score: ${open.join(", ")}.` : null;
  }
  setValue(value) {
    for (const row of this.rows) for (const input of row.inputs) input.checked = Number(input.value) === value?.[row.criterion.name];
  }
}

const WIDGETS = {
  choices: ChoicesWidget,
  rating: RatingWidget,
  text: TextWidget,
  spans: SpansWidget,
  boxes: BoxesWidget,
  pairwise: PairwiseWidget,
  ranking: RankingWidget,
  rubric: RubricWidget,
  steps: stepsWidgetClass({ Widget, Part, keyHint, focusGroup }),
  // A chat asks its turn fields (rating, choices, text) of every reply, with these same widgets.
  chat: chatWidgetClass({ Widget, subWidget: (field, context) => new WIDGETS[field.type](field, context) }),
};

// The keys whose data a widget draws in the task panel itself (the rest is shown as plain content).
export function drawnKeys(schema) {
  return new Set(schema.fields.filter((f) => ["spans", "boxes", "pairwise", "ranking", "steps"].includes(f.type)).map((f) => f.source));
}

// The order of the task panel: keys no field reads first (a prompt, context), then each field's source in the
// schema's order. (Stored task data does not keep its keys' order.)
function contentOrder(schema, data) {
  if (!data || typeof data !== "object" || Array.isArray(data)) return [];
  const sources = schema.fields.map((f) => f.source).filter((key, index, all) => key && key in data && all.indexOf(key) === index);
  return [...Object.keys(data).filter((key) => !sources.includes(key)), ...sources];
}

// The task panel of one task: plain content for the keys no widget draws, the widgets' own views for the rest.
export function taskBody(schema, labeller, data, { imageUrl = () => Promise.resolve(null) } = {}) {
  const views = labeller.contentViews();
  const drawn = drawnKeys(schema);
  const body = h("div", { class: "task-body" });
  for (const key of contentOrder(schema, data)) {
    if (views.has(key)) body.append(views.get(key));
    else if (!drawn.has(key)) body.append(...renderTaskData({ [key]: data[key] }, { imageUrl }));
  }
  return body;
}

// A whole answer: the widgets of a schema over one task, `when` conditions kept live.
export class Labeller {
  constructor(schema, data, { readOnly = false, imageUrl = () => Promise.resolve(null), onChange = () => {}, lease = null } = {}) {
    this.schema = schema;
    this.onChange = onChange;
    // `lease` ({id, lease_token}): a chat field talks to the models on the annotator's own assignment.
    const context = { data, readOnly, imageUrl, lease, onChange: () => this.refresh(true) };
    this.widgets = schema.fields.map((field) => new WIDGETS[field.type](field, context));
    this.byName = new Map(this.widgets.map((w) => [w.field.name, w]));
    this.refresh(false);
  }
  // Task-panel views drawn by widgets, by source key (first widget wins when two read the same key).
  contentViews() {
    const views = new Map();
    for (const widget of this.widgets) if (widget.content && !views.has(widget.field.source)) views.set(widget.field.source, widget.content);
    return views;
  }
  visible(widget) {
    const when = widget.field.when;
    if (!when) return true;
    const other = this.byName.get(when.field);
    if (!other || !this.visible(other)) return false;
    const value = other.value();
    return Array.isArray(value) ? value.includes(when.equals) : value === when.equals;
  }
  refresh(changed) {
    for (const widget of this.widgets) {
      const shown = this.visible(widget);
      widget.element.hidden = !shown;
      if (widget.content) widget.content.hidden = !shown && !this.widgets.some((w) => w !== widget && w.field.source === widget.field.source && this.visible(w));
      if (changed && widget.errorLine.textContent && !widget.problem()) widget.showError("");
    }
    if (changed) this.onChange();
  }
  value() {
    const result = {};
    for (const widget of this.widgets) {
      if (!this.visible(widget)) continue;
      const value = widget.value();
      if (value !== undefined) result[widget.field.name] = value;
    }
    return result;
  }
  setValue(result) {
    for (const widget of this.widgets) widget.setValue(result?.[widget.field.name]);
    this.refresh(false);
  }
  // Client-side checks mirror the server's, so that most mistakes are named before a round trip.
  check() {
    const problems = [];
    for (const widget of this.widgets) {
      const problem = this.visible(widget) ? widget.problem() : null;
      widget.showError(problem);
      if (problem) problems.push(widget);
    }
    problems[0]?.focus();
    return problems.length === 0;
  }
  // Server errors name `result.<field>…`: shown on the field they belong to.
  showServerErrors(errors) {
    let first = null;
    const unplaced = [];
    for (const error of errors) {
      const name = /^result\.([a-z][a-z0-9_]*)/.exec(error.field || "")?.[1];
      const widget = name ? this.byName.get(name) : null;
      if (widget) {
        widget.showError(error.message);
        first ??= widget;
      } else {
        unplaced.push(error.message);
      }
    }
    first?.focus();
    return unplaced;
  }
  // The keyboard parts of the fields now shown, in the form's order.
  parts() {
    return this.widgets.filter((w) => this.visible(w)).flatMap((w) => w.parts().filter((part) => part.shown()));
  }
  // A digit goes to the part holding focus; with focus outside every field, to the first part still open. A
  // field that has focus but no part the digit fits (a ranking, a button) takes nothing: a digit is never passed
  // on to another field's answer. Focus ends in the answered part, or the next open one once a single answer is
  // complete, so a run of digits fills a form.
  digit(digit) {
    const active = document.activeElement;
    const inField = this.widgets.some((w) => w.element.contains(active) || w.content?.contains(active));
    const part = inField ? this.parts().find((p) => p.holds(active)) : this.nextOpen(this.parts());
    if (!part || !part.press(digit)) return false;
    // The answer may have shown or hidden parts (a tie hides its strength, `when` conditions): look again.
    const next = part.single && !part.open() ? this.nextOpen(this.parts(), part) : null;
    // A label picker leaves focus where the work is (the text being marked, the box being moved).
    if (next) next.focus();
    else if (part.answers) part.focus();
    return true;
  }
  // The first open part that digits answer after `after`, coming round to the top when none is left below it.
  nextOpen(parts, after = null) {
    const at = parts.indexOf(after);
    const open = (p) => p !== after && p.answers && p.open();
    return parts.slice(at + 1).find(open) ?? parts.slice(0, Math.max(at, 0)).find(open) ?? null;
  }
  focusFirst() {
    const widget = this.widgets.find((w) => this.visible(w));
    widget?.focus();
  }
}

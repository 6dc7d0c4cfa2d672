// Steps fields: a verdict on each step of a reasoning chain or an agent trajectory, the first error, and a verdict
// on the whole (docs/label-schemas.md, "steps"). The steps are drawn in the task panel, each with its verdicts; the
// answer panel holds a summary and the overall verdict.
//
// Keyboard (docs/web-ui.md): the list of steps is one tab stop. On a focused step, j / k or ↓ / ↑ move between
// steps, a digit gives the verdict of that number and moves on to the next step without one, and Enter opens the
// step's comment (Escape comes back; not c, which the review page's correction takes). The comment boxes are not
// tab stops, so that one Tab leaves the steps. Everything from the task is inserted as text, never as markup.

import { h } from "../api.js";
import { humanize } from "./content.js";

const INCORRECT = "incorrect";
const ROLE_NAMES = { assistant: "Assistant", tool: "Tool result", user: "User", system: "System" };

// A tool call in the flat `{name, arguments}` form or OpenAI's nested `{function: {name, arguments}}` one.
function callParts(call) {
  const inner = call && typeof call.function === "object" && call.function ? call.function : call;
  const args = inner?.arguments;
  let text = "";
  if (typeof args === "string") {
    // Arguments usually arrive as a JSON string: shown indented when they parse, as given when they do not.
    try {
      text = JSON.stringify(JSON.parse(args), null, 2);
    } catch {
      text = args;
    }
  } else if (args !== undefined && args !== null) {
    text = JSON.stringify(args, null, 2);
  }
  return { name: typeof inner?.name === "string" ? inner.name : "?", text };
}

function roleLine(step) {
  if (typeof step === "string") return null;
  const role = ROLE_NAMES[step?.role] || humanize(step?.role ?? "step");
  const name = typeof step?.name === "string" && step.name ? ` · ${step.name}` : "";
  return h("span", { class: `step-role step-role-${ROLE_NAMES[step?.role] ? step.role : "other"}`, text: role + name });
}

// One step's own content: text as text, each tool call as its name and arguments in a code block.
export function stepBody(step) {
  if (typeof step === "string") return [h("div", { class: "step-text", text: step })];
  const parts = [];
  if (typeof step?.content === "string" && step.content) {
    parts.push(step.role === "tool" ? h("pre", { class: "step-output", text: step.content }) : h("div", { class: "step-text", text: step.content }));
  }
  for (const call of Array.isArray(step?.tool_calls) ? step.tool_calls : []) {
    const { name, text } = callParts(call);
    parts.push(
      h(
        "div",
        { class: "step-call" },
        h("span", { class: "step-call-name" }, h("span", { class: "visually-hidden", text: "Calls " }), h("code", { text: name })),
        text ? h("pre", { class: "step-call-args" }, h("code", { text })) : null,
      ),
    );
  }
  return parts;
}

function stepClass(step) {
  return typeof step === "string" ? "step step-reasoning" : `step step-${ROLE_NAMES[step?.role] ? step.role : "other"}`;
}

// The widget class, built over the Widget and Part of fields.js (passed in: fields.js imports this module, so it
// cannot be imported from here without a cycle).
export function stepsWidgetClass({ Widget, Part, keyHint, focusGroup }) {
  return class StepsWidget extends Widget {
    constructor(field, context) {
      super(field, context);
      const data = context.data?.[field.source];
      this.steps = Array.isArray(data) ? data : [];
      this.current = 0;
      this.rows = this.steps.map((step, index) => this.stepRow(step, index));
      this.list = h("ol", { class: "steps", "aria-label": `Steps of ${humanize(field.source)}` }, this.rows.map((row) => row.item));
      this.content = h("section", { class: "task-section steps-view", dataset: { key: field.source } }, h("h2", { class: "task-key", text: humanize(field.source) }), this.list);
      this.summary = h("p", { class: "steps-summary", "aria-live": "polite" });
      this.element.append(this.summary);
      const overallName = `f-${field.name}-overall`;
      this.overall = field.overall.map((option, index) => {
        const input = h("input", { type: "radio", name: overallName, value: option, onchange: () => this.changed() });
        return { input, label: h("label", { class: "choice" }, input, h("span", { text: humanize(option) }), keyHint(index)) };
      });
      this.overallGroup = h("div", { class: "steps-overall", role: "radiogroup", "aria-label": "Overall verdict" }, h("span", { class: "field-sub", text: "Overall verdict" }), this.overall.map((o) => o.label));
      this.element.append(this.overallGroup);
      const inputs = this.overall.map((o) => o.input);
      this.overallPart = new Part({
        areas: [this.overallGroup],
        single: true,
        open: () => !inputs.some((input) => input.checked),
        focus: () => focusGroup(inputs),
        press: (digit) => {
          const input = inputs[digit - 1];
          if (!input) return false;
          input.checked = true;
          this.changed();
          return true;
        },
      });
      if (context.readOnly) {
        for (const row of this.rows) for (const input of [...row.inputs, row.comment]) if (input) input.disabled = true;
      }
      this.settle(0);
      this.finish();
      this.draw();
    }

    stepRow(step, index) {
      const field = this.field;
      const name = `f-${field.name}-step-${index}`;
      const inputs = field.verdicts.map((verdict) =>
        h("input", { type: "radio", name, value: verdict, tabindex: "-1", onchange: () => this.changed() }),
      );
      const verdicts = h(
        "div",
        { class: "step-verdicts", role: "radiogroup", "aria-label": `Verdict on step ${index + 1}` },
        inputs.map((input, at) =>
          h("label", { class: `step-verdict step-verdict-${at}`, dataset: { verdict: input.value } }, input, h("span", { text: humanize(input.value) }), keyHint(at)),
        ),
      );
      let comment = null;
      let commentBox = null;
      if (field.comment !== "none") {
        const id = `${name}-comment`;
        comment = h("textarea", {
          id,
          rows: 2,
          maxlength: 10000,
          tabindex: "-1",
          class: "step-comment",
          oninput: () => this.changed(),
          onkeydown: (event) => {
            if (event.key !== "Escape") return;
            event.preventDefault();
            event.stopPropagation();
            this.focusStep(index);
          },
        });
        const caption = field.comment === "required_on_incorrect" ? "What is wrong with this step?" : "Comment (optional)";
        commentBox = h("div", { class: "step-comment-box", hidden: true }, h("label", { for: id, class: "field-sub", text: caption }), comment);
      }
      const skipped = h("p", { class: "step-skipped-note", hidden: true, text: "No verdict needed: the review stops at the first error." });
      const item = h(
        "li",
        {
          class: stepClass(step),
          tabindex: "-1",
          dataset: { index: String(index) },
          "aria-label": `Step ${index + 1}`,
          onkeydown: (event) => this.stepKey(event, index),
          onfocusin: () => this.settle(index),
        },
        h("div", { class: "step-head" }, h("span", { class: "step-number", text: `Step ${index + 1}` }), roleLine(step)),
        h("div", { class: "step-body" }, stepBody(step)),
        verdicts,
        skipped,
        commentBox,
      );
      const row = { item, inputs, comment, commentBox, skipped, opened: false };
      row.part = new Part({
        areas: [item],
        single: true,
        shown: () => !this.afterStop(index),
        open: () => !this.verdictOf(index) || this.commentMissing(index),
        focus: () => (this.commentMissing(index) ? this.openComment(index) : this.focusStep(index)),
        press: (digit) => {
          const input = inputs[digit - 1];
          if (!input || this.context.readOnly) return false;
          input.checked = true;
          this.settle(index);
          this.changed();
          return true;
        },
      });
      return row;
    }

    // The roving tab stop: the step last focused is the one Tab comes back to.
    settle(index) {
      this.current = index;
      this.rows.forEach((row, at) => (row.item.tabIndex = at === index ? 0 : -1));
    }

    focusStep(index) {
      const row = this.rows[index];
      if (!row) return;
      this.settle(index);
      row.item.focus();
      row.item.scrollIntoView?.({ block: "nearest" });
    }

    openComment(index) {
      const row = this.rows[index];
      if (!row?.comment) return;
      row.opened = true;
      this.draw();
      row.comment.focus();
    }

    stepKey(event, index) {
      if (event.altKey || event.ctrlKey || event.metaKey || event.target.tagName === "TEXTAREA") return;
      const move = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[event.key];
      if (move) {
        event.preventDefault();
        this.focusStep(Math.max(0, Math.min(this.rows.length - 1, index + move)));
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        this.focusStep(event.key === "Home" ? 0 : this.rows.length - 1);
      } else if (event.key === "Enter" && !event.shiftKey && this.rows[index].comment && !this.context.readOnly) {
        event.preventDefault();
        this.openComment(index);
      }
    }

    verdictOf(index) {
      return this.rows[index]?.inputs.find((input) => input.checked)?.value;
    }

    firstError() {
      const at = this.rows.findIndex((_row, index) => this.verdictOf(index) === INCORRECT);
      return at < 0 ? null : at;
    }

    // With stop_at_first_error, the steps after the first incorrect one take no verdict.
    afterStop(index) {
      if (!this.field.stop_at_first_error) return false;
      const first = this.firstError();
      return first !== null && index > first;
    }

    needed() {
      return this.rows.map((_row, index) => index).filter((index) => !this.afterStop(index));
    }

    commentText(index) {
      return this.rows[index]?.comment?.value.trim() ?? "";
    }

    commentMissing(index) {
      return this.field.comment === "required_on_incorrect" && this.verdictOf(index) === INCORRECT && !this.commentText(index);
    }

    changed() {
      this.draw();
      super.changed();
    }

    draw() {
      const first = this.firstError();
      this.rows.forEach((row, index) => {
        const verdict = this.verdictOf(index);
        const after = this.afterStop(index);
        row.item.classList.toggle("step-after-stop", after);
        row.item.classList.toggle("step-first-error", index === first);
        row.item.dataset.verdict = verdict ?? "";
        row.skipped.hidden = !after;
        if (row.commentBox) {
          const required = this.field.comment === "required_on_incorrect" && verdict === INCORRECT;
          row.commentBox.hidden = after || !(required || row.opened || this.commentText(index));
        }
      });
      const needed = this.needed();
      const done = needed.filter((index) => this.verdictOf(index)).length;
      const error = first === null ? "no error marked" : `first error: step ${first + 1}`;
      this.summary.textContent = `${done} of ${needed.length} steps reviewed · ${error}`;
    }

    parts() {
      return [...this.rows.filter((_row, index) => !this.afterStop(index)).map((row) => row.part), this.overallPart];
    }

    focus() {
      const open = this.parts().find((part) => part.open());
      (open ?? this.rows[this.current]?.part ?? this.overallPart).focus();
    }

    value() {
      const steps = [];
      for (const index of this.needed()) {
        const verdict = this.verdictOf(index);
        if (!verdict) continue;
        const comment = this.commentText(index);
        steps.push(comment && this.field.comment !== "none" ? { index, verdict, comment } : { index, verdict });
      }
      const overall = this.overall.find((o) => o.input.checked)?.input.value;
      if (!steps.length && overall === undefined) return undefined;
      const answer = { steps, first_error: this.firstError() };
      if (overall !== undefined) answer.overall = overall;
      return answer;
    }

    problem() {
      const value = this.value();
      if (value === undefined) return this.field.required ? "Give a verdict on each step." : null;
      const missing = this.needed().filter((index) => !this.verdictOf(index));
      if (missing.length) return `Give a verdict on step ${missing.map((index) => index + 1).join(", ")}.`;
      const uncommented = this.needed().filter((index) => this.commentMissing(index));
      if (uncommented.length) return `Say what is wrong with step ${uncommented.map((index) => index + 1).join(", ")}.`;
      if (value.overall === undefined) return "Give the overall verdict.";
      return null;
    }

    setValue(value) {
      for (const row of this.rows) {
        for (const input of row.inputs) input.checked = false;
        if (row.comment) row.comment.value = "";
        row.opened = false;
      }
      for (const item of Array.isArray(value?.steps) ? value.steps : []) {
        const row = this.rows[item?.index];
        if (!row) continue;
        for (const input of row.inputs) input.checked = input.value === item.verdict;
        if (row.comment && typeof item.comment === "string") row.comment.value = item.comment;
      }
      for (const o of this.overall) o.input.checked = o.input.value === value?.overall;
      this.draw();
    }
  };
}

// The read-only form of an answer (review page, other answers, gold): each step's verdicts with the chosen one
// marked, its comment, the first error and the overall verdict.
function verdictList(options, chosen, label) {
  return h(
    "ul",
    { class: "ro-options", "aria-label": label },
    options.map((option) => {
      const picked = option === chosen;
      return h(
        "li",
        { class: picked ? "ro-option ro-chosen" : "ro-option", dataset: { value: option } },
        h("span", { class: "ro-mark", "aria-hidden": "true", text: picked ? "✓" : "" }),
        h("span", { class: "ro-option-text", text: humanize(option) }),
        picked ? h("span", { class: "visually-hidden", text: " (chosen)" }) : null,
      );
    }),
  );
}

export function renderStepsAnswer(field, value, { data } = {}) {
  if (!value || typeof value !== "object" || !Array.isArray(value.steps)) return h("p", { class: "ro-none", text: "No answer" });
  const steps = Array.isArray(data?.[field.source]) ? data[field.source] : [];
  const byIndex = new Map(value.steps.filter((s) => s && typeof s === "object").map((s) => [s.index, s]));
  const count = Math.max(steps.length, ...value.steps.map((s) => (Number.isInteger(s?.index) ? s.index + 1 : 0)));
  const rows = [];
  for (let index = 0; index < count; index += 1) {
    const given = byIndex.get(index);
    rows.push(
      h(
        "li",
        { class: `ro-step${given?.verdict === INCORRECT ? " ro-step-incorrect" : ""}${given ? "" : " ro-step-none"}`, dataset: { index: String(index), verdict: given?.verdict ?? "" } },
        h("span", { class: "ro-step-number", text: `Step ${index + 1}` }),
        given ? verdictList(field.verdicts, given.verdict, `Verdict on step ${index + 1}`) : h("span", { class: "ro-none", text: "No verdict" }),
        typeof given?.comment === "string" && given.comment.trim() ? h("div", { class: "ro-text ro-step-comment", text: given.comment }) : null,
      ),
    );
  }
  const first = Number.isInteger(value.first_error) ? `Step ${value.first_error + 1}` : "None";
  return h(
    "div",
    { class: "ro-steps" },
    h("ol", { class: "ro-step-list", "aria-label": "Verdicts per step" }, rows),
    h("p", { class: "ro-sub ro-first-error" }, "First error: ", h("strong", { text: first })),
    h("p", { class: "ro-sub", text: "Overall verdict" }),
    value.overall === undefined ? h("p", { class: "ro-none", text: "No answer" }) : verdictList(field.overall, value.overall, "Overall verdict"),
  );
}

// The chat field: a live conversation with the lab's models, their replies side by side as "Response A/B…",
// streamed piece by piece, each reply editable and regenerable, each turn rated (the field's turn fields) and, when
// several models answer, the best reply chosen. The conversation goes on from the chosen reply (or the only one).
//
// Replies stream as Server-Sent Events from a POST, read with fetch and a ReadableStream (EventSource cannot POST).
// Events name a reply by its slot letter only; nothing here ever learns which model wrote it while the field is
// blind. Read-only (review), the widget draws the conversation the answer names, from the reviewers' route.

import { ApiError, announce, h } from "../api.js";
import { humanize } from "./content.js";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";

// One streamed request: `onEvent(name, data)` for each event; rejects with ApiError when the answer is not a stream.
async function streamEvents(path, body, onEvent) {
  let response;
  try {
    response = await fetch(`/api/v1/${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { message: "The server could not be reached. Check the connection and try again." });
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, data);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value ?? new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = Object.fromEntries(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]));
      if (lines.event && lines.data) onEvent(lines.event, JSON.parse(lines.data));
    }
    if (done) return;
  }
}

async function getJson(path) {
  const response = await fetch(`/api/v1/${path}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function postJson(path, body) {
  const response = await fetch(`/api/v1/${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The path the annotator is on: the latest first prompt, then in each turn the latest reply in every slot (an edit
// or a regeneration comes after what it replaces), the chosen one being the parent of the next turn's prompt.
function currentPath(messages, slots) {
  const children = new Map();
  for (const message of messages) {
    const key = message.parent ?? "root";
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(message);
  }
  const turns = [];
  let parent = "root";
  for (;;) {
    const prompts = (children.get(parent) ?? []).filter((m) => m.role === "user");
    const prompt = prompts[prompts.length - 1];
    if (!prompt) break;
    const replies = {};
    for (const reply of children.get(prompt.id) ?? []) replies[reply.slot] = reply;
    const turn = { prompt, replies, chosen: null };
    turns.push(turn);
    const next = slots.map((slot) => replies[slot]).find((reply) => reply && (children.get(reply.id) ?? []).some((m) => m.role === "user"));
    if (!next) break;
    turn.chosen = next.id;
    parent = next.id;
  }
  return turns;
}

export function chatWidgetClass({ Widget, subWidget }) {
  return class ChatWidget extends Widget {
    constructor(field, context) {
      super(field, context);
      this.slots = "ABCD".slice(0, field.connections.length).split("");
      this.compares = this.slots.length > 1;
      this.lease = context.lease ?? null;
      this.conversation = null;
      this.turns = [];
      this.streaming = false;
      this.pending = null; // an answer given before the conversation was loaded (a draft, a review)
      this.transcript = h("div", { class: "chat-transcript", "aria-live": "polite" });
      this.element.append(this.transcript);
      if (!context.readOnly) {
        this.prompt = h("textarea", { class: "chat-prompt", rows: 3, "aria-label": `Message to the models (${field.label || humanize(field.name)})`, maxlength: 20000 });
        this.prompt.addEventListener("keydown", (event) => {
          if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            this.send();
          }
        });
        this.sendButton = h("button", { type: "button", class: "button button-primary chat-send", text: "Send", onclick: () => this.send() });
        this.turnsLeft = h("p", { class: "hint chat-turns-left" });
        this.element.append(h("div", { class: "chat-compose" }, this.prompt, h("div", { class: "chat-compose-actions" }, this.sendButton, this.turnsLeft)));
      }
      this.finish();
      if (this.element.disabled) this.element.disabled = false; // read-only is drawn without inputs, not disabled
      // Sending waits for the conversation so far: a turn begun before it arrived would be drawn over.
      this.ready = !context.readOnly && this.lease ? this.load() : Promise.resolve();
      if (context.readOnly) this.transcript.append(h("p", { class: "hint", text: "No conversation yet." }));
    }

    base() {
      return `assignments/${this.lease.id}/chat/${this.field.name}`;
    }

    async load() {
      try {
        const view = await getJson(this.base());
        this.conversation = view.conversation;
        this.turns = currentPath(view.messages, this.slots);
      } catch (error) {
        this.showError(error.message);
      }
      this.draw();
      if (this.pending) this.setValue(this.pending);
    }

    // Read-only: the conversation an answer names, as the reviewers' route gives it.
    showConversation(view, answer) {
      this.conversation = view.conversation;
      const byId = new Map(view.messages.map((m) => [m.id, m]));
      this.turns = (answer?.turns ?? []).map((turn) => ({
        prompt: byId.get(turn.prompt) ?? { id: turn.prompt, content: "" },
        replies: Object.fromEntries((turn.replies ?? []).map((id, index) => [this.slots[index], byId.get(id) ?? { id, slot: this.slots[index], content: "", state: "complete" }])),
        chosen: turn.chosen ?? null,
        ratings: turn.ratings ?? {},
      }));
      this.draw();
    }

    draw() {
      this.transcript.replaceChildren();
      if (!this.turns.length) this.transcript.append(h("p", { class: "hint chat-empty", text: this.context.readOnly ? "No conversation yet." : "Write the first message below." }));
      this.turns.forEach((turn, index) => this.transcript.append(this.turnView(turn, index)));
      if (this.prompt) {
        const left = this.field.max_turns - this.turns.length;
        this.turnsLeft.textContent = left > 0 ? `${left} of ${this.field.max_turns} turns left · Ctrl+Enter sends` : "The conversation has all its turns.";
        this.sendButton.disabled = this.streaming || left <= 0;
        this.prompt.disabled = this.streaming || left <= 0;
      }
    }

    turnView(turn, index) {
      const last = index === this.turns.length - 1;
      turn.widgets ??= {};
      const section = h("section", { class: "chat-turn", "aria-label": `Turn ${index + 1}` });
      section.append(h("div", { class: "chat-message chat-user" }, h("span", { class: "chat-who", text: "You" }), h("p", { class: "chat-text", text: turn.prompt.content })));
      const row = h("div", { class: `chat-replies chat-replies-${this.slots.length}` });
      for (const slot of this.slots) row.append(this.replyView(turn, slot, index, last));
      section.append(row);
      return section;
    }

    replyView(turn, slot, index, last) {
      const reply = turn.replies[slot];
      const card = h("article", { class: "chat-message chat-reply", dataset: { slot }, "aria-label": `Response ${slot}` });
      card.append(h("h3", { class: "chat-who", text: `Response ${slot}` }));
      const text = h("p", { class: "chat-text", text: reply?.content ?? "" });
      card.append(text);
      const status = h("p", { class: "chat-status", role: reply?.state === "failed" ? "alert" : null });
      if (reply?.state === "failed") status.textContent = reply.error || "This reply failed; regenerate it.";
      else if (reply?.state === "streaming") status.textContent = "Writing…";
      if (reply?.origin === "edited") card.append(h("p", { class: "hint chat-edited", text: "Edited by you" }));
      card.append(status);
      turn.nodes ??= {};
      turn.nodes[slot] = { text, status, card };
      const editable = !this.context.readOnly && last && !this.streaming && reply && reply.state !== "streaming";
      if (this.compares) {
        const choice = h("input", { type: "radio", name: `chat-${this.field.name}-best-${index}`, value: reply?.id ?? "", disabled: this.context.readOnly || !last || reply?.state !== "complete" });
        choice.checked = Boolean(reply && turn.chosen === reply.id);
        choice.addEventListener("change", () => {
          turn.chosen = reply.id;
          this.changed();
        });
        card.append(h("label", { class: "choice chat-best" }, choice, h("span", { text: "Best response" })));
      }
      const ratings = h("div", { class: "chat-ratings" });
      for (const sub of this.field.turn_fields) {
        turn.widgets[slot] ??= {};
        let widget = turn.widgets[slot][sub.name];
        if (!widget) {
          widget = subWidget({ ...sub, name: `${this.field.name}-${index}-${slot}-${sub.name}` }, { ...this.context, onChange: () => this.changed() });
          const value = turn.ratings?.[slot]?.[sub.name];
          if (value !== undefined) widget.setValue(value);
          turn.widgets[slot][sub.name] = widget;
        }
        if (this.context.readOnly) widget.element.disabled = true;
        ratings.append(widget.element);
      }
      card.append(ratings);
      if (editable) {
        const actions = h("div", { class: "chat-actions" });
        if (reply.state === "complete") actions.append(h("button", { type: "button", class: "button button-small", text: `Edit response ${slot}`, onclick: () => this.startEdit(turn, slot) }));
        actions.append(h("button", { type: "button", class: "button button-small", text: `Regenerate response ${slot}`, onclick: () => this.regenerate(turn, slot) }));
        card.append(actions);
      }
      return card;
    }

    startEdit(turn, slot) {
      const { card, text } = turn.nodes[slot];
      const box = h("textarea", { class: "chat-edit", rows: 6, "aria-label": `Edit response ${slot}` });
      box.value = turn.replies[slot].content;
      const save = h("button", { type: "button", class: "button button-primary button-small", text: "Save edit" });
      const cancel = h("button", { type: "button", class: "button button-small", text: "Cancel", onclick: () => this.draw() });
      save.addEventListener("click", async () => {
        save.disabled = true;
        try {
          const edited = await postJson(`${this.base()}/messages/${turn.replies[slot].id}/edit`, { lease_token: this.lease.lease_token, content: box.value });
          const wasChosen = turn.chosen === turn.replies[slot].id;
          turn.replies[slot] = edited;
          if (wasChosen || !this.compares) turn.chosen = edited.id;
          announce(`Response ${slot} edited.`, "success");
          this.draw();
          this.changed();
        } catch (error) {
          save.disabled = false;
          announce(error.message, "error");
          this.showError(error.message);
        }
      });
      text.replaceWith(h("div", { class: "chat-edit-box" }, box, h("div", { class: "chat-actions" }, save, cancel)));
      card.querySelector(".chat-actions:not(.chat-edit-box .chat-actions)")?.remove();
      box.focus();
    }

    async send() {
      if (this.streaming || !this.lease) return;
      await this.ready;
      const content = this.prompt.value;
      if (!content.trim()) {
        this.showError("Write a message first.");
        this.prompt.focus();
        return;
      }
      const last = this.turns[this.turns.length - 1];
      let parent = null;
      if (last) {
        parent = this.compares ? last.chosen : last.replies[this.slots[0]]?.id;
        const reply = Object.values(last.replies).find((r) => r.id === parent);
        if (!parent || reply?.state !== "complete") {
          this.showError(this.compares ? "Choose the best response to go on from." : "Regenerate the failed reply first.");
          return;
        }
      }
      this.showError("");
      const turn = { prompt: { id: null, content }, replies: {}, chosen: null };
      this.turns.push(turn);
      this.prompt.value = "";
      await this.run(`${this.base()}/turns`, { lease_token: this.lease.lease_token, prompt: content, parent }, turn);
    }

    async regenerate(turn, slot) {
      const previous = turn.replies[slot];
      const wasChosen = turn.chosen === previous.id;
      await this.run(`${this.base()}/messages/${previous.id}/regenerate`, { lease_token: this.lease.lease_token }, turn, () => {
        if (wasChosen) turn.chosen = turn.replies[slot].id;
      });
    }

    async run(path, body, turn, after = () => {}) {
      this.streaming = true;
      this.draw();
      try {
        await streamEvents(path, body, (event, data) => this.onEvent(turn, event, data));
      } catch (error) {
        if (!turn.prompt.id) this.turns.pop();
        if (error instanceof ApiError && error.code === "lease_lost") this.prompt.value ||= body.prompt ?? "";
        this.showError(error.message);
        announce(error.message, "error");
      }
      this.streaming = false;
      after();
      this.draw();
      this.changed();
      this.prompt?.focus();
    }

    onEvent(turn, event, data) {
      if (event === "prompt") {
        this.conversation = data.conversation;
        turn.prompt.id = data.message;
        for (const reply of data.replies) turn.replies[reply.slot] = { id: reply.message, slot: reply.slot, content: "", state: "streaming", origin: "generated" };
        this.draw();
        return;
      }
      const reply = turn.replies[data.slot];
      if (!reply) return;
      const nodes = turn.nodes?.[data.slot];
      if (event === "delta") {
        reply.content += data.text;
        if (nodes) nodes.text.textContent = reply.content;
      } else if (event === "done") {
        Object.assign(reply, { content: data.text, state: "complete" });
        if (nodes) {
          nodes.text.textContent = reply.content;
          nodes.status.textContent = "";
        }
      } else if (event === "error") {
        Object.assign(reply, { state: "failed", error: data.error });
        if (nodes) {
          nodes.status.textContent = data.error;
          nodes.status.setAttribute("role", "alert");
        }
        announce(`Response ${data.slot}: ${data.error}`, "error");
      }
    }

    value() {
      if (!this.conversation && !this.turns.length) return undefined;
      const turns = this.turns
        .filter((turn) => turn.prompt.id)
        .map((turn) => {
          const answer = { prompt: turn.prompt.id, replies: this.slots.map((slot) => turn.replies[slot]?.id ?? null) };
          if (turn.chosen) answer.chosen = turn.chosen;
          const ratings = {};
          for (const slot of this.slots) {
            ratings[slot] = {};
            for (const sub of this.field.turn_fields) {
              const value = turn.widgets?.[slot]?.[sub.name]?.value();
              if (value !== undefined) ratings[slot][sub.name] = value;
            }
          }
          answer.ratings = ratings;
          return answer;
        });
      return turns.length && this.conversation ? { conversation: this.conversation, turns } : undefined;
    }

    setValue(value) {
      if (!value || !Array.isArray(value.turns)) return;
      if (!this.context.readOnly && !this.turns.length) {
        this.pending = value;
        return;
      }
      this.pending = null;
      for (const [index, saved] of value.turns.entries()) {
        const turn = this.turns[index];
        if (!turn || turn.prompt.id !== saved.prompt) break;
        if (saved.chosen) turn.chosen = saved.chosen;
        turn.ratings = saved.ratings ?? {};
        for (const slot of this.slots) for (const sub of this.field.turn_fields) {
          const v = saved.ratings?.[slot]?.[sub.name];
          if (v !== undefined) turn.widgets?.[slot]?.[sub.name]?.setValue(v);
        }
      }
      this.draw();
    }

    problem() {
      const turns = this.turns.filter((t) => t.prompt.id);
      if (!turns.length) return this.field.required ? "Hold at least one turn of the conversation." : null;
      for (const [index, turn] of turns.entries()) {
        const where = turns.length > 1 ? `Turn ${index + 1}: ` : "";
        if (this.slots.some((slot) => turn.replies[slot]?.state !== "complete")) return `${where}regenerate the failed reply.`;
        if (this.compares && this.field.require_choice && !turn.chosen) return `${where}choose the best response.`;
        for (const slot of this.slots) {
          for (const sub of this.field.turn_fields) {
            if (sub.required && turn.widgets?.[slot]?.[sub.name]?.value() === undefined) return `${where}response ${slot} needs ${sub.label || humanize(sub.name)}.`;
          }
        }
      }
      return null;
    }

    focus() {
      (this.prompt && !this.prompt.disabled ? this.prompt : this.element.querySelector("input, textarea, button"))?.focus();
    }
  };
}

// A chat answer drawn for reading (review): each turn's prompt, the replies side by side as "Response A/B…", the
// chosen one marked, and the ratings given to each, drawn by `render` (readonly.js's renderers of the turn fields).
// The conversation is fetched from the reviewers' route, which names no model.
export function renderChatAnswer(field, value, render) {
  const body = h("div", { class: "ro-chat" });
  if (!value || !Array.isArray(value.turns) || !value.conversation) {
    body.append(h("p", { class: "ro-none", text: "No answer" }));
    return body;
  }
  const slots = "ABCD".slice(0, field.connections.length).split("");
  body.append(h("p", { class: "hint", text: "Loading the conversation…" }));
  getJson(`conversations/${value.conversation}`)
    .then((view) => {
      const byId = new Map(view.messages.map((m) => [m.id, m]));
      body.replaceChildren(
        ...value.turns.map((turn, index) =>
          h(
            "section",
            { class: "chat-turn", "aria-label": `Turn ${index + 1}` },
            h("div", { class: "chat-message chat-user" }, h("span", { class: "chat-who", text: "Prompt" }), h("p", { class: "chat-text", text: byId.get(turn.prompt)?.content ?? "" })),
            h(
              "div",
              { class: `chat-replies chat-replies-${slots.length}` },
              slots.map((slot, at) => {
                const reply = byId.get(turn.replies?.[at]);
                const chosen = turn.chosen && turn.chosen === turn.replies?.[at];
                const ratings = field.turn_fields.map((sub) =>
                  h("div", { class: "ro-sub-field" }, h("p", { class: "ro-sub", text: sub.label || humanize(sub.name) }), render[sub.type](sub, turn.ratings?.[slot]?.[sub.name])),
                );
                return h(
                  "article",
                  { class: `chat-message chat-reply${chosen ? " chat-chosen" : ""}`, dataset: { slot } },
                  h("h4", { class: "chat-who", text: `Response ${slot}${chosen ? " · chosen" : ""}` }),
                  reply?.origin === "edited" ? h("p", { class: "hint chat-edited", text: "Edited by the annotator" }) : null,
                  h("p", { class: "chat-text", text: reply?.content ?? "" }),
                  ratings,
                );
              }),
            ),
          ),
        ),
      );
    })
    .catch((error) => body.replaceChildren(h("p", { class: "field-error", text: error.message })));
  return body;
}

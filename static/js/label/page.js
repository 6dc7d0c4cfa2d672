// What the labelling and review pages share: their settings and schema (from json_script blocks), the elements of
// their common skeleton, and the guidelines dialog on the G key and its button.

const byId = (id) => document.getElementById(id);

export const settings = JSON.parse(byId("workspace-settings").textContent);
export const schema = JSON.parse(byId("label-schema").textContent);
export const page = {
  root: byId("workspace"),
  content: byId("task-content"),
  fields: byId("task-fields"),
  notice: byId("notice"),
  taskRef: byId("task-ref"),
  doneCount: byId("done-count"),
  guidelines: byId("guidelines"),
};

byId("guidelines-open").addEventListener("click", () => page.guidelines.showModal());

// Whether a key press belongs to what the user is typing rather than to the page's shortcuts.
export function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName)) return true;
  return target instanceof HTMLInputElement && !["radio", "checkbox"].includes(target.type);
}

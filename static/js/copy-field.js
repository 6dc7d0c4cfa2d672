// Copy buttons: `data-copy="<id>"` copies the value of that read-only field (an invitation link on the members
// page). Where the clipboard is refused, the field's text is left selected for Ctrl+C.
import { announce } from "./api.js";

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.dataset.copied = "true";
      announce("Link copied.");
    } catch {
      announce("The browser refused the clipboard: the link is selected, copy it with Ctrl+C.", "error");
    }
  });
}

// The audit page's small enhancements; the page works fully without them.

const search = document.getElementById("id_q");

// "/" jumps to the search box, as on most log viewers, unless the user is already typing somewhere.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || !search) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
  event.preventDefault();
  search.focus();
  search.select();
});

// Verification can take a while on a long trail: say so, and stop a second submission.
for (const form of document.querySelectorAll("form.verify-form")) {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (!button) return;
    // Disabled after this task so that the browser still submits the form.
    setTimeout(() => {
      button.disabled = true;
      button.textContent = button.dataset.busyLabel || "Working…";
      button.setAttribute("aria-busy", "true");
    }, 0);
  });
}

// Leave empty filter fields out of the query string, so that the address stays readable and shareable.
for (const form of document.querySelectorAll("form.audit-search")) {
  form.addEventListener("submit", () => {
    for (const field of form.querySelectorAll("input, select")) {
      if (field.name && field.value.trim() === "") field.disabled = true;
    }
  });
}

// A page restored from the back/forward cache must not keep fields disabled by the handler above.
window.addEventListener("pageshow", () => {
  for (const field of document.querySelectorAll("form.audit-search [disabled]")) field.disabled = false;
});

// A target is shown by its name; its id, which searches and the API take, is one click away on the clipboard.
if (navigator.clipboard) {
  for (const button of document.querySelectorAll("button.copy-id[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
      setTimeout(() => { button.textContent = "Copy id"; }, 1500);
    });
  }
}

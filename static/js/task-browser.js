// The data browser's selection: "tick all" for the page, a live count, and only the inputs the chosen change uses.
const form = document.getElementById("bulk-form");
if (form) {
  const boxes = () => [...form.querySelectorAll('input[name="tasks"]')];
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  const action = document.getElementById("id_action");
  const priority = document.getElementById("id_priority");
  const format = document.getElementById("id_format");
  const apply = document.getElementById("bulk-apply");

  const refresh = () => {
    const ticked = boxes().filter((box) => box.checked).length;
    count.textContent = ticked ? `${ticked} ticked` : "None ticked";
    apply.disabled = ticked === 0;
    if (all) {
      all.checked = ticked > 0 && ticked === boxes().length;
      all.indeterminate = ticked > 0 && ticked < boxes().length;
    }
    priority.hidden = action.value !== "priority";
    format.hidden = action.value !== "export";
  };

  all?.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    refresh();
  });
  form.addEventListener("change", refresh);
  refresh();
}

// A frame's history page: restoring a revision asks first, in the page. "Restore" shows the question
// under the button; "Yes, restore" posts the form (with confirmed=1), "Cancel" hides the question.

function closeAll(except) {
  for (const box of document.querySelectorAll(".restore-confirm")) {
    if (box !== except) box.hidden = true;
  }
}

for (const form of document.querySelectorAll("form.restore-form")) {
  const ask = form.querySelector("button.restore");
  const box = form.querySelector(".restore-confirm");
  if (!ask || !box) continue;
  ask.addEventListener("click", () => {
    closeAll(box);
    box.hidden = false;
    box.querySelector(".confirm-restore")?.focus();
  });
  box.querySelector(".cancel-restore")?.addEventListener("click", () => {
    box.hidden = true;
    ask.focus();
  });
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeAll(null);
});

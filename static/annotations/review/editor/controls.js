// Input wiring: the keyboard (dispatched through shortcuts.js), the toolbar buttons and the
// dialogs' own controls, and which buttons this person's role shows.

import { actions } from "./actions.js";
import { keepMine, takeTheirs } from "./conflict.js";
import { $, cfg, state } from "./context.js";
import { confirmReject } from "./decisions.js";
import { release } from "./frames.js";
import { notice } from "./panels.js";
import { renderHelp, shortcutFor } from "./shortcuts.js";

const BUTTONS = {
  "btn-prev": "prevFrame", "btn-next": "nextFrame", "btn-copy-prev": "copyPrevious", "btn-undo": "undo",
  "btn-redo": "redo", "btn-save": "save", "btn-submit": "submit", "btn-skip": "skip", "btn-accept": "accept",
  "btn-reject": "reject", "btn-help": "help", "btn-accept-all": "acceptAllPredictions", "btn-confirm-all": "confirmAll",
  "btn-zoom-in": "zoomIn", "btn-zoom-out": "zoomOut", "btn-fit": "fit", "btn-template": "template",
};

function onKey(e) {
  if (e.target.closest && e.target.closest("input, textarea, select")) return;
  if ($("conflict").open) {
    if (e.key === "m") keepMine();
    else if (e.key === "t") takeTheirs();
    return;
  }
  if ($("reject-dialog").open || $("remove-person-dialog").open) return;
  const shortcut = shortcutFor(e);
  if (!shortcut) return;
  if ($("help").open && !["help", "escape"].includes(shortcut.action)) return;
  e.preventDefault();
  if (state.loading) return;
  actions[shortcut.action](e);
}

export function bindKeyboard() {
  document.addEventListener("keydown", onKey);
}

export function bindButtons() {
  for (const [id, action] of Object.entries(BUTTONS)) {
    $(id).addEventListener("click", (e) => {
      e.currentTarget.blur(); // keys go to the editor, not to a focused button
      actions[action](e);
    });
  }
  $("btn-release").addEventListener("click", release);
  $("keep-mine").addEventListener("click", keepMine);
  $("take-theirs").addEventListener("click", takeTheirs);
  $("reject-confirm").addEventListener("click", confirmReject);
  $("reject-cancel").addEventListener("click", () => $("reject-dialog").close());
  $("reject-comment").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      confirmReject();
    }
  });
  $("help-close").addEventListener("click", () => $("help").close());
  $("notice").addEventListener("click", (e) => {
    if (e.target.tagName !== "A") notice("");
  });
  $("toggle-onion").addEventListener("change", actions.toggleOnion);
  $("toggle-ghost").addEventListener("change", actions.toggleGhost);
}

/** Shows the buttons that fit the page: skip in a queue, decisions for reviewers. */
export function showRoleButtons() {
  $("btn-skip").hidden = !cfg.queue;
  $("btn-reject").hidden = !cfg.canDecide;
  // One accept action: in a review queue the main button accepts and opens the next frame, so the
  // separate Accept button (and its Shift+A) is only offered outside a queue.
  const acceptsInQueue = Boolean(cfg.decisionQueue && cfg.canDecide);
  $("btn-accept").hidden = !cfg.canDecide || acceptsInQueue;
  $("btn-submit").textContent = acceptsInQueue ? "Accept & next" : cfg.queue ? "Submit & next" : "Submit";
}

/** The help overlay, written from the shortcut table. */
export function renderShortcutHelp() {
  renderHelp($("help-rows"));
}

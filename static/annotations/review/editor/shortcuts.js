// Every keyboard shortcut of the editor, in one table: the key handler dispatches from it and the
// help overlay is rendered from it, so the overlay can never miss or misname a shortcut.

export const SHORTCUTS = [
  { group: "Points", keys: ["Tab"], action: "nextInBody",
    label: "Select the next keypoint down the body (after a click places a point, the next unplaced one is selected)" },
  { group: "Points", keys: ["Shift+Tab"], action: "prevInBody", label: "Select the previous keypoint down the body" },
  { group: "Points", keys: ["t"], action: "template",
    label: "Drop a whole pose to correct: the model's prediction, or the project's mean pose fitted to a box you drag" },
  { group: "Points", keys: ["]"], action: "nextPoint", label: "Select the next keypoint" },
  { group: "Points", keys: ["["], action: "prevPoint", label: "Select the previous keypoint" },
  { group: "Points", keys: ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"], action: "nudge",
    label: "Move the selected point by 1 image pixel" },
  { group: "Points", keys: ["Shift+ArrowLeft", "Shift+ArrowRight", "Shift+ArrowUp", "Shift+ArrowDown"],
    action: "nudgeFar", label: "Move the selected point by 10 image pixels" },
  { group: "Points", keys: ["p"], action: "place",
    label: "Place the selected point at the mouse pointer (or the view centre)" },
  { group: "Points", keys: ["v"], action: "cycleVisibility",
    label: "Switch visibility: visible (2) ↔ occluded (1); never removes a point" },
  { group: "Points", keys: ["Delete", "Backspace"], action: "deletePoint",
    label: "Remove the selected point (v = 0; Ctrl+Z brings it back)" },
  { group: "Points", keys: ["c"], action: "confirm", label: "Confirm the selected point as verified" },
  { group: "Points", keys: ["Shift+c"], action: "confirmAll", label: "Confirm every placed point" },
  { group: "Points", keys: ["y"], action: "acceptPrediction",
    label: "Accept the model's prediction for the selected point" },
  { group: "Points", keys: ["Shift+y"], action: "acceptAllPredictions", label: "Accept every predicted point" },
  { group: "Frame", keys: ["1", "2", "3", "4", "5", "6", "7", "8", "9"], action: "formLabel",
    label: "Set the form label with that number" },
  { group: "Frame", keys: ["Ctrl+z"], action: "undo", label: "Undo" },
  { group: "Frame", keys: ["Ctrl+Shift+z", "Ctrl+y"], action: "redo", label: "Redo" },
  { group: "Frame", keys: ["s", "Ctrl+s"], action: "save", label: "Save now (edits also save by themselves)" },
  { group: "Frame", keys: ["d"], action: "prevFrame", label: "Previous frame of the clip" },
  { group: "Frame", keys: ["f"], action: "nextFrame", label: "Next frame of the clip" },
  { group: "Frame", keys: ["Shift+d"], action: "copyPrevious", label: "Copy all keypoints from the previous frame" },
  { group: "Frame", keys: ["h"], action: "history", label: "Open this frame's history" },
  { group: "Queue", keys: ["Ctrl+Enter"], action: "submit",
    label: "Submit and go to the next queue item (reviewers: accept, or fix if you changed it)" },
  { group: "Queue", keys: ["Shift+s"], action: "skip", label: "Skip this frame and take the next one" },
  { group: "Queue", keys: ["Shift+a"], action: "accept", label: "Accept (reviewers)" },
  { group: "Queue", keys: ["Shift+r"], action: "reject", label: "Reject with a comment (reviewers)" },
  { group: "View", keys: ["+", "="], action: "zoomIn", label: "Zoom in" },
  { group: "View", keys: ["-"], action: "zoomOut", label: "Zoom out" },
  { group: "View", keys: ["0"], action: "fit", label: "Fit the frame and every point to the view" },
  { group: "View", keys: ["Alt+ArrowLeft", "Alt+ArrowRight", "Alt+ArrowUp", "Alt+ArrowDown"], action: "pan",
    label: "Pan the view" },
  { group: "View", keys: ["o"], action: "toggleOnion", label: "Show or hide the neighbour frames (onion skin)" },
  { group: "View", keys: ["g"], action: "toggleGhost", label: "Show or hide the model prediction" },
  { group: "View", keys: ["?"], action: "help", label: "Show or hide this help" },
  { group: "View", keys: ["Escape"], action: "escape", label: "Close a dialog, or deselect the point" },
];

export const MOUSE = [
  ["Wheel", "Zoom around the pointer"],
  ["Drag the background", "Pan"],
  ["Click the frame", "Place the selected point if it is not placed yet (the next one is then selected)"],
  ["Click a point", "Select it; click again to cycle through points lying on top of each other"],
  ["Drag a point", "Move it (it becomes verified); the selected one wins among overlapping points"],
  ["Click a row in the keypoint list", "Select that point; an unlabelled one is then placed by clicking the frame"],
];

/** The canonical name of a key event: "Ctrl+Shift+z", "Shift+ArrowLeft", "?", "3". */
export function comboOf(event) {
  const parts = [];
  if (event.ctrlKey || event.metaKey) parts.push("Ctrl");
  if (event.altKey) parts.push("Alt");
  const key = event.key;
  // Shift is part of the name for letters and named keys; for "?" or "+" it is how they are typed.
  if (event.shiftKey && (key.length > 1 || /[a-z]/i.test(key))) parts.push("Shift");
  parts.push(key.length === 1 ? key.toLowerCase() : key);
  return parts.join("+");
}

const INDEX = new Map();
for (const s of SHORTCUTS) for (const k of s.keys) INDEX.set(k, s);

/** The shortcut for a key event, or undefined. */
export function shortcutFor(event) {
  return INDEX.get(comboOf(event));
}

/** Fill the help overlay's table from SHORTCUTS and MOUSE. */
export function renderHelp(tbody) {
  tbody.replaceChildren();
  let group = null;
  for (const s of SHORTCUTS) {
    if (s.group !== group) {
      group = s.group;
      const tr = tbody.insertRow();
      const th = document.createElement("th");
      th.colSpan = 2;
      th.textContent = group;
      tr.appendChild(th);
    }
    const tr = tbody.insertRow();
    tr.dataset.action = s.action;
    const keys = tr.insertCell();
    for (const k of s.keys) {
      const kbd = document.createElement("kbd");
      kbd.textContent = k;
      keys.appendChild(kbd);
    }
    tr.insertCell().textContent = s.label;
  }
  const head = tbody.insertRow();
  const th = document.createElement("th");
  th.colSpan = 2;
  th.textContent = "Mouse";
  head.appendChild(th);
  for (const [what, does] of MOUSE) {
    const tr = tbody.insertRow();
    tr.insertCell().textContent = what;
    tr.insertCell().textContent = does;
  }
}

// Every editor action by name: the names of shortcuts.js, so keys and buttons dispatch from the
// same table.

import { $, K, parts, state } from "./context.js";
import { accept, openReject, skip, submit } from "./decisions.js";
import {
  acceptPredicted, confirmAll, confirmSelected, copyPrevious, cycleVisibility, deletePoint, dropTemplate, nudge,
  placeAtPointer, redo, selectInOrder, setFormLabelByKey, undo,
} from "./editing.js";
import { goToFrame, openHistory } from "./frames.js";
import { select } from "./panels.js";
import { drawGhost, drawOnion } from "./prediction_view.js";

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function toggleHelp() {
  const help = $("help");
  if (help.open) help.close();
  else {
    help.showModal();
    help.scrollTop = 0; // the dialog focuses its Close button at the bottom: start reading at the top
  }
}

export const actions = {
  nextInBody: () => selectInOrder(1),
  prevInBody: () => selectInOrder(-1),
  template: () => dropTemplate(),
  nextPoint: () => select((state.selected + 1) % K),
  prevPoint: () => select((state.selected - 1 + K) % K),
  nudge: (e) => nudge(...ARROWS[e.key]),
  nudgeFar: (e) => nudge(...ARROWS[e.key].map((d) => d * 10)),
  place: () => placeAtPointer(),
  cycleVisibility: () => cycleVisibility(),
  deletePoint: () => deletePoint(),
  confirm: () => confirmSelected(),
  confirmAll: () => confirmAll(),
  acceptPrediction: () => {
    if (state.selected >= 0) acceptPredicted([state.selected]);
  },
  acceptAllPredictions: () => acceptPredicted([...Array(K).keys()]),
  formLabel: (e) => setFormLabelByKey(e.key),
  undo: () => undo(),
  redo: () => redo(),
  save: () => parts.saver.flush(),
  prevFrame: () => goToFrame("prev"),
  nextFrame: () => goToFrame("next"),
  copyPrevious: () => copyPrevious(),
  history: () => openHistory(),
  submit: () => submit(),
  skip: () => skip(),
  accept: () => accept(),
  reject: () => openReject(),
  zoomIn: () => parts.stage.zoomCentre(1.25),
  zoomOut: () => parts.stage.zoomCentre(0.8),
  fit: () => parts.stage.fit(),
  pan: (e) => parts.stage.panBy(...ARROWS[e.key].map((d) => -d * 60)),
  toggleOnion: () => {
    state.showOnion = !state.showOnion;
    $("toggle-onion").checked = state.showOnion;
    drawOnion();
  },
  toggleGhost: () => {
    state.showGhost = !state.showGhost;
    $("toggle-ghost").checked = state.showGhost;
    drawGhost();
  },
  help: () => toggleHelp(),
  escape: () => {
    if ($("help").open) $("help").close();
    else if (parts.stage.boxDone) parts.stage.cancelBox();
    else select(-1);
  },
};

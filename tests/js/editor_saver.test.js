// Unit tests of the editor's save queue (sync.js): drafts, debounced autosave, optimistic locking
// (409 conflicts and how they are settled), retries when the server or the network fails, and
// the order of saves when edits arrive while one is travelling. The server is a fake fetch.
// Run: npm test (or: node --test tests/js/).
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { Api, Drafts, Saver } from "../../static/annotations/review/editor/sync.js";

const BASE = "/api/projects/demo/";
const DELAY = 1200; // the Saver's default debounce
const RETRY = 5000; // its retry delay after a failed save

/** A localStorage stand-in for Node. */
class MemoryStorage {
  constructor() {
    this.items = new Map();
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }
}

/**
 * A fake server: every request is recorded, and answered by the next queued reply. A reply is
 * {status, data}, "offline" (fetch rejects) or a promise of either (to hold a save in flight).
 */
class FakeServer {
  constructor() {
    this.requests = [];
    this.replies = [];
  }

  reply(...replies) {
    this.replies.push(...replies);
  }

  async fetch(url, init) {
    this.requests.push({ url, method: init.method, headers: init.headers, keepalive: init.keepalive,
                         body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const reply = await (this.replies.shift() ?? { status: 500, data: null });
    if (reply === "offline") throw new TypeError("Failed to fetch");
    return {
      ok: reply.status >= 200 && reply.status < 300,
      status: reply.status,
      statusText: "",
      json: async () => {
        if (reply.data === null) throw new SyntaxError("Unexpected end of JSON input");
        return reply.data;
      },
    };
  }
}

/** A stand-in for the editor: its current content, and everything the saver told it. */
function makeEditor(content) {
  const editor = { content, statuses: [], conflicts: [], adopted: [], saved: 0 };
  editor.hooks = {
    payload: () => structuredClone(editor.content),
    keyOf: (ann) => JSON.stringify({ keypoints: ann.keypoints, keypoint_states: ann.keypoint_states,
                                     form_label: ann.form_label ?? null }),
    adopt: (ann) => {
      editor.adopted.push(ann);
      editor.content.form_label = ann.form_label ?? null;
    },
    status: (kind, text) => editor.statuses.push([kind, text]),
    conflict: (doc, theirs) => editor.conflicts.push(theirs),
    saved: () => {
      editor.saved += 1;
    },
  };
  editor.lastStatus = () => editor.statuses.at(-1);
  return editor;
}

const pose = (x, formLabel = "correct") => ({ keypoints: [x, 20, 2, 0, 0, 0], keypoint_states: ["verified", "unverified"],
                                             form_label: formLabel });
const annotation = (id, version, content, extra = {}) => ({ id, version, ...content, ...extra });
const keyOf = (content) => JSON.stringify({ ...content, form_label: content.form_label ?? null });

/** A document for a frame whose stored annotation (or none) has this content. */
function docFor(frameId, stored, { annotationId = 7, version = 3 } = {}) {
  return { frameId, annotationId: stored ? annotationId : null, version: stored ? version : 0,
           serverKey: stored ? keyOf(stored) : keyOf(pose(0, null)), conflict: null };
}

let server;
let storage;

/** Lets pending promise callbacks (fake fetch, awaits inside the saver) run to completion. */
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

beforeEach(() => {
  server = new FakeServer();
  storage = new MemoryStorage();
  globalThis.fetch = (url, init) => server.fetch(url, init);
  globalThis.localStorage = storage;
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
  delete globalThis.fetch;
  delete globalThis.localStorage;
});

function setup(stored, content, docOptions) {
  const editor = makeEditor(content);
  const drafts = new Drafts("demo");
  const saver = new Saver(new Api(BASE), drafts, editor.hooks);
  const doc = docFor(41, stored, docOptions);
  saver.attach(doc);
  return { editor, drafts, saver, doc };
}

test("a change is kept as a draft at once and saved after a pause, once for a burst of edits", async () => {
  const { editor, drafts, saver, doc } = setup(pose(10), pose(10));
  editor.content = pose(11);
  saver.changed();
  editor.content = pose(12);
  saver.changed();
  assert.deepEqual(editor.lastStatus(), ["dirty", "Unsaved changes"]);
  assert.deepEqual(drafts.get(41).payload, pose(12));
  assert.equal(drafts.get(41).version, 3);
  assert.equal(server.requests.length, 0);

  server.reply({ status: 200, data: annotation(7, 4, pose(12)) });
  mock.timers.tick(DELAY);
  await settle();
  assert.equal(server.requests.length, 1);
  const [request] = server.requests;
  assert.equal(request.method, "PATCH");
  assert.equal(request.url, `${BASE}annotations/7/`);
  assert.deepEqual(request.body, { ...pose(12), version: 3 });
  assert.equal(request.headers["Content-Type"], "application/json");
  assert.equal(doc.version, 4);
  assert.equal(drafts.get(41), null);
  assert.deepEqual(editor.lastStatus(), ["saved", "Saved · v4"]);
  assert.equal(editor.saved, 1);
  assert.equal(saver.dirty(), false);
});

test("an edit undone back to the stored content drops the draft and sends nothing", async () => {
  const { editor, drafts, saver } = setup(pose(10), pose(11));
  saver.changed();
  assert.notEqual(drafts.get(41), null);
  editor.content = pose(10);
  saver.changed();
  assert.equal(drafts.get(41), null);
  assert.deepEqual(editor.lastStatus(), ["saved", "Saved · v3"]);
  assert.equal(await saver.flush(), true);
  assert.equal(server.requests.length, 0);
});

test("the first save of a frame creates its annotation, and a later one patches it", async () => {
  const { editor, saver, doc } = setup(null, pose(5));
  server.reply({ status: 201, data: annotation(90, 1, pose(5)) }, { status: 200, data: annotation(90, 2, pose(6)) });
  assert.equal(await saver.flush(), true);
  assert.equal(server.requests[0].method, "POST");
  assert.equal(server.requests[0].url, `${BASE}frames/41/annotations/`);
  assert.deepEqual(server.requests[0].body, pose(5));
  assert.equal(doc.annotationId, 90);
  editor.content = pose(6);
  assert.equal(await saver.flush(), true);
  assert.equal(server.requests[1].method, "PATCH");
  assert.equal(server.requests[1].url, `${BASE}annotations/90/`);
  assert.equal(server.requests[1].body.version, 1);
});

test("a form label the server filled in is shown when nothing changed meanwhile", async () => {
  const { editor, drafts, saver, doc } = setup(null, pose(5, null));
  server.reply({ status: 201, data: annotation(90, 1, pose(5, "correct")) });
  assert.equal(await saver.flush(), true);
  assert.equal(editor.adopted.length, 1);
  assert.equal(editor.content.form_label, "correct");
  assert.equal(doc.serverKey, keyOf(pose(5, "correct")));
  assert.equal(drafts.get(41), null);
  assert.deepEqual(editor.lastStatus(), ["saved", "Saved · v1"]);
});

test("edits made while a save travels stay a draft on the new version and are saved next, in order", async () => {
  const { editor, drafts, saver, doc } = setup(pose(10), pose(11));
  let answerFirst;
  server.reply(new Promise((resolve) => {
    answerFirst = resolve;
  }));
  const first = saver.flush();
  await settle();
  editor.content = pose(12);
  saver.changed(); // arrives while the first save is in flight
  const second = saver.flush(); // waits for the first: never two saves at once
  await settle();
  assert.equal(server.requests.length, 1);

  server.reply({ status: 200, data: annotation(7, 5, pose(12)) });
  answerFirst({ status: 200, data: annotation(7, 4, pose(11)) });
  assert.equal(await first, true);
  assert.equal(await second, true);
  assert.equal(server.requests.length, 2);
  assert.deepEqual(server.requests[0].body, { ...pose(11), version: 3 });
  assert.deepEqual(server.requests[1].body, { ...pose(12), version: 4 }); // based on the first save's answer
  assert.equal(doc.version, 5);
  assert.equal(drafts.get(41), null);
  assert.equal(editor.adopted.length, 0);
});

test("a save answered after the editor moved to another frame leaves that frame alone", async () => {
  const { editor, drafts, saver, doc } = setup(pose(10), pose(11));
  let answer;
  server.reply(new Promise((resolve) => {
    answer = resolve;
  }));
  const pending = saver.flush();
  await settle();
  const next = docFor(42, pose(1));
  saver.attach(next);
  editor.content = pose(1);
  const statusesBefore = editor.statuses.length;
  answer({ status: 200, data: annotation(7, 4, pose(11)) });
  assert.equal(await pending, true);
  assert.equal(doc.version, 4);
  // The old frame keeps a draft of what was sent, on the new version: the next visit finds it
  // equal to the stored content and drops it.
  assert.deepEqual(drafts.get(41).payload, pose(11));
  assert.equal(drafts.get(41).version, 4);
  assert.equal(editor.statuses.length, statusesBefore);
  assert.equal(next.version, 3);
  assert.equal(drafts.get(42), null);
});

test("a stale save (409) keeps the draft, reports the other version and blocks saving until settled", async () => {
  const { editor, drafts, saver, doc } = setup(pose(10), pose(11));
  const theirs = annotation(7, 4, pose(30), { updated_by: "ana" });
  server.reply({ status: 409, data: { detail: "stale", current: theirs } });
  saver.changed();
  assert.equal(await saver.flush(), false);
  assert.deepEqual(doc.conflict, theirs);
  assert.deepEqual(editor.conflicts, [theirs]);
  assert.deepEqual(editor.lastStatus(), ["conflict", "Someone else saved this frame: choose a version"]);
  assert.deepEqual(drafts.get(41).payload, pose(11));
  assert.equal(await saver.flush(), false);
  assert.equal(server.requests.length, 1);
  saver.leave();
  assert.equal(server.requests.length, 1);
});

test("keeping mine after a conflict saves this browser's content over the other version", async () => {
  const { saver, drafts, doc } = setup(pose(10), pose(11));
  const theirs = annotation(7, 4, pose(30));
  server.reply({ status: 409, data: { current: theirs } }, { status: 200, data: annotation(7, 5, pose(11)) });
  await saver.flush();
  assert.equal(await saver.keepMine(), true);
  assert.deepEqual(server.requests[1].body, { ...pose(11), version: 4 });
  assert.equal(doc.conflict, null);
  assert.equal(doc.version, 5);
  assert.equal(drafts.get(41), null);
});

test("taking theirs after a conflict drops the draft and sends nothing", async () => {
  const { editor, saver, drafts, doc } = setup(pose(10), pose(11));
  const theirs = annotation(7, 4, pose(30));
  server.reply({ status: 409, data: { current: theirs } });
  saver.changed();
  await saver.flush();
  saver.takeTheirs();
  editor.content = pose(30); // the editor loads their content
  assert.equal(doc.conflict, null);
  assert.equal(doc.version, 4);
  assert.equal(drafts.get(41), null);
  assert.deepEqual(editor.lastStatus(), ["saved", "Saved · v4"]);
  assert.equal(saver.dirty(), false);
  assert.equal(await saver.flush(), true);
  assert.equal(server.requests.length, 1);
});

test("a server error keeps the draft and retries after five seconds", async () => {
  const { editor, drafts, saver, doc } = setup(pose(10), pose(11));
  server.reply({ status: 502, data: null }, { status: 200, data: annotation(7, 4, pose(11)) });
  saver.changed();
  assert.equal(await saver.flush(), false);
  assert.equal(editor.lastStatus()[0], "offline");
  assert.notEqual(drafts.get(41), null);
  mock.timers.tick(RETRY - 1);
  await settle();
  assert.equal(server.requests.length, 1);
  mock.timers.tick(1);
  await settle();
  assert.equal(server.requests.length, 2);
  assert.equal(doc.version, 4);
  assert.equal(drafts.get(41), null);
  assert.deepEqual(editor.lastStatus(), ["saved", "Saved · v4"]);
});

test("with the network down the content stays in the browser and the save is retried", async () => {
  const { editor, drafts, saver } = setup(pose(10), pose(11));
  server.reply("offline", "offline", { status: 200, data: annotation(7, 4, pose(11)) });
  saver.changed();
  assert.equal(await saver.flush(), false);
  assert.deepEqual(editor.lastStatus(),
                   ["offline", "Offline: your changes are kept in this browser and will be saved"]);
  mock.timers.tick(RETRY);
  await settle();
  assert.equal(server.requests.length, 2);
  assert.equal(editor.lastStatus()[0], "offline");
  mock.timers.tick(RETRY);
  await settle();
  assert.equal(server.requests.length, 3);
  assert.equal(drafts.get(41), null);
  assert.equal(editor.lastStatus()[0], "saved");
});

test("a refused save (400) says why, keeps the draft and does not retry", async () => {
  const { editor, drafts, saver } = setup(pose(10), pose(11));
  server.reply({ status: 400, data: { detail: "keypoint 3 is outside the image" } });
  saver.changed();
  assert.equal(await saver.flush(), false);
  assert.deepEqual(editor.lastStatus(), ["error", "Not saved: keypoint 3 is outside the image"]);
  assert.notEqual(drafts.get(41), null);
  mock.timers.tick(RETRY * 2);
  await settle();
  assert.equal(server.requests.length, 1);
});

test("leaving the page sends one last save that outlives it, only when there is something to save", async () => {
  const { editor, drafts, saver } = setup(pose(10), pose(10));
  saver.leave();
  assert.equal(server.requests.length, 0);
  editor.content = pose(11);
  saver.changed();
  server.reply({ status: 200, data: annotation(7, 4, pose(11)) });
  saver.leave();
  await settle();
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0].keepalive, true);
  assert.deepEqual(server.requests[0].body, { ...pose(11), version: 3 });
  assert.notEqual(drafts.get(41), null); // dropped only when a confirmed save is seen
});

test("leaving a frame that was never saved sends nothing: the draft keeps the work", () => {
  const { editor, saver } = setup(null, pose(0, null));
  editor.content = pose(5);
  saver.changed();
  saver.leave();
  assert.equal(server.requests.length, 0);
});

test("drafts are kept per project and frame and survive a broken entry", () => {
  const drafts = new Drafts("demo");
  drafts.put(41, { version: 2, payload: pose(1) });
  assert.equal(drafts.get(41).version, 2);
  assert.equal(typeof drafts.get(41).savedAt, "number");
  assert.equal(new Drafts("other").get(41), null);
  storage.setItem("posereview:draft:demo:43", "{not json");
  assert.equal(drafts.get(43), null);
  drafts.drop(41);
  assert.equal(drafts.get(41), null);
});

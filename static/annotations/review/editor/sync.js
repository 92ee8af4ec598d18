// Talking to the server: the project API, drafts in localStorage, and saving with optimistic
// locking.
//
// The draft rule: every change is written to localStorage at once, and removed only when the
// server has confirmed exactly that content. Closing the tab or losing the network therefore
// loses nothing; the next visit to the frame finds the draft and offers it back.

import { fetchJson } from "../../common/http.js";
import { payloadKey } from "./model.js";

/** Where a document's draft is kept: its own key (one per person on a frame), else the frame's id. */
const draftOf = (doc) => doc.draftKey ?? doc.frameId;

/** The project's REST API: paths relative to its base, answers as {ok, status, data}. */
export class Api {
  constructor(base) {
    this.base = base; // "/api/projects/<slug>/"
  }

  /** {ok, status, data}; throws only when the network is down. */
  call(method, path, body = undefined, options = {}) {
    const url = path.startsWith("/") ? path : this.base + path;
    return fetchJson(url, { method, body, keepalive: !!options.keepalive });
  }
}

export class Drafts {
  constructor(slug) {
    this.prefix = `posereview:draft:${slug}:`;
  }

  get(frameId) {
    try {
      return JSON.parse(localStorage.getItem(this.prefix + frameId) || "null");
    } catch {
      return null;
    }
  }

  put(frameId, draft) {
    try {
      localStorage.setItem(this.prefix + frameId, JSON.stringify({ ...draft, savedAt: Date.now() }));
    } catch {
      // storage full or disabled: the autosave is then the only safety net
    }
  }

  drop(frameId) {
    localStorage.removeItem(this.prefix + frameId);
  }
}

/**
 * Saves one frame's annotation. doc: {frameId, annotationId, version, serverKey, conflict, and for
 * another person than the frame's first: instance and draftKey}.
 * hooks: payload() -> the current content; keyOf(annotation) -> its content key, padded to the
 * skeleton; adopt(annotation) -> take the server's content; status(kind, text); conflict(doc, theirs);
 * saved(doc).
 */
export class Saver {
  constructor(api, drafts, hooks, delay = 1200) {
    this.api = api;
    this.drafts = drafts;
    this.hooks = hooks;
    this.delay = delay;
    this.timer = null;
    this.retryTimer = null;
    this.inflight = null;
    this.doc = null;
  }

  attach(doc) {
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.doc = doc;
  }

  /** The content changed: keep it as a draft now, save it shortly. */
  changed() {
    const doc = this.doc;
    if (!doc) return;
    const payload = this.hooks.payload();
    if (payloadKey(payload) === doc.serverKey) {
      this.drafts.drop(draftOf(doc));
      this.hooks.status("saved", `Saved · v${doc.version}`);
    } else {
      this.drafts.put(draftOf(doc), { annotationId: doc.annotationId, version: doc.version, payload });
      this.hooks.status("dirty", "Unsaved changes");
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.delay);
  }

  dirty() {
    return !!this.doc && payloadKey(this.hooks.payload()) !== this.doc.serverKey;
  }

  /** Save now if needed. Resolves true when the server holds the current content. */
  async flush() {
    clearTimeout(this.timer);
    while (this.inflight) await this.inflight;
    const doc = this.doc;
    if (!doc) return true;
    if (doc.conflict) return false;
    const payload = this.hooks.payload();
    const key = payloadKey(payload);
    if (key === doc.serverKey) return true;
    this.hooks.status("saving", "Saving…");
    this.inflight = this.send(doc, payload, key);
    try {
      return await this.inflight;
    } finally {
      this.inflight = null;
    }
  }

  async send(doc, payload, key) {
    let res;
    try {
      // Through a queue the server checks that this person still holds the frame (409 when the claim lapsed
      // and someone else took it).
      const claim = this.queue ? { queue: this.queue } : {};
      const person = doc.instance ? { instance: doc.instance } : {}; // another person than the frame's first
      res = doc.annotationId == null
        ? await this.api.call("POST", `frames/${doc.frameId}/annotations/`, { ...payload, ...claim, ...person })
        : await this.api.call("PATCH", `annotations/${doc.annotationId}/`, { ...payload, version: doc.version, ...claim });
    } catch {
      this.hooks.status("offline", "Offline: your changes are kept in this browser and will be saved");
      this.retryLater();
      return false;
    }
    if (res.ok) {
      doc.annotationId = res.data.id;
      doc.version = res.data.version;
      doc.serverKey = this.hooks.keyOf(res.data);
      if (doc.serverKey !== key && this.doc === doc && payloadKey(this.hooks.payload()) === key) {
        // The server filled in something (a new annotation's default form label): show it.
        this.hooks.adopt(res.data);
      }
      key = doc.serverKey;
      if (this.doc === doc && payloadKey(this.hooks.payload()) === key) {
        this.drafts.drop(draftOf(doc));
        this.hooks.status("saved", `Saved · v${doc.version}`);
      } else {
        // More edits came in while this one travelled: they stay a draft on the new base version.
        this.drafts.put(draftOf(doc), { annotationId: doc.annotationId, version: doc.version,
                                        payload: this.doc === doc ? this.hooks.payload() : payload });
        if (this.doc === doc) this.changed();
      }
      this.hooks.saved(doc);
      return true;
    }
    if (res.status === 409 && res.data && res.data.current) {
      doc.conflict = res.data.current;
      this.hooks.status("conflict", "Someone else saved this frame: choose a version");
      this.hooks.conflict(doc, res.data.current);
      return false;
    }
    if (res.status >= 500 || res.status === 0) {
      this.hooks.status("offline", "The server did not save (it will retry); your changes are kept in this browser");
      this.retryLater();
      return false;
    }
    this.hooks.status("error", `Not saved: ${res.data && res.data.detail ? res.data.detail : res.status}`);
    return false;
  }

  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), 5000);
  }

  /** Conflict resolved by keeping this browser's content: save it over the stored version. */
  keepMine() {
    const doc = this.doc;
    doc.annotationId = doc.conflict.id;
    doc.version = doc.conflict.version;
    doc.serverKey = this.hooks.keyOf(doc.conflict);
    doc.conflict = null;
    return this.flush();
  }

  /** Conflict resolved by taking the stored content (the caller loads it into the pose). */
  takeTheirs() {
    const doc = this.doc;
    doc.annotationId = doc.conflict.id;
    doc.version = doc.conflict.version;
    doc.serverKey = this.hooks.keyOf(doc.conflict);
    doc.conflict = null;
    this.drafts.drop(draftOf(doc));
    this.hooks.status("saved", `Saved · v${doc.version}`);
  }

  /** Leaving the page: one last save that outlives it (the draft stays until it is confirmed). */
  leave() {
    const doc = this.doc;
    if (!doc || doc.conflict || !this.dirty() || doc.annotationId == null) return;
    const payload = this.hooks.payload();
    const body = { ...payload, version: doc.version, ...(this.queue ? { queue: this.queue } : {}) };
    this.api.call("PATCH", `annotations/${doc.annotationId}/`, body, { keepalive: true }).catch(() => {});
  }
}

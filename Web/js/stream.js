// The stream layer of the Herald dashboard: one EventSource plus the snapshot anchoring it.
// Runs in two ways: inside the SharedWorker shared by all tabs (worker.js), or in a tab that
// keeps its own stream (app.js decides).

const SELECTORS = ["#", "$status"]; // "$" channels are only delivered when named
// The SSE event name is the channel, and an EventSource only hands over names it listens for.
// The dashboard's own channels are listened for from the start, so their first events are never
// missed; other channels are learnt from /api/channels, and a channel learnt while the stream is
// open brings a fresh snapshot with it, holding what the stream could not deliver before.
const WELL_KNOWN = ["sensors", "jobs", "alerts", "$status"];
const MAX_BACKOFF_MS = 30000;
// Event names an EventSource already uses; a channel with such a name cannot get its own listener.
const RESERVED = new Set(["open", "error", "message", "$reset"]);

export class HttpError extends Error {
  constructor(status, body, statusText) {
    const b = body && typeof body === "object" ? body : {};
    const head = b.error || statusText || "request failed";
    super(`${head}${status ? ` (HTTP ${status})` : ""}${b.detail ? `: ${b.detail}` : ""}`);
    this.status = status;
  }
}

// Relative URLs so the dashboard also works behind a reverse proxy under a path prefix.
export async function fetchJSON(url, init = {}) {
  const headers = { Accept: "application/json", ...(init.body ? { "Content-Type": "application/json" } : {}), ...init.headers };
  let res;
  try {
    res = await fetch(url, { credentials: "same-origin", ...init, headers });
  } catch (err) {
    throw new HttpError(0, { error: "network error", detail: err.message });
  }
  const text = await res.text().catch(() => "");
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) throw new HttpError(res.status, body, res.statusText);
  return { body, res };
}

// One EventSource plus the snapshot that anchors it. emit() receives plain messages:
// {kind:"state"|"reset"|"snapshot"|"event"|"channels"}; they survive postMessage unchanged.
export class HeraldStream {
  constructor(emit) {
    this.emit = emit;
    this.es = null;
    this.listening = new Set();
    this.lastId = null;
    this.state = "syncing";
    this.detail = "";
    this.channels = new Set();
    this.delay = 1000;
    this.timer = 0;
    this.stable = 0;
    this.retry = null;
    this.gen = 0;
    this.syncing = false;
    this.lastReset = 0;
    this.onMessage = (e) => this.relay(e);
    // New channels get no listener until we learn their names, so keep asking. /api/channels
    // counts every channel's events, so not more often than this.
    setInterval(() => this.pollChannels(), 30000);
  }

  stateMsg() { return { kind: "state", state: this.state, detail: this.detail }; }

  setState(state, detail = "") {
    if (state === this.state && detail === this.detail) return;
    this.state = state;
    this.detail = detail;
    this.emit(this.stateMsg());
  }

  selectors() {
    const q = new URLSearchParams();
    for (const s of SELECTORS) q.append("channel", s);
    return q;
  }

  // Returns the channels the open stream delivered but nobody listened for until now.
  addChannels(names) {
    const fresh = [], unheard = [];
    for (const n of names) {
      if (typeof n !== "string" || !n || this.channels.has(n)) continue;
      this.channels.add(n);
      fresh.push(n);
      // "$" channels other than $status are never in the stream, and RESERVED ones cannot be heard.
      if (this.es && !this.listening.has(n) && !n.startsWith("$") && !RESERVED.has(n)) unheard.push(n);
      this.listen(n);
    }
    if (fresh.length) this.emit({ kind: "channels", channels: fresh });
    return unheard;
  }

  // Only a 401 matters here: /api/channels is a hint and the stream works without it.
  async refreshChannels() {
    try {
      const { body } = await fetchJSON("api/channels");
      return this.addChannels(((body && body.channels) || []).map((c) => c && c.name));
    } catch (err) {
      if (err.status === 401) throw err;
      return [];
    }
  }

  // An EventSource drops events whose name it has no listener for: a device source writing to a
  // channel of its own would show nothing until the next reset. A snapshot brings those back.
  async pollChannels() {
    if (this.state !== "live") return;
    const unheard = await this.refreshChannels().catch(() => []);
    if (unheard.length && this.state === "live" && !this.syncing) this.resync();
  }

  async fetchSnapshot() {
    const { body, res } = await fetchJSON("api/snapshot?" + this.selectors());
    const snapshot = body && typeof body === "object" ? body : {};
    this.addChannels((Array.isArray(snapshot.events) ? snapshot.events : []).map((e) => e && e.channel));
    const serverDate = Date.parse(res.headers.get("date") || "");
    return { kind: "snapshot", snapshot, channels: [...this.channels], serverDate, localDate: Date.now() };
  }

  // Every listener gets the same snapshot and the stream resumes right after it,
  // so nobody can miss or double-apply an event across a reset.
  async resync(info = null) {
    const gen = ++this.gen;
    this.closeStream();
    clearTimeout(this.timer);
    this.syncing = true;
    this.emit({ kind: "reset", info });
    this.setState("syncing", info ? `stream reset: ${info.reason || "unknown"}` : "loading snapshot");
    let msg;
    try {
      await this.refreshChannels();
      msg = await this.fetchSnapshot();
    } catch (err) {
      if (gen === this.gen) this.fail(err, () => this.resync());
      return;
    }
    if (gen !== this.gen) return;
    this.syncing = false;
    this.lastId = Number.isInteger(msg.snapshot.lastEventId) ? msg.snapshot.lastEventId : null;
    this.open(); // first, so a listener that throws cannot leave the stream closed
    this.emit(msg);
  }

  // A tab joining a running shared stream. It buffers events from the moment it joined,
  // so a snapshot taken afterwards plus id filtering leaves no gap.
  async snapshotFor(send) {
    if (this.syncing) return; // the resync in flight broadcasts to this tab as well
    const gen = this.gen;
    try {
      const msg = await this.fetchSnapshot();
      if (gen === this.gen) send(msg);
    } catch {
      if (gen === this.gen) this.resync(); // resync owns retries and the sign-in state
    }
  }

  open() {
    this.closeStream();
    this.retry = null;
    const q = this.selectors();
    if (this.lastId != null) q.set("lastEventId", String(this.lastId));
    const es = new EventSource("sse?" + q);
    this.es = es;
    this.setState(this.state === "syncing" ? "syncing" : "reconnecting", "connecting to stream");
    es.onopen = () => {
      if (es !== this.es) return;
      this.setState("live");
      clearTimeout(this.stable);
      // Only a connection that stays up earns a fresh backoff; this stops open/fail loops.
      this.stable = setTimeout(() => { this.delay = 1000; }, 5000);
    };
    es.onerror = () => {
      if (es !== this.es) return;
      if (es.readyState === EventSource.CLOSED) {
        this.closeStream();
        this.fail(new HttpError(0, { error: "stream closed by server" }), () => this.reopen());
      } else {
        this.setState("reconnecting", "browser is retrying");
      }
    };
    es.onmessage = this.onMessage;
    es.addEventListener("$reset", (e) => { if (es === this.es) this.onReset(e); });
    this.listening = new Set();
    for (const c of WELL_KNOWN) this.listen(c);
    for (const c of this.channels) this.listen(c);
  }

  listen(name) {
    if (!this.es || RESERVED.has(name) || this.listening.has(name)) return;
    this.listening.add(name);
    this.es.addEventListener(name, this.onMessage);
  }

  // EventSource hides HTTP statuses; probing an API call tells a 401 from other failures.
  async reopen() {
    try {
      await this.refreshChannels();
      this.open();
    } catch (err) {
      this.fail(err, () => this.reopen());
    }
  }

  onReset(e) {
    let info = {};
    try { info = JSON.parse(e.data) || {}; } catch { info = {}; }
    this.closeStream();
    const looping = Date.now() - this.lastReset < 5000;
    this.lastReset = Date.now();
    if (!looping) return this.resync(info);
    const d = this.bump();
    this.setState("offline", `repeated stream resets (${info.reason || "unknown"}); retrying in ${d / 1000} s`);
    this.retry = () => this.resync(info);
    this.timer = setTimeout(() => this.kick(true), d);
  }

  relay(e) {
    let env;
    try { env = JSON.parse(e.data); } catch { return; } // one malformed frame must not stop the stream
    if (!env || typeof env !== "object" || Array.isArray(env)) return;
    if (typeof env.channel !== "string") env.channel = e.type === "message" ? "" : e.type;
    if (Number.isInteger(env.id) && (this.lastId == null || env.id > this.lastId)) this.lastId = env.id;
    this.emit({ kind: "event", env });
  }

  bump() {
    const d = this.delay;
    this.delay = Math.min(d * 2, MAX_BACKOFF_MS);
    return d;
  }

  fail(err, retry) {
    clearTimeout(this.timer);
    this.retry = retry;
    if (err.status === 401) return this.setState("auth", "sign-in required"); // wait for kick()
    const d = this.bump();
    this.setState("offline", `${err.message}; retrying in ${d / 1000} s`);
    this.timer = setTimeout(() => this.kick(true), d);
  }

  // Retry now: after a sign-in, when the browser comes back online, or when the backoff ends.
  kick(fromTimer = false) {
    if (!this.retry) return;
    clearTimeout(this.timer);
    if (!fromTimer) this.delay = 1000;
    const r = this.retry;
    this.retry = null;
    r();
  }

  closeStream() {
    clearTimeout(this.stable);
    if (this.es) this.es.close();
    this.es = null;
  }
}

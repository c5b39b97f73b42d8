// The realtime stream (`/cameras/realtime/live`, Server-Sent Events): one per logger.
//
// Each logger streams the cameras it holds, so the cameras are grouped by their
// `loggerUrl` and each group gets its own stream (one group when one process plays every
// role). EventSource sends no headers, so the token rides in the query. The server closes
// a stream after 5 minutes (and at once when none of its cameras is resident yet): on any
// close or error the stream is opened again with the current token, after a pause that
// grows while the server keeps failing.

const MAX_NAMED = 100; // name the cameras in the URL up to this many; beyond, watch all resident

/** The realtime stream of one logger. */
class Feed {
  constructor(session, loggerUrl, uidds, onMessage, onTrouble) {
    this.session = session;
    this.loggerUrl = loggerUrl;
    this.uidds = uidds;
    this.onMessage = onMessage;
    this.onTrouble = onTrouble;
    this.opened = false;
    this.source = null;
    this.timer = null;
    this.delay = 1000;
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  async connect() {
    if (this.stopped || this.uidds.length === 0) {
      return;
    }
    await this.session.freshToken().catch(() => {});
    if (this.stopped || !this.session.token) {
      return;
    }
    const params = this.uidds.length <= MAX_NAMED ? { uidd: this.uidds } : {};
    const source = new EventSource(this.session.url(`${this.loggerUrl}/cameras/realtime/live`, params));
    this.source = source;
    source.onopen = () => {
      this.opened = true;
    };
    source.onmessage = (message) => {
      this.delay = 1000;
      let parsed;
      try {
        parsed = JSON.parse(message.data);
      } catch {
        return;
      }
      this.onMessage(parsed);
    };
    source.onerror = () => {
      // Closed by the server (its 5 minutes are up) or failed: reconnect ourselves, with a
      // fresh token (the browser's own retry would reuse the old URL and its token).
      source.close();
      if (this.source !== source || this.stopped) {
        return;
      }
      this.source = null;
      clearTimeout(this.timer);
      if (!this.opened) {
        this.onTrouble(); // failed before it opened: not the 5 minutes being up
      }
      this.opened = false;
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    };
  }
}

export class Realtime {
  /** `onTrouble` is told when a stream fails (its logger may be gone: the cameras may
   * have moved). */
  constructor(session, onMessage, onTrouble = () => {}) {
    this.session = session;
    this.onMessage = onMessage;
    this.onTrouble = onTrouble;
    this.feeds = [];
  }

  /** Streams the state of `cameras` (objects with `uidd` and `loggerUrl`). */
  start(cameras) {
    this.stop();
    const byLogger = new Map();
    for (const camera of cameras) {
      const uidds = byLogger.get(camera.loggerUrl) || [];
      uidds.push(camera.uidd);
      byLogger.set(camera.loggerUrl, uidds);
    }
    for (const [loggerUrl, uidds] of byLogger) {
      const feed = new Feed(this.session, loggerUrl, uidds, this.onMessage, this.onTrouble);
      this.feeds.push(feed);
      feed.connect();
    }
  }

  stop() {
    for (const feed of this.feeds) {
      feed.stop();
    }
    this.feeds = [];
  }
}

// A camera's events, newest first (`/alert`), 20 at a time: the next page is asked for
// (`offset`) when the end of the list scrolls into view; new events come on top from the
// realtime stream's `alert` messages.

import { el, formatDuration, formatInZone, formatMagnitude } from "./dom.js";

const PAGE = 20;
const DAY_MS = 86400000;

export function eventSummary(event) {
  const parts = [event.type];
  const motion = formatMagnitude(event.smx);
  const sound = formatMagnitude(event.aud);
  if (motion) parts.push(`motion ${motion}`);
  if (sound) parts.push(`sound ${sound}`);
  return parts.join(" · ");
}

export function eventDuration(event) {
  if (event.recording) {
    return `recording, ${formatDuration((Date.now() - event.startt) / 1000)} so far`;
  }
  return formatDuration((event.endt - event.startt) / 1000);
}

export class EventList {
  constructor(session, { list, end, status, onDelete }) {
    this.session = session;
    this.listEl = list;
    this.endEl = end;
    this.statusEl = status;
    this.onDelete = onDelete;
    this.camera = null;
    this.ids = new Set();
    this.events = new Map();
    this.offset = 0;
    this.done = false;
    this.loading = null;
    this.generation = 0;
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        this.more();
      }
    });
    this.observer.observe(end);
  }

  show(camera) {
    if (this.camera === camera) {
      return;
    }
    this.camera = camera;
    this.generation += 1;
    this.ids.clear();
    this.events.clear();
    this.offset = 0;
    this.done = false;
    this.loading = null;
    this.listEl.replaceChildren();
    this.statusEl.textContent = "";
    this.more();
  }

  clear() {
    this.camera = null;
    this.generation += 1;
    this.listEl.replaceChildren();
  }

  maxAgeMs() {
    const days = (this.session.user.accountInfo || {}).maxAge || 7;
    return days * DAY_MS;
  }

  /** The next page; at most one request at a time. */
  more() {
    if (!this.camera || this.done || this.loading) {
      return this.loading;
    }
    const generation = this.generation;
    const camera = this.camera;
    this.statusEl.textContent = "Loading events…";
    this.loading = this.session
      .call(`${camera.loggerUrl}/alert`, {
        params: {
          uid: camera.uidd,
          startt: 1,
          offset: this.offset,
          limit: PAGE,
          maxage: this.maxAgeMs(),
        },
      })
      .then((body) => {
        if (generation !== this.generation) {
          return;
        }
        const page = body.result;
        this.offset += page.length;
        this.done = page.length < PAGE;
        for (const event of page) {
          this.add(event, false);
        }
        this.statusEl.textContent = this.done
          ? this.events.size === 0
            ? "No events yet."
            : `${this.events.size} event${this.events.size === 1 ? "" : "s"}: the end of the list.`
          : "";
      })
      .finally(() => {
        if (generation === this.generation) {
          this.loading = null;
          // The list may still not fill the screen: the observer fires only on a change.
          if (!this.done && this.endVisible()) {
            setTimeout(() => this.more(), 0);
          }
        }
      });
    return this.loading;
  }

  endVisible() {
    const rect = this.endEl.getBoundingClientRect();
    return rect.top < window.innerHeight && rect.bottom >= 0 && this.endEl.offsetParent !== null;
  }

  /** A realtime `alert`: a new event of a camera. */
  arrived(event) {
    if (this.camera && event.uid === this.camera.uidd && !this.ids.has(event.id)) {
      this.add(event, true);
      if (this.statusEl.textContent === "No events yet.") {
        this.statusEl.textContent = "";
      }
    }
  }

  add(event, onTop) {
    if (this.ids.has(event.id)) {
      return;
    }
    this.ids.add(event.id);
    this.events.set(event.id, event);
    const item = this.item(event);
    if (onTop) {
      this.listEl.prepend(item);
    } else {
      this.listEl.append(item);
    }
  }

  item(event) {
    const camera = this.camera;
    const thumb = el("img", {
      className: "event-thumb",
      alt: "",
      width: 160,
      height: 90,
      loading: "lazy",
      src: this.session.pictureUrl("alertthumb", camera, event.id),
    });
    thumb.addEventListener("error", () => thumb.classList.add("missing"), { once: true });
    const when = formatInZone(event.startt, event.tz);
    const link = el(
      "a",
      {
        className: "event",
        href: `#/camera/${camera.uidd}/event/${event.id}`,
        "aria-label": `${event.type} event at ${when}`,
      },
      thumb,
      el(
        "span",
        { className: "event-info" },
        el("time", { dateTime: new Date(event.startt).toISOString() }, when),
        el("span", { className: "event-duration" }, eventDuration(event)),
        el("span", { className: `event-type type-${event.type}` }, eventSummary(event)),
      ),
    );
    const item = el("li", { className: "event-item", dataset: { id: String(event.id) } }, link);
    if (camera.admin) {
      const remove = el(
        "button",
        { type: "button", className: "danger small delete-event", "aria-label": `Delete event at ${when}` },
        "Delete",
      );
      remove.addEventListener("click", () => this.onDelete(camera, event));
      item.append(remove);
    }
    return item;
  }

  removed(uidd, id) {
    if (this.camera && this.camera.uidd === uidd) {
      this.ids.delete(id);
      this.events.delete(id);
      const item = this.listEl.querySelector(`li[data-id="${id}"]`);
      if (item) {
        item.remove();
      }
      this.offset = Math.max(0, this.offset - 1);
    }
  }

  /** The event, from the list or else asked of the logger (`/events` in its start second). */
  async find(camera, id) {
    if (this.camera === camera && this.events.has(id)) {
      return this.events.get(id);
    }
    const events = await this.session.call(`${camera.loggerUrl}/events`, {
      params: { uidd: camera.uidd, startt: id * 1000, endt: id * 1000 + 1000, limit: 10 },
    });
    return events.find((event) => event.id === id) || null;
  }
}

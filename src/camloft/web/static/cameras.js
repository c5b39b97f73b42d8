// The camera list: grouped by owner with the owner's alias, filtered in place.
//
// Each camera's element is made once. Searching and the status filter only flip the
// `hidden` of the elements whose visibility changes, so a keystroke costs a string test
// per camera and no new DOM, even with thousands; `content-visibility: auto` (app.css)
// spares the browser the layout of cards off screen, and thumbs load lazily.

import { el } from "./dom.js";

export class CameraList {
  constructor(session, { list, search, statusFilter, count }) {
    this.session = session;
    this.listEl = list;
    this.searchEl = search;
    this.statusEl = statusFilter;
    this.countEl = count;
    this.cameras = new Map(); // uidd -> camera
    this.groups = new Map(); // owner uid -> {alias, el, visible}
    this.selected = null;
    this.listeners = new Set();
    let pending = false;
    const schedule = () => {
      if (!pending) {
        pending = true;
        requestAnimationFrame(() => {
          pending = false;
          this.applyFilter();
        });
      }
    };
    search.addEventListener("input", schedule);
    statusFilter.addEventListener("change", schedule);
  }

  /** Loads the devices (`/devices/viewerInfo`: grouped by owner, with live origin and stream). */
  async load() {
    const body = await this.session.call("/devices/viewerInfo");
    this.cameras.clear();
    this.groups.clear();
    const groupEls = [];
    const owners = Object.keys(body.result).sort((a, b) => {
      // Your own cameras first, then by owner alias.
      if (Number(a) === this.session.uid) return -1;
      if (Number(b) === this.session.uid) return 1;
      return (body.result[a].alias || "").localeCompare(body.result[b].alias || "");
    });
    for (const ownerUid of owners) {
      const owner = body.result[ownerUid];
      const alias = owner.alias || `user ${ownerUid}`;
      const items = el("ul", { className: "camera-group-list" });
      const heading = el("h2", { className: "owner" }, alias);
      const groupEl = el("section", { className: "camera-group", dataset: { owner: ownerUid } }, heading, items);
      const group = { uid: Number(ownerUid), alias, el: groupEl, visible: 0, size: 0 };
      this.groups.set(Number(ownerUid), group);
      const devices = Object.values(owner.devices).sort((a, b) => {
        const [, x] = a.uidd.split(".");
        const [, y] = b.uidd.split(".");
        return Number(x) - Number(y);
      });
      const fragment = document.createDocumentFragment();
      for (const device of devices) {
        const camera = this.make(device, group);
        fragment.append(camera.el);
        group.size += 1;
        group.visible += 1;
      }
      items.append(fragment);
      groupEls.push(groupEl);
    }
    this.listEl.replaceChildren(...groupEls);
    if (groupEls.length === 0) {
      this.listEl.append(el("p", { className: "empty" }, "No cameras yet."));
    }
    this.applyFilter();
  }

  /** Asks viewerInfo again where each camera's logger and live origin are (a fleet moves
   * cameras off a server that died); answers whether any camera moved. */
  async refreshPlacement() {
    const body = await this.session.call("/devices/viewerInfo");
    let moved = false;
    for (const owner of Object.values(body.result)) {
      for (const device of Object.values(owner.devices)) {
        const camera = this.cameras.get(device.uidd);
        const loggerUrl = this.relative(device.loggerUrl);
        if (camera && (camera.loggerUrl !== loggerUrl || camera.wowzaUrl !== device.wowzaUrl)) {
          camera.loggerUrl = loggerUrl;
          camera.wowzaUrl = device.wowzaUrl;
          moved = true;
        }
      }
    }
    return moved;
  }

  /** A server's URL, or "" when it is the page's own server (calls then stay relative):
   * the page's origin, or the public URL it calls itself (`authenticator` of the login),
   * which differ when the page was opened under another name. */
  relative(url) {
    const own = [window.location.origin, this.session.user && this.session.user.authenticator];
    return !url || own.includes(url) ? "" : url;
  }

  make(device, group) {
    const permissions = device.permissions || [];
    const camera = {
      uidd: device.uidd,
      ownerUid: group.uid,
      name: device.phonename || device.uidd,
      alias: group.alias,
      admin: permissions.includes("a"),
      own: group.uid === this.session.uid,
      // The camera's logger and live origin ("": this server, when one process plays every role).
      loggerUrl: this.relative(device.loggerUrl),
      wowzaUrl: device.wowzaUrl,
      streamname: device.streamname,
      status: "offline",
      lastthumb: null,
      laststill: null,
      visible: true,
      group,
    };
    camera.search = `${camera.name} ${camera.alias} ${camera.uidd}`.toLowerCase();
    const thumb = el("img", { className: "thumb", alt: "", width: 128, height: 72, loading: "lazy" });
    thumb.addEventListener("error", () => {
      // An old token in a lazily loaded URL: ask again with the current one, once.
      if (thumb.dataset.token !== this.session.token && camera.lastthumb) {
        this.setThumb(camera);
      }
    });
    const badge = el("span", { className: "badge status-offline" }, "offline");
    const link = el(
      "a",
      { className: "camera", href: `#/camera/${camera.uidd}`, dataset: { uidd: camera.uidd } },
      thumb,
      el("span", { className: "camera-name" }, camera.name),
      badge,
    );
    camera.el = el("li", { className: "camera-item" }, link);
    camera.thumbEl = thumb;
    camera.badgeEl = badge;
    camera.linkEl = link;
    this.cameras.set(camera.uidd, camera);
    return camera;
  }

  setThumb(camera) {
    camera.thumbEl.dataset.token = this.session.token;
    camera.thumbEl.src = this.session.pictureUrl("getthumb", camera, camera.lastthumb);
  }

  /** A `liveSession` message of the realtime stream (or a `/cameras/status` entry). */
  update(uidd, state) {
    const camera = this.cameras.get(uidd);
    if (!camera) {
      return;
    }
    if (state.status && state.status !== camera.status) {
      camera.status = state.status;
      camera.badgeEl.textContent = state.status;
      camera.badgeEl.className = `badge status-${state.status}`;
      this.filterOne(camera, this.query(), this.statusEl.value);
      this.showCount();
    }
    if (state.lastthumb && state.lastthumb !== camera.lastthumb) {
      camera.lastthumb = state.lastthumb;
      this.setThumb(camera);
    }
    if (state.laststill !== undefined && state.laststill !== camera.laststill) {
      camera.laststill = state.laststill;
    }
    for (const listener of this.listeners) {
      listener(camera);
    }
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  select(uidd) {
    if (this.selected) {
      this.selected.linkEl.removeAttribute("aria-current");
    }
    this.selected = uidd ? this.cameras.get(uidd) || null : null;
    if (this.selected) {
      this.selected.linkEl.setAttribute("aria-current", "page");
    }
    return this.selected;
  }

  query() {
    return this.searchEl.value.trim().toLowerCase();
  }

  filterOne(camera, query, status) {
    const show =
      (!query || camera.search.includes(query)) &&
      (!status || camera.status === status || (status === "online" && camera.status === "live"));
    if (show !== camera.visible) {
      camera.visible = show;
      camera.el.hidden = !show;
      camera.group.visible += show ? 1 : -1;
      camera.group.el.hidden = camera.group.visible === 0;
    }
  }

  applyFilter() {
    const query = this.query();
    const status = this.statusEl.value;
    for (const camera of this.cameras.values()) {
      this.filterOne(camera, query, status);
    }
    this.showCount();
  }

  showCount() {
    let visible = 0;
    for (const group of this.groups.values()) {
      visible += group.visible;
    }
    const total = this.cameras.size;
    this.countEl.textContent =
      visible === total ? `${total} camera${total === 1 ? "" : "s"}` : `${visible} of ${total} cameras`;
  }

  own() {
    return [...this.cameras.values()].filter((camera) => camera.own);
  }
}

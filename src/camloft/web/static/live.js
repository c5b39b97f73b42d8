// Live view: `livecommand` at once and every 30 s while the view is shown and the tab is
// visible (none once it hides or closes: the camera stops 60 s after the last one), the
// live origin's playlist in hls.js, "record now" (`triggerevent` every 15 s while on),
// "capture still", and the PTZ pad for admins (`ptzstart_<dir>` on press, `ptzstop` on
// release).

import { ApiError } from "./api.js";
import { el } from "./dom.js";
import { Player } from "./player.js";

const KEEPALIVE_MS = 30000;
const TRIGGER_MS = 15000;
const STILL_WAIT_MS = 20000;

export class LiveView {
  constructor(session, cameras, ui, showError) {
    this.session = session;
    this.cameras = cameras;
    this.ui = ui; // {root, video, state, record, still, stillFigure, ptz}
    this.showError = showError;
    this.camera = null;
    this.keepalive = null;
    this.trigger = null;
    this.restart = null;
    this.player = new Player(ui.video, {
      live: true,
      onFatal: (info) => this.fatal(info),
    });
    document.addEventListener("visibilitychange", () => this.visibility());
    window.addEventListener("pagehide", () => this.stop());
    ui.record.addEventListener("click", () => this.toggleRecord());
    ui.still.addEventListener("click", () => this.captureStill());
    for (const button of ui.ptz.querySelectorAll("button[data-dir]")) {
      this.bindPtz(button, button.dataset.dir);
    }
  }

  open(camera) {
    if (this.camera === camera) {
      return;
    }
    this.stop();
    this.camera = camera;
    this.ui.ptz.hidden = !camera.admin;
    this.ui.record.hidden = !camera.admin;
    this.setRecord(false);
    this.ui.stillFigure.hidden = true;
    this.ui.stillFigure.querySelector("img").removeAttribute("src");
    if (document.visibilityState === "visible") {
      this.begin();
    }
  }

  /** Keepalive on, playlist in the player. */
  async begin() {
    const camera = this.camera;
    clearInterval(this.keepalive);
    this.keepalive = setInterval(() => this.livecommand(), KEEPALIVE_MS);
    this.setState("Starting the camera…");
    const ok = await this.livecommand();
    if (!ok || this.camera !== camera || document.visibilityState !== "visible") {
      return;
    }
    this.setState("Waiting for the first video…");
    const token = await this.session.freshToken();
    const url =
      `${camera.wowzaUrl}/manything/${encodeURIComponent(camera.streamname)}/playlist.m3u8` +
      `?userToken=${encodeURIComponent(token)}`;
    this.ui.video.addEventListener("playing", () => this.setState(""), { once: true });
    this.player.load(url);
  }

  async livecommand() {
    if (!this.camera || document.visibilityState !== "visible") {
      return false;
    }
    try {
      await this.session.task(this.camera, "livecommand");
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === "camera_offline") {
        this.setState("The camera is offline; trying again…");
        clearTimeout(this.restart);
        this.restart = setTimeout(() => this.camera && this.begin(), 5000);
      } else {
        this.showError(err);
      }
      return false;
    }
  }

  fatal(info) {
    // The stream ended (its tail ran out) or the token expired: start over in a moment.
    this.setState(`Reconnecting (${info.details}${info.status ? `, HTTP ${info.status}` : ""})…`);
    this.player.destroy();
    clearTimeout(this.restart);
    this.restart = setTimeout(() => this.camera && document.visibilityState === "visible" && this.begin(), 2000);
  }

  visibility() {
    if (!this.camera) {
      return;
    }
    if (document.visibilityState === "visible") {
      this.begin();
    } else {
      // Hidden: no more keepalives, so the camera stops streaming a minute later.
      clearInterval(this.keepalive);
      clearTimeout(this.restart);
      this.keepalive = null;
      this.player.destroy();
    }
  }

  stop() {
    clearInterval(this.keepalive);
    clearTimeout(this.restart);
    this.keepalive = null;
    this.setRecord(false);
    this.stopPtz();
    this.player.destroy();
    this.camera = null;
  }

  setState(text) {
    this.ui.state.textContent = text;
    this.ui.state.hidden = !text;
  }

  toggleRecord() {
    this.setRecord(this.ui.record.getAttribute("aria-pressed") !== "true");
  }

  setRecord(on) {
    clearInterval(this.trigger);
    this.trigger = null;
    this.ui.record.setAttribute("aria-pressed", on ? "true" : "false");
    this.ui.record.textContent = on ? "Recording… (stop)" : "Record now";
    if (on && this.camera) {
      const send = () =>
        this.session.task(this.camera, "triggerevent").catch((err) => {
          this.showError(err);
          this.setRecord(false);
        });
      send();
      this.trigger = setInterval(send, TRIGGER_MS);
    }
  }

  async captureStill() {
    const camera = this.camera;
    const before = camera.laststill;
    const button = this.ui.still;
    button.disabled = true;
    this.setState("Capturing a still…");
    try {
      await this.session.task(camera, "capturestill");
      const still = await this.waitForStill(camera, before);
      if (this.camera !== camera) {
        return;
      }
      if (still === null) {
        this.showError(new Error("the camera sent no still in 20 s"));
        return;
      }
      const img = this.ui.stillFigure.querySelector("img");
      img.src = this.session.pictureUrl("getstill", camera, still);
      img.alt = `Still of ${camera.name}`;
      this.ui.stillFigure.querySelector("a").href = img.src;
      this.ui.stillFigure.hidden = false;
    } catch (err) {
      this.showError(err);
    } finally {
      button.disabled = false;
      if (this.ui.state.textContent === "Capturing a still…") {
        this.setState("");
      }
    }
  }

  /** `laststill` rising: from the realtime stream, or asked of `/cameras/status` each second. */
  waitForStill(camera, before) {
    return new Promise((resolve) => {
      let done = false;
      const finish = (value) => {
        if (!done) {
          done = true;
          clearInterval(poll);
          clearTimeout(limit);
          unsubscribe();
          resolve(value);
        }
      };
      const newer = (value) => value && (!before || value > before);
      const unsubscribe = this.cameras.onChange((changed) => {
        if (changed === camera && newer(changed.laststill)) {
          finish(changed.laststill);
        }
      });
      const poll = setInterval(async () => {
        try {
          const body = await this.session.call(`${camera.loggerUrl}/cameras/status`, { params: { uidd: camera.uidd } });
          const [uid, id] = camera.uidd.split(".");
          const state = body.result[uid] && body.result[uid].devices[id];
          if (state && newer(state.laststill)) {
            camera.laststill = state.laststill;
            finish(state.laststill);
          }
        } catch {
          // the realtime stream may still bring it
        }
      }, 1000);
      const limit = setTimeout(() => finish(null), STILL_WAIT_MS);
    });
  }

  bindPtz(button, dir) {
    const start = () => {
      if (!this.camera || this.ptzActive === button) return;
      this.ptzActive = button;
      button.classList.add("pressed");
      this.session.task(this.camera, `ptzstart_${dir}`).catch((err) => this.showError(err));
    };
    const stop = () => {
      if (this.ptzActive === button) {
        this.stopPtz();
      }
    };
    button.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      start();
      try {
        button.setPointerCapture(event.pointerId); // the release comes here, wherever it is
      } catch {
        // no active pointer (a synthetic event)
      }
    });
    button.addEventListener("pointerup", stop);
    button.addEventListener("pointercancel", stop);
    button.addEventListener("lostpointercapture", stop);
    button.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && !event.repeat) {
        event.preventDefault();
        start();
      }
    });
    button.addEventListener("keyup", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        stop();
      }
    });
    button.addEventListener("blur", stop);
    button.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  stopPtz() {
    if (this.ptzActive) {
      this.ptzActive.classList.remove("pressed");
      this.ptzActive = null;
      if (this.camera) {
        this.session.task(this.camera, "ptzstop").catch((err) => this.showError(err));
      }
    }
  }
}

export function ptzPad() {
  const button = (dir, label, text) =>
    el("button", { type: "button", className: `ptz-${dir}`, dataset: { dir }, "aria-label": label }, text);
  return [
    button("up", "Tilt up", "▲"),
    button("left", "Pan left", "◀"),
    button("right", "Pan right", "▶"),
    button("down", "Tilt down", "▼"),
    button("in", "Zoom in", "+"),
    button("out", "Zoom out", "−"),
  ];
}

// camloft's web viewer: login, cameras, events, playback, live view, sharing.
//
// Screens are routes of the URL's fragment, so the browser's back button works:
//   #/                          the cameras
//   #/camera/<uidd>             a camera's events
//   #/camera/<uidd>/event/<id>  playing one of them
//   #/camera/<uidd>/live        live view
//   #/sharing                   the owner's sharing screen

import { ApiError, Session } from "./api.js";
import { CameraList } from "./cameras.js";
import { formatInZone } from "./dom.js";
import { EventList, eventDuration, eventSummary } from "./events.js";
import { LiveView, ptzPad } from "./live.js";
import { Player } from "./player.js";
import { Realtime } from "./realtime.js";
import { Sharing } from "./sharing.js";

const $ = (id) => document.getElementById(id);

// ---- errors: the API's {"error", "message"} shown to the user ----

function showError(err) {
  let text;
  if (err instanceof ApiError) {
    text = `${err.message} (${err.code})`;
  } else if (err instanceof TypeError) {
    text = "camloft cannot be reached: check the connection";
  } else {
    text = err && err.message ? err.message : String(err);
  }
  $("error-text").textContent = text;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

$("error-close").addEventListener("click", clearError);

function confirmDialog(text) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// ---- the parts ----

const session = new Session({ onExpired: (note) => showLogin(note) });
const cameras = new CameraList(session, {
  list: $("camera-list"),
  search: $("camera-search"),
  statusFilter: $("camera-status-filter"),
  count: $("camera-count"),
});
const events = new EventList(session, {
  list: $("event-list"),
  end: $("events-end"),
  status: $("events-status"),
  onDelete: (camera, event) => deleteEvent(camera.uidd, event.id, { ask: true }),
});
$("ptz").append(...ptzPad());
const live = new LiveView(
  session,
  cameras,
  {
    video: $("live-video"),
    state: $("live-state"),
    record: $("record-now"),
    still: $("capture-still"),
    stillFigure: $("still"),
    ptz: $("ptz"),
  },
  showError,
);
const sharing = new Sharing(
  session,
  cameras,
  {
    form: $("share-form"),
    email: $("share-email"),
    device: $("share-device"),
    right: $("share-right"),
    table: $("grant-rows"),
    status: $("sharing-status"),
  },
  showError,
);
const realtime = new Realtime(
  session,
  (message) => {
    if (message.type === "liveSession" && message.data) {
      cameras.update(message.data.uidd, message.data);
    } else if (message.type === "alert" && message.data) {
      events.arrived(message.data);
    }
  },
  () => followMoves(),
);

// Where the cameras' loggers and origins are: viewerInfo again every 10 minutes, as the
// reference asks, and when a realtime stream fails (at most every 15 s); a camera that
// moved gets its realtime stream from its new logger.
const PLACEMENT_EVERY_MS = 10 * 60 * 1000;
const PLACEMENT_AT_MOST_MS = 15 * 1000;
let placementAskedAt = 0;

async function followMoves() {
  if (!session.token || Date.now() - placementAskedAt < PLACEMENT_AT_MOST_MS) {
    return;
  }
  placementAskedAt = Date.now();
  try {
    if (await cameras.refreshPlacement()) {
      realtime.start([...cameras.cameras.values()]);
    }
  } catch {
    // the authenticator did not answer: the next turn asks again
  }
}

setInterval(() => followMoves(), PLACEMENT_EVERY_MS);
cameras.onChange((camera) => {
  if (camera === cameras.selected) {
    showCameraStatus(camera);
  }
});

// ---- playback of a recorded event ----

const eventPlayer = new Player($("event-video"), {
  onFatal: (info) => {
    if (info.status === 401 && playing) {
      // The token in the segment URIs expired: reload with a fresh one where we were.
      playEvent(playing.camera, playing.event, $("event-video").currentTime);
    } else {
      showError(new Error(`the video could not be played (${info.details}${info.status ? `, HTTP ${info.status}` : ""})`));
    }
  },
});
let playing = null;

async function playEvent(camera, event, startAt = 0) {
  playing = { camera, event };
  const token = await session.freshToken();
  const params = `uidd=${encodeURIComponent(camera.uidd)}&id=${event.id}&token=${encodeURIComponent(token)}`;
  eventPlayer.load(`${camera.loggerUrl}/alerturl.m3u8?${params}`, startAt);
  $("download").href = `${camera.loggerUrl}/alerturl.m3u8?${params}&buildmp4=1`;
  $("event-info").replaceChildren(
    `${formatInZone(event.startt, event.tz)} · ${eventDuration(event)} · ${eventSummary(event)}`,
  );
  $("delete-current").hidden = !camera.admin;
}

function stopEvent() {
  playing = null;
  eventPlayer.destroy();
}

// The download link carries a token: renew it as the link is used.
$("download").addEventListener("click", () => {
  if (playing) {
    const { camera, event } = playing;
    $("download").href = session.url(`${camera.loggerUrl}/alerturl.m3u8`, { uidd: camera.uidd, id: event.id, buildmp4: 1 });
  }
});

$("delete-current").addEventListener("click", () => {
  if (playing) {
    deleteEvent(playing.camera.uidd, playing.event.id, { ask: true });
  }
});

/** Deletes an event (`DELETE /alert/{uidd}/{id}`, admin right); refusals are shown. */
async function deleteEvent(uidd, id, { ask = false } = {}) {
  const camera = cameras.cameras.get(uidd);
  const event = events.events.get(id);
  if (ask) {
    const when = event ? formatInZone(event.startt, event.tz) : `#${id}`;
    const ok = await confirmDialog(`Delete the event of ${camera ? camera.name : uidd} at ${when} and its video?`);
    if (!ok) {
      return false;
    }
  }
  try {
    const logger = camera ? camera.loggerUrl : "";
    await session.call(`${logger}/alert/${encodeURIComponent(uidd)}/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    showError(err);
    return false;
  }
  events.removed(uidd, id);
  if (playing && playing.camera.uidd === uidd && playing.event.id === id) {
    location.hash = `#/camera/${uidd}`;
  }
  return true;
}

// ---- screens ----

function showCameraStatus(camera) {
  const badge = $("camera-status");
  badge.textContent = camera.status;
  badge.className = `badge status-${camera.status}`;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

async function route() {
  if (!session.token) {
    return;
  }
  const hash = location.hash || "#/";
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  let screen = "list";
  let camera = null;
  let view = null;
  if (parts[0] === "sharing") {
    screen = "sharing";
  } else if (parts[0] === "camera" && parts[1]) {
    camera = cameras.cameras.get(decodeURIComponent(parts[1])) || null;
    if (!camera) {
      showError(new Error(`no camera ${parts[1]} among yours`));
      screen = "list";
    } else {
      screen = "camera";
      view = parts[2] === "live" ? "live" : parts[2] === "event" && parts[3] ? "event" : "events";
    }
  }
  document.body.dataset.route = screen;
  cameras.select(camera ? camera.uidd : null);
  show("placeholder", screen === "list");
  show("camera-view", screen === "camera");
  show("sharing-view", screen === "sharing");
  $("nav-cameras").toggleAttribute("aria-current", screen !== "sharing");
  $("nav-sharing").toggleAttribute("aria-current", screen === "sharing");

  if (view !== "live") {
    live.stop();
  }
  if (view !== "event") {
    stopEvent();
  }
  if (screen === "sharing") {
    await sharing.open();
    return;
  }
  if (screen !== "camera") {
    events.clear();
    return;
  }
  $("camera-title").textContent = camera.name;
  showCameraStatus(camera);
  $("tab-events").href = `#/camera/${camera.uidd}`;
  $("tab-live").href = `#/camera/${camera.uidd}/live`;
  $("tab-events").toggleAttribute("aria-current", view !== "live");
  $("tab-live").toggleAttribute("aria-current", view === "live");
  show("live-view", view === "live");
  show("event-view", view === "event");
  show("events-pane", view !== "live");
  if (view === "live") {
    events.clear();
    live.open(camera);
    return;
  }
  events.show(camera);
  if (view === "event") {
    const id = Number(parts[3]);
    try {
      const event = await events.find(camera, id);
      if (!event) {
        showError(new Error(`no event ${id} of ${camera.name}`));
        return;
      }
      if (!playing || playing.event.id !== id || playing.camera !== camera) {
        await playEvent(camera, event);
      }
    } catch (err) {
      showError(err);
    }
  }
}

window.addEventListener("hashchange", () => route().catch(showError));

// ---- login ----

function showLogin(note = "") {
  realtime.stop();
  live.stop();
  stopEvent();
  document.body.dataset.route = "login";
  show("app", false);
  show("login-screen", true);
  $("login-note").textContent = note;
  $("login-email").focus();
}

async function start() {
  show("login-screen", false);
  show("app", true);
  $("user-email").textContent = session.user.email;
  await cameras.load();
  $("nav-sharing").hidden = cameras.own().length === 0;
  realtime.start([...cameras.cameras.values()]);
  await route();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const button = $("login-submit");
  button.disabled = true;
  try {
    await session.login($("login-email").value.trim(), $("login-password").value);
    $("login-password").value = "";
    await start();
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await session.logout().catch(() => {});
  location.hash = "#/";
  showLogin("You are logged out.");
});

async function boot() {
  try {
    // Back in without a password, from the cookie of an earlier login.
    if (await session.cookieLogin()) {
      await start();
      return;
    }
  } catch (err) {
    showError(err);
  }
  showLogin();
}

// For scripts and tests: the same calls the page makes.
window.camloft = { session, cameras, events, deleteEvent, route };

boot();

// The session and every call to camloft's API.
//
// A login (`GET /login?caller=website`) sets the long-lived `camloft_login` cookie
// (HttpOnly); the page keeps only the 20-minute token, in memory. The token is renewed
// from the cookie (`caller=cookielogin`) when three quarters of its life are gone, and
// before any call made after that (a hidden tab's timers may run late).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const REFRESH_AT = 0.75; // of the token's lifetime

async function parse(response) {
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) {
    body = await response.json();
  }
  if (!response.ok) {
    if (body && typeof body.error === "string") {
      throw new ApiError(response.status, body.error, body.message || body.error);
    }
    throw new ApiError(response.status, "http_error", `the server answered ${response.status}`);
  }
  return body;
}

export class Session {
  constructor({ onExpired }) {
    this.onExpired = onExpired;
    this.token = null;
    this.user = null; // the login result: uid, email, accountInfo, tokenTtl
    this.issuedAt = 0;
    this.timer = null;
    this.refreshing = null;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.token && this.stale()) {
        this.refresh().catch(() => {});
      }
    });
  }

  get uid() {
    return this.user ? this.user.uid : null;
  }

  get ttlMs() {
    return ((this.user && this.user.tokenTtl) || 1200) * 1000;
  }

  stale() {
    return Date.now() - this.issuedAt >= this.ttlMs * REFRESH_AT;
  }

  async login(email, password) {
    const params = new URLSearchParams({ email, password, caller: "website" });
    const body = await parse(await fetch(`/login?${params}`, { credentials: "same-origin" }));
    this.accept(body.result);
  }

  /** Logs in from the cookie; false when there is no valid cookie. */
  async cookieLogin() {
    try {
      const response = await fetch("/login?caller=cookielogin", { credentials: "same-origin" });
      this.accept((await parse(response)).result);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        return false;
      }
      throw err;
    }
  }

  accept(result) {
    this.user = result;
    this.token = result.authToken;
    this.issuedAt = Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.refresh().catch(() => {}),
      Math.max(5000, this.ttlMs * REFRESH_AT),
    );
  }

  /** A fresh token from the cookie; one refresh at a time. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.cookieLogin()
        .then((ok) => {
          if (!ok) {
            this.end();
            this.onExpired("Your session has ended: log in again.");
          }
        })
        .catch((err) => {
          // The server could not be reached: try again soon, the token still lives a while.
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.refresh().catch(() => {}), 15000);
          throw err;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  async freshToken() {
    if (this.stale()) {
      await this.refresh();
    }
    return this.token;
  }

  async logout() {
    try {
      await fetch("/logout", { method: "POST", credentials: "same-origin" });
    } finally {
      this.end();
    }
  }

  end() {
    clearTimeout(this.timer);
    this.token = null;
    this.user = null;
  }

  /** A URL that carries the token in its query (players, downloads, EventSource). */
  url(path, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        query.append(name, String(one));
      }
    }
    query.set("token", this.token);
    return `${path}?${query}`;
  }

  /** A camera's picture on its logger: the token is the last path segment, as the reference puts it. */
  pictureUrl(kind, camera, time) {
    const path = `/${kind}/${encodeURIComponent(camera.uidd)}/${time}/${encodeURIComponent(this.token)}`;
    return `${camera.loggerUrl}${path}`;
  }

  /** Calls the API with the token in the Authorization header; answers the parsed JSON. */
  async call(path, { method = "GET", params = {}, body } = {}) {
    const token = await this.freshToken();
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        query.append(name, String(one));
      }
    }
    const headers = { Authorization: `ManythingToken ${token}` };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const search = query.toString();
    return parse(await fetch(search ? `${path}?${search}` : path, init));
  }

  /** A camera task (`/sendcameratask`), sent to the camera's logger. */
  task(camera, action) {
    return this.call(`${camera.loggerUrl}/sendcameratask`, { params: { uidd: camera.uidd, action } });
  }
}

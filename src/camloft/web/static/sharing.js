// The sharing screen of an owner: the grants given on its cameras (`GET /sharing`), a form
// to grant read or admin on all or one of them (`POST /sharing`), revoking
// (`POST /sharing/revoke`).

import { el } from "./dom.js";

const RIGHTS = { r: "Read", a: "Admin" };

export class Sharing {
  constructor(session, cameras, ui, showError) {
    this.session = session;
    this.cameras = cameras;
    this.ui = ui; // {form, email, device, right, table, status}
    this.showError = showError;
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.grant();
    });
  }

  async open() {
    const own = this.cameras.own();
    const select = this.ui.device;
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "" }, "All my cameras (also future ones)"),
      ...own.map((camera) => el("option", { value: camera.uidd }, `${camera.name} (${camera.uidd})`)),
    );
    select.value = own.some((camera) => camera.uidd === chosen) ? chosen : "";
    await this.refresh();
  }

  targetName(target) {
    if (!target.includes(".")) {
      return "All my cameras";
    }
    const camera = this.cameras.cameras.get(target);
    return camera ? `${camera.name} (${target})` : target;
  }

  async refresh() {
    try {
      const body = await this.session.call("/sharing");
      this.render(body.result);
    } catch (err) {
      this.showError(err);
    }
  }

  render(grants) {
    const rows = grants.map((grant) => {
      const revoke = el(
        "button",
        {
          type: "button",
          className: "danger small",
          "aria-label": `Revoke ${grant.viewer}'s access to ${this.targetName(grant.target)}`,
        },
        "Revoke",
      );
      revoke.addEventListener("click", () => this.revoke(grant));
      return el(
        "tr",
        { dataset: { viewer: grant.viewer, target: grant.target } },
        el("td", {}, grant.viewer),
        el("td", {}, this.targetName(grant.target)),
        el("td", {}, RIGHTS[grant.right] || grant.right),
        el("td", {}, revoke),
      );
    });
    this.ui.table.replaceChildren(...rows);
    this.ui.status.textContent = grants.length ? "" : "You share no camera yet.";
  }

  async grant() {
    const email = this.ui.email.value.trim();
    const device = this.ui.device.value || null;
    const right = this.ui.right.value;
    try {
      await this.session.call("/sharing", { method: "POST", body: { email, device, right } });
      this.ui.email.value = "";
      await this.refresh();
    } catch (err) {
      this.showError(err);
    }
  }

  async revoke(grant) {
    const device = grant.target.includes(".") ? grant.target : null;
    try {
      await this.session.call("/sharing/revoke", {
        method: "POST",
        body: { email: grant.viewer, device },
      });
      await this.refresh();
    } catch (err) {
      this.showError(err);
    }
  }
}

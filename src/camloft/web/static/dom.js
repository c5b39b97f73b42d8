// A small helper to make elements: el("a", {href: "#", className: "x"}, "text", child).

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name.startsWith("aria-") || name === "role" || name === "for") {
      node.setAttribute(name, value === true ? "true" : String(value));
    } else {
      node[name] = value;
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

/** `startt` (ms, UTC) shown in the camera's zone, `tz` hours from UTC: "2026-11-25 14:17:50 UTC+1". */
export function formatInZone(ms, tzHours) {
  const tz = Number(tzHours) || 0;
  const d = new Date(ms + tz * 3600000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const abs = Math.abs(tz);
  const hours = Math.floor(abs);
  const minutes = Math.round((abs - hours) * 60);
  const zone = `UTC${tz < 0 ? "−" : "+"}${hours}${minutes ? `:${pad(minutes)}` : ""}`;
  return `${date} ${time} ${zone}`;
}

/** Seconds as "m:ss" or "h:mm:ss". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** A magnitude "00".."0a" (hex) as "3/10"; null when not measured. */
export function formatMagnitude(hex) {
  if (hex === null || hex === undefined) {
    return null;
  }
  const value = parseInt(hex, 16);
  return Number.isNaN(value) ? null : `${value}/10`;
}

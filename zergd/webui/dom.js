// Building DOM safely: text always goes in as text nodes, attributes as
// properties on an allow-list, URLs only when their scheme is safe.  Nothing
// here (or anywhere in the Timeline) assigns innerHTML.

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

export function safeUrl(url) {
  try {
    const u = new URL(url, location.origin);
    return SAFE_SCHEMES.has(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

const ATTRS = new Set(["id", "title", "type", "name", "value", "placeholder", "role", "tabindex", "open",
  "checked", "disabled", "htmlFor", "download", "alt", "loading", "datetime", "colSpan", "rel", "target",
  "selected", "hidden", "max"]);

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "href") {
      const url = value.startsWith("/") || value.startsWith("#") ? value : safeUrl(value);
      if (url) el.setAttribute("href", url);
    } else if (key === "src") {
      if (/^data:image\/(png|jpeg|gif|webp);base64,/.test(value) || value.startsWith("/")) el.setAttribute("src", value);
    } else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key.startsWith("data-") || key === "tabindex") el.setAttribute(key, String(value));
    else if (key.startsWith("aria-")) el.setAttribute(key, String(value));
    else if (ATTRS.has(key)) el[key] = value;
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  return isNaN(d) ? ts : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function fmtDate(ts) {
  const d = new Date(ts);
  return isNaN(d) ? ts : d.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" });
}

export function fmtDay(ts) {
  const d = new Date(ts);
  if (isNaN(d)) return "Undated";
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

export function fmtDuration(a, b) {
  if (!a || !b) return "";
  const s = Math.max(0, (new Date(b) - new Date(a)) / 1000);
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.round((s % 86400) / 3600)}h`;
}

// 1,234 · 12k · 3.4M · 1.2B: a count as the eye takes it in.
export function compact(n) {
  n = Number(n || 0);
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : Math.round(n).toLocaleString();
}

// $1,234.56, "+?" when some of it has no price; "unknown" when none has.
export function usd(value, unknown) {
  if (value === null || value === undefined) return "unknown";
  return `$${value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}${unknown && unknown.length ? " +?" : ""}`;
}

export function plural(n, word) {
  const many = word.endsWith("y") ? `${word.slice(0, -1)}ies` : `${word}s`;
  return `${(n || 0).toLocaleString()} ${n === 1 ? word : many}`;
}

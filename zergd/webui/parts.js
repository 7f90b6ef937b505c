// The pieces of a transcript line every agent's feeder shows the same way:
// text of content blocks, images, folds built on first open, raw JSON.

import { h } from "./dom.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function anchorOf(line) {
  return `g${line.gen}-${line.offset}`;
}

export function resultText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((p) => p && p.type === "text").map((p) => p.text || "").join("\n");
  return "";
}

export function imagesOf(content) {
  return Array.isArray(content) ? content.filter((p) => p && p.type === "image").map(image) : [];
}

export function image(block) {
  const src = block.source || {};
  if (src.type === "base64" && IMAGE_TYPES.has(src.media_type) && typeof src.data === "string") {
    return h("img", { class: "shot", src: `data:${src.media_type};base64,${src.data}`, alt: "image from the transcript", loading: "lazy" });
  }
  return h("p", { class: "muted small" }, `(image: ${src.media_type || src.type || "unknown"})`);
}

export function textOf(blocks) {
  return blocks.map((b) => (b && typeof b.text === "string" ? b.text : "")).join("\n");
}

// <details> whose body is built the first time it opens: tool results can be
// megabytes, and most are never opened.
export function collapsible(label, build, cls = "") {
  const details = h("details", { class: `fold ${cls}` }, h("summary", {}, label));
  details.addEventListener("toggle", () => {
    if (details.open && !details.dataset.built) {
      details.dataset.built = "1";
      details.append(build());
    }
  });
  return details;
}

export function rawJson(obj, label) {
  return collapsible(label, () => h("pre", { class: "raw" }, pretty(obj)), "rawjson");
}

export function pretty(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

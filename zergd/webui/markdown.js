// A small Markdown renderer that builds DOM nodes, never HTML strings:
// whatever a transcript holds (<script>, onerror=, javascript: links) ends up
// as text.  Covers what agents write: paragraphs, headings, fenced code,
// lists, quotes, tables as text, inline code, bold, italic, links.

import { h, safeUrl } from "./dom.js";
import { highlight } from "./highlight.js";

const RENDER_CAP = 200_000; // characters; longer text is shown plain

export function markdown(text) {
  const root = h("div", { class: "md" });
  if (!text) return root;
  if (text.length > RENDER_CAP) {
    root.append(h("pre", { class: "plain" }, text));
    return root;
  }
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```+|~~~+)\s*([\w+#.-]*)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      root.append(h("pre", { class: "code", "data-lang": fence[2] || null }, highlight(body.join("\n"), fence[2].toLowerCase())));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      const level = Math.min(6, heading[1].length + 2);
      root.append(h(`h${level}`, {}, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ""));
      root.append(h("blockquote", {}, markdown(body.join("\n"))));
      continue;
    }
    const item = line.match(/^(\s*)([-*+]|\d+[.)])\s+(.*)$/);
    if (item) {
      const ordered = /\d/.test(item[2]);
      const list = h(ordered ? "ol" : "ul", {});
      while (i < lines.length) {
        const m = lines[i].match(/^(\s*)([-*+]|\d+[.)])\s+(.*)$/);
        if (m) {
          list.append(h("li", {}, inline(m[3])));
          i++;
        } else if (lines[i].trim() && /^\s{2,}/.test(lines[i]) && list.lastChild) {
          list.lastChild.append(" ", inline(lines[i].trim()));
          i++;
        } else break;
      }
      root.append(list);
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.append(h("hr"));
      i++;
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(lines[i])) {
      para.push(lines[i++]);
    }
    if (!para.length) para.push(lines[i++]);
    const p = h("p");
    para.forEach((text, n) => {
      if (n) p.append(h("br"));
      p.append(...inline(text));
    });
    root.append(p);
  }
  return root;
}

// Emphasis needs a non-word character outside it, as in CommonMark: snake_case
// and __dunder__ names inside words stay as they are.
const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|(?<!\w)__([^_]+)__(?!\w)|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

export function inline(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h("code", {}, m[2]));
    else if (m[3] || m[4]) out.push(h("strong", {}, m[3] || m[4]));
    else if (m[5]) out.push(h("em", {}, m[5]));
    else if (m[6] && /^\/(?!\/)/.test(m[7])) {
      out.push(h("a", { href: m[7], "data-nav": "", class: "internal" }, m[6])); // a Timeline link (Oikos cites these)
    } else if (m[6]) {
      const url = safeUrl(m[7]);
      out.push(url ? h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" }, m[6]) : `[${m[6]}](${m[7]})`);
    } else if (m[8]) {
      const url = safeUrl(m[8]);
      out.push(url ? h("a", { href: url }, m[8]) : m[8]);
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  for (const node of out) {
    if (node instanceof HTMLAnchorElement && !node.classList.contains("internal")) {
      node.rel = "noopener noreferrer nofollow";
      node.target = "_blank";
    }
  }
  return out;
}

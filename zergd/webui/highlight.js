// Syntax colouring good enough to read code at a glance: comments, strings,
// numbers and keywords for the languages agents write most.  It builds text
// nodes inside <span>s (never HTML), and gives up on very long text, which
// is shown plain.

import { h } from "./dom.js";

const CAP = 100_000;
const C_LIKE = "break case catch class const continue default do else enum export extends false finally for function if import in instanceof interface let new null return static super switch this throw true try type typeof undefined var void while yield async await of from as implements package private protected public";
const KEYWORDS = {
  js: C_LIKE,
  py: "and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield self match case",
  sh: "if then else elif fi for while do done case esac function in return export local echo cd exit set unset source sudo",
  rs: "as async await break const continue crate else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while dyn",
  go: "break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false",
  java: C_LIKE + " void int long boolean char double float final abstract synchronized",
  c: "auto break case char const continue default do double else enum extern float for goto if int long register return short signed sizeof static struct switch typedef union unsigned void volatile while include define nullptr true false class public private namespace template",
  sql: "select from where and or not insert into values update set delete create table index on join left inner outer group by order limit offset as with union all distinct having null primary key references begin commit",
  rb: "def end if elsif else unless while until do class module return yield true false nil self require begin rescue ensure",
};
const ALIASES = {
  javascript: "js", js: "js", jsx: "js", ts: "js", tsx: "js", typescript: "js", mjs: "js", cjs: "js", json: "js", svelte: "js", vue: "js",
  python: "py", py: "py", pyi: "py", bash: "sh", shell: "sh", zsh: "sh", sh: "sh", console: "sh", rust: "rs", rs: "rs",
  golang: "go", go: "go", java: "java", kt: "java", kotlin: "java", swift: "java", cs: "java", csharp: "java", scala: "java",
  c: "c", h: "c", cpp: "c", cc: "c", hpp: "c", "c++": "c", sql: "sql", ruby: "rb", rb: "rb", toml: "sh", yaml: "sh", yml: "sh",
};
const HASH_COMMENT = new Set(["py", "sh", "rb"]);
const cache = new Map();

export function langOf(nameOrPath) {
  if (!nameOrPath) return null;
  const s = String(nameOrPath).toLowerCase();
  const ext = s.includes(".") ? s.slice(s.lastIndexOf(".") + 1) : s;
  if (s.endsWith("dockerfile") || s.endsWith("makefile")) return "sh";
  return ALIASES[ext] || null;
}

function pattern(lang) {
  if (cache.has(lang)) return cache.get(lang);
  const words = KEYWORDS[lang].split(" ").join("|");
  const comment = HASH_COMMENT.has(lang) ? "#[^\\n]*" : lang === "sql" ? "--[^\\n]*" : "\\/\\/[^\\n]*|\\/\\*[\\s\\S]*?\\*\\/";
  const re = new RegExp(`(${comment})|("(?:[^"\\\\\\n]|\\\\.)*"|'(?:[^'\\\\\\n]|\\\\.)*'|\`(?:[^\`\\\\]|\\\\.)*\`)|\\b(\\d[\\d_.xXa-fA-F]*)\\b|\\b(${words})\\b`, lang === "sql" ? "gi" : "g");
  cache.set(lang, re);
  return re;
}

// A <code> element holding `text`, coloured when the language is known.
export function highlight(text, lang) {
  const code = h("code", {});
  const key = ALIASES[lang] || (KEYWORDS[lang] ? lang : null);
  if (!key || text.length > CAP) {
    code.textContent = text;
    return code;
  }
  const re = pattern(key);
  re.lastIndex = 0;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) code.append(text.slice(last, m.index));
    const cls = m[1] ? "tok-comment" : m[2] ? "tok-string" : m[3] ? "tok-number" : "tok-keyword";
    code.append(h("span", { class: cls }, m[0]));
    last = m.index + m[0].length;
    if (m[0].length === 0) re.lastIndex++;
  }
  if (last < text.length) code.append(text.slice(last));
  return code;
}

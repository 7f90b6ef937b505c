// What the server knows about each agent (zergd/transcript: labels, resume
// commands, the words their transcripts use), given to the page as JSON in
// index.html, so the Timeline and the parser never disagree.

const facts = JSON.parse(document.getElementById("zerg-agents")?.textContent || '{"agents": {}, "vocabulary": {}}');

export const AGENTS = facts.agents;
export const VOCABULARY = facts.vocabulary;

export function agentLabel(name) {
  return AGENTS[name]?.label || name;
}

export function speaker(name) {
  return AGENTS[name]?.speaker || "Agent";
}

// The command that resumes session `id` in its agent, or null.
export function resumeOf(name, id) {
  const template = AGENTS[name]?.resume;
  return template ? template.replace("{id}", id) : null;
}

const escapeRe = (text) => text.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");

// A regular expression matching text that starts with one of `prefixes`.
export function startsWithAny(prefixes) {
  return new RegExp("^\\s*(" + (prefixes || []).map(escapeRe).join("|") + ")");
}

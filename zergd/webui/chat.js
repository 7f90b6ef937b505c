// Ask Oikos about your sessions: threads on the left, the conversation on
// the right, answers streamed as they are written, tool activity shown.

import { h, clear, fmtTime } from "./dom.js";
import { markdown } from "./markdown.js";
import { request } from "./http.js";

export async function chatPage(main, { api, navigate }) {
  document.title = "Ask · zergd";
  clear(main);
  const status = await api("/api/chat/status");
  if (!status.available) {
    main.append(h("section", { class: "chat-off" }, h("h1", {}, "Ask Oikos about your sessions"),
      h("p", { class: "notice", role: "status" }, status.message),
      h("p", { class: "muted" }, "Everything else in zergd works without it.")));
    return;
  }
  const params = new URLSearchParams(location.search);
  const threadId = params.get("thread");
  const list = h("ul", { class: "threads" });
  const log = h("div", { class: "chat-log", "aria-live": "polite" });
  const input = h("textarea", { name: "question", rows: 3, placeholder: "How did I fix the flaky migration last month?" });
  const send = h("button", { type: "submit" }, "Ask");
  const form = h("form", { class: "ask" }, input, send);
  main.append(h("div", { class: "chat" },
    h("aside", {}, h("button", { type: "button", class: "new", onclick: () => navigate("/chat") }, "New chat"), list),
    h("section", { class: "conversation" }, h("p", { class: "muted" }, `Oikos answers from your archive with ${status.model}.`), log, form)));

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    let id = new URLSearchParams(location.search).get("thread");
    if (!id) {
      id = (await post("/api/chat/threads", {})).id;
      history.replaceState({}, "", `/chat?thread=${id}`);
    }
    input.value = "";
    showMessage(log, { role: "user", content: text });
    await stream(log, id, text);
    await drawThreads();
    send.disabled = false;
    input.focus();
  });
  const drawThreads = async () => {
    const current = new URLSearchParams(location.search).get("thread");
    clear(list);
    for (const t of (await api("/api/chat/threads")).threads) {
      list.append(h("li", { class: t.id === current ? "current" : "" },
        h("a", { href: `/chat?thread=${t.id}`, "data-nav": "" }, t.title || "(new chat)"),
        h("button", { type: "button", class: "delete", title: "Delete this chat", "aria-label": `Delete chat ${t.title || t.id}`,
          onclick: async () => {
            await request(`/api/chat/threads/${t.id}`, { method: "DELETE" }).catch(() => null);
            navigate(t.id === current ? "/chat" : location.pathname + location.search, { replace: true });
          } }, "×")));
    }
  };
  await drawThreads();
  if (threadId) {
    const thread = await api(`/api/chat/threads/${encodeURIComponent(threadId)}`).catch(() => null);
    if (!thread) {
      log.append(h("p", { class: "error" }, "This chat does not exist (deleted?)."));
      return;
    }
    for (const m of thread.messages) showMessage(log, m);
  }
  input.focus();
}

async function post(url, body) {
  try {
    return await request(url, { method: "POST", body });
  } catch (e) {
    throw new Error(e.detail || e.message);
  }
}

function showMessage(log, m) {
  if (m.role === "user" && typeof m.content === "string") {
    log.append(h("div", { class: "msg user" }, m.content));
    return;
  }
  if (m.role !== "assistant") return; // tool results stay behind the scenes
  const box = h("div", { class: "msg assistant" });
  for (const b of m.content) {
    if (b.type === "text") box.append(markdown(b.text));
    else if (b.type === "tool_use") box.append(h("div", { class: "activity" }, `${b.name} ${JSON.stringify(b.input)}`));
  }
  log.append(box);
}

async function stream(log, threadId, text) {
  const box = h("div", { class: "msg assistant streaming" });
  log.append(box);
  let answer = "";
  let textNode = markdown("");
  box.append(textNode);
  let resp;
  try {
    resp = await request(`/api/chat/threads/${threadId}/messages`, { method: "POST", body: { text }, stream: true });
  } catch (e) {
    box.append(h("p", { class: "error" }, e.detail || e.message));
    return;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const raw = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = raw.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (!data) continue;
      const event = JSON.parse(data);
      if (event.type === "text") {
        answer += event.text;
        const fresh = markdown(answer);
        textNode.replaceWith(fresh);
        textNode = fresh;
      } else if (event.type === "tool") {
        // Text after a tool call is a new paragraph of the same answer.
        box.insertBefore(h("div", { class: "activity" }, `${event.label}…`), textNode.nextSibling);
        answer = "";
        textNode = markdown("");
        box.append(textNode);
      } else if (event.type === "error") {
        box.append(h("p", { class: "error", role: "alert" }, event.message));
      }
    }
  }
  box.classList.remove("streaming");
}

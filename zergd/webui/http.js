// One way to ask zergd: JSON in, JSON out, an error that says what went
// wrong, and (on a team server whose sign-in ended) back to the sign-in page.

export class ApiError extends Error {
  constructor(message, status, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

// `params`: the query (empty values left out); `body`: sent as JSON;
// `stream`: hand back the response itself once it is OK (a streamed answer);
// `text`: the answer is text, not JSON; `signIn: false`: a 401 is an answer
// to show, not a reason to leave the page.
export async function request(path, { method = "GET", params, body, stream = false, text = false, signIn = true } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch {
    throw new ApiError(`zergd is not answering at ${location.origin} (is it running? \`zergd start\` starts it)`, 0, null);
  }
  if (stream && resp.ok) return resp;
  if (text && resp.ok) return resp.text();
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && signIn) { // sign in again, then come back here
    location.assign(`/login?${new URLSearchParams({ next: location.pathname + location.search })}`);
  }
  if (!resp.ok) {
    const detail = typeof data.detail === "string" ? data.detail : resp.statusText;
    throw new ApiError(`${url.pathname} answered ${resp.status}: ${detail}`, resp.status, detail);
  }
  return data;
}

export const api = (path, params) => request(path, { params });

// The API, called exactly as a third-party frontend would: fetch with a bearer token,
// JSON in and out, RFC 9457 problems turned into ApiError. The session (token and who it
// is) lives in localStorage, never in a URL.

const SESSION_KEY = "aethex.session";
const POSITION_KEY = "aethex.position";

/** A refusal from the API: `problem` is its problem+json (`detail`, `field`, `errors`). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `request failed (${status})`);
    this.status = status;
    this.problem = problem || { status, detail: this.message };
  }
}

export function session() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export function token() {
  return session()?.token || null;
}

export function saveSession(value) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function signOut() {
  localStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(POSITION_KEY);
}

/** The log position of one's last write: reads pass it as `after` to see that write. */
export function lastPosition() {
  return Number(sessionStorage.getItem(POSITION_KEY) || 0);
}

function remember(body) {
  const p = body && typeof body === "object" ? body.position : 0;
  if (Number.isInteger(p) && p > lastPosition()) sessionStorage.setItem(POSITION_KEY, String(p));
}

/**
 * One call. `body` is sent as JSON, `form` (FormData) as multipart; `query` values that
 * are null or undefined are left out; `fresh` adds `after` = one's last write.
 */
export async function api(method, path, { body, form, query, fresh = false, auth = true } = {}) {
  const url = new URL(path, location.origin);
  const params = { ...(query || {}) };
  if (fresh && lastPosition()) params.after = lastPosition();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  const bearer = auth ? token() : null;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let payload;
  if (form) {
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, { status: 0, detail: "the server could not be reached; try again" });
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && bearer) signOut();
    throw new ApiError(response.status, data || { status: response.status, detail: response.statusText });
  }
  remember(data);
  return data;
}

export const get = (path, options) => api("GET", path, options);
export const post = (path, body, options = {}) => api("POST", path, { ...options, body });
export const put = (path, body, options = {}) => api("PUT", path, { ...options, body });
export const del = (path, options) => api("DELETE", path, options);

let meCache = null;

/** The signed-in account (`GET /api/auth/user`), or null when signed out. */
export async function me({ refresh = false } = {}) {
  if (!token()) return null;
  if (!meCache || refresh) {
    meCache = get("/api/auth/user").catch((e) => {
      meCache = null;
      if (e.status === 401) return null;
      throw e;
    });
  }
  return meCache;
}

/** Keeps a new token the API issued (after a rename) and who it belongs to. */
export function adoptAccount(account) {
  const current = session() || {};
  saveSession({
    ...current,
    token: account.token || current.token,
    userId: account.id || account.user?.id || current.userId,
    username: account.username || account.user?.username || current.username,
  });
  meCache = null;
}

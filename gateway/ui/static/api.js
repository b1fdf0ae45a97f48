// The admin API as the console calls it. The admin key lives in sessionStorage (this tab only,
// gone when it closes) and travels as `Authorization: Bearer`, never in a URL or a cookie.
// POST and DELETE also carry the CSRF token of GET /admin/console/session.

const KEY_STORAGE = "switchyard.adminKey";
const CSRF_HEADER = "x-switchyard-csrf";

let csrfToken = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/** Check `key` against the gateway; on success keep it for this tab and return the session. */
export async function login(key) {
  const session = await request("GET", "/admin/console/session", { key });
  sessionStorage.setItem(KEY_STORAGE, key);
  csrfToken = session.csrf_token;
  return session;
}

export function logout() {
  sessionStorage.removeItem(KEY_STORAGE);
  csrfToken = null;
}

async function request(method, path, { query, body, key } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const credential = key ?? storedKey();
  const headers = { accept: "application/json", authorization: `Bearer ${credential ?? ""}` };
  if (method !== "GET") headers[CSRF_HEADER] = csrfToken ?? "";
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", redirect: "error",
    });
  } catch (error) {
    throw new ApiError(0, `the gateway did not answer (${error.message})`, "unreachable");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data && data.error ? data.error : {};
    const failure = new ApiError(response.status, detail.message ?? `${response.status} ${response.statusText}`, detail.code);
    if (key === undefined && response.status === 403 && detail.code === "admin_key_required") onUnauthorized(failure);
    throw failure;
  }
  return data;
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body) => request("POST", path, { body: body ?? {} });
export const del = (path) => request("DELETE", path);

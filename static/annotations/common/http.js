// Talking JSON to the server: the CSRF token every unsafe request needs, and one fetch wrapper
// whose answer is plain data, so callers branch on ok/status instead of catching HTTP errors.

const CSRF_COOKIE = "csrftoken"; // Django's CSRF_COOKIE_NAME default

function cookie(name) {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie ? document.cookie.split(";") : []) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** Django's CSRF token: the cookie, else a token the page rendered (form field or data-csrf). */
export function csrfToken() {
  const fromCookie = cookie(CSRF_COOKIE);
  if (fromCookie) return fromCookie;
  if (typeof document === "undefined") return "";
  const field = document.querySelector("[name=csrfmiddlewaretoken]");
  if (field && field.value) return field.value;
  const holder = document.querySelector("[data-csrf]");
  return holder ? holder.dataset.csrf : "";
}

/** A body fetch sends as it is (files, form data); anything else travels as JSON. */
function isRawBody(body) {
  return (typeof Blob !== "undefined" && body instanceof Blob)
    || (typeof FormData !== "undefined" && body instanceof FormData)
    || typeof body === "string";
}

/**
 * fetch with the session cookie and the CSRF header. options: method (GET), body (an object is
 * sent as JSON), headers, keepalive. Resolves to {ok, status, statusText, data} where data is the
 * parsed JSON answer or null; rejects only when the network is down.
 */
export async function fetchJson(url, { method = "GET", body = undefined, headers = {}, keepalive = false } = {}) {
  const json = body !== undefined && !isRawBody(body);
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    keepalive,
    headers: {
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
      ...(json ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: json ? JSON.stringify(body) : body,
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // an empty or HTML answer (a proxy error page): the status says enough
  }
  return { ok: response.ok, status: response.status, statusText: response.statusText, data };
}

/** The server's reason for a refusal, or the fallback. */
export function detailOf(res, fallback) {
  return (res && res.data && res.data.detail) || fallback;
}

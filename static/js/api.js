// The JSON API from the signed-in pages: the session cookie authenticates, the page's CSRF token guards writes.

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
    this.code = body?.code ?? null;
  }

  // The API names every problem (`{"errors": [{"field", "message"}]}`); say each of them, not just the first.
  static describe(status, body) {
    if (body && Array.isArray(body.errors) && body.errors.length) {
      return body.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("\n");
    }
    if (body && typeof body.message === "string") return body.message;
    if (body && typeof body.detail === "string") return body.detail;
    return `The server answered ${status}.`;
  }
}

// One request; resolves to {status, data, headers}, rejects with ApiError on 4xx/5xx or a network failure.
export async function api(method, path, body = undefined, { signal } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", signal };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken;
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1/${path}`, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { message: "The server could not be reached. Check the connection and try again." });
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 200) };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data, headers: response.headers };
}

// A DOM element with attributes and children; text is always set as text, so task data can never become markup.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// A short message in the page's live region, so that screen readers hear it too.
export function announce(message, kind = "info") {
  const region = document.getElementById("status");
  if (!region) return;
  region.textContent = message;
  region.dataset.kind = kind;
}

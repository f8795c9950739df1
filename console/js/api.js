// The public /v1 API with the signed-in key; the key lives in sessionStorage only.

const KEY = "tether.apiKey";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || body?.error || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export class Api {
  constructor(base) {
    this.base = base.replace(/\/$/, "");
  }

  get key() {
    return sessionStorage.getItem(KEY);
  }

  signIn(key) {
    sessionStorage.setItem(KEY, key);
  }

  signOut() {
    sessionStorage.removeItem(KEY);
  }

  async call(method, path, { body, query } = {}) {
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: `HTTP ${response.status}: ${text.slice(0, 200)}` };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path, query) {
    return this.call("GET", path, { query });
  }

  post(path, body = {}) {
    return this.call("POST", path, { body });
  }
}

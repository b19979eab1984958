// The one module that knows the API's URLs and its error format {"error": {"code", "message"}}.
// An ApiError carries the code; messages.js says it in words. Writes carry the write key
// (Authorization: Bearer), kept in sessionStorage for this tab and asked for when needed.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function failure(status, body, statusText) {
  const error = body?.error ?? {};
  // The API's own message is for developers; the page shows messages.js's words for the code.
  return new ApiError(status, error.code ?? `http_${status}`, error.message ?? statusText);
}

async function request(path, options = {}) {
  let response;
  const headers = { Accept: "application/json", ...(options.headers ?? {}) };
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the dogsearch server. Is it running?");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw failure(response.status, body, response.statusText);
  return body;
}

const json = (method, body, headers = {}) => ({
  method,
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** POST a form with upload progress (fetch has none): onProgress(fraction 0..1). */
function upload(path, form, onProgress, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(failure(xhr.status, body, xhr.statusText));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network", "Cannot reach the dogsearch server. Is it running?")),
    );
    xhr.send(form);
  });
}

const KEY_STORAGE = "dogsearch.writeKey";
const writeKey = {
  needed: false, // /api/stats said writes: "key"
  ask: async () => null, // ({wrong}) -> the key, or null when the person cancels
  asking: null,
};

/** Writes need the key (``mode`` is /api/stats' ``writes``); ``ask`` shows the page's dialog. */
export function useWriteKey({ mode, ask }) {
  if (mode !== undefined) writeKey.needed = mode === "key";
  if (ask) writeKey.ask = ask;
}

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null; // storage disabled: the key is asked for at each write
  }
}

function keepKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {}
}

/** One dialog at a time, however many writes wait for it; a cancel refuses them all. */
async function askKey(wrong) {
  writeKey.asking ??= writeKey.ask({ wrong }).finally(() => (writeKey.asking = null));
  const key = await writeKey.asking;
  if (!key) throw new ApiError(401, "unauthorized", "no write key was given");
  return key;
}

/** ``send(headers)`` a write with the stored key. Without one, the key is asked for first when
 * writes need it, else once the API refuses; a refused key is forgotten and asked for once. */
async function write(send) {
  let key = storedKey();
  const askedFirst = !key && writeKey.needed;
  if (askedFirst) key = await askKey(false);
  const auth = (value) => (value ? { Authorization: `Bearer ${value}` } : {});
  try {
    const body = await send(auth(key));
    keepKey(key);
    return body;
  } catch (error) {
    if (error.code !== "unauthorized") throw error;
    keepKey(null);
    if (askedFirst) throw error; // the key just typed was refused: say so, do not loop
    key = await askKey(Boolean(key));
    const body = await send(auth(key));
    keepKey(key);
    return body;
  }
}

function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? `?${new URLSearchParams(entries)}` : "";
}

export const api = {
  stats: () => request("/api/stats"),
  breeds: () => request("/api/breeds"),
  images: ({ breed, page, perPage }) =>
    request(`/api/images${query({ breed, page, per_page: perPage })}`),
  image: (id) => request(`/api/images/${encodeURIComponent(id)}`),
  similar: (id, { k, breed, minSimilarity, hideDuplicates }) =>
    request(
      `/api/images/${encodeURIComponent(id)}/similar${query({
        k,
        breed,
        min_similarity: minSimilarity,
        hide_duplicates: hideDuplicates ? "true" : undefined,
      })}`,
    ),
  searchByPhoto(file, options) {
    const form = new FormData();
    form.append("image", file, file.name || "pasted-image");
    appendOptions(form, options);
    return request("/api/search", { method: "POST", body: form });
  },
  searchByUrl(url, options) {
    const form = new FormData();
    form.append("url", url);
    appendOptions(form, options);
    return request("/api/search", { method: "POST", body: form });
  },
  /** The heat maps of "Why?": the query as a ``file`` (or Blob) or a stored ``queryId``. */
  why({ file, queryId, id }) {
    const form = new FormData();
    if (file) form.append("image", file, file.name || "query");
    else form.append("query_id", queryId);
    form.append("id", id);
    return request("/api/why", { method: "POST", body: form });
  },
  addPhoto(file, breed, onProgress) {
    const form = new FormData();
    form.append("image", file, file.name || "photo");
    form.append("breed", breed || "unknown");
    return write((headers) => upload("/api/images", form, onProgress, headers));
  },
  deleteImage: (id) =>
    write((headers) => request(`/api/images/${encodeURIComponent(id)}`, { method: "DELETE", headers })),
  relabel: (id, breed) =>
    write((headers) => request(`/api/images/${encodeURIComponent(id)}`, json("PATCH", { breed }, headers))),
  duplicates: (threshold) => request(`/api/duplicates${query({ threshold })}`),
  deleted: () => request("/api/deleted"),
  restore: (id) =>
    write((headers) => request(`/api/images/${encodeURIComponent(id)}/restore`, { method: "POST", headers })),
  purge: (id) => write((headers) => request(`/api/deleted/${encodeURIComponent(id)}`, { method: "DELETE", headers })),
};

function appendOptions(form, { k, breed, minSimilarity, hideDuplicates, box }) {
  if (box) form.append("box", box.join(","));
  if (k) form.append("k", String(k));
  if (breed) form.append("breed", breed);
  if (minSimilarity) form.append("min_similarity", String(minSimilarity));
  if (hideDuplicates) form.append("hide_duplicates", "true");
}

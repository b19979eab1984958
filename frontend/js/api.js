// The one module that knows the API's URLs and its error format {"error": {"code", "message"}}.
// An ApiError carries the code; messages.js says it in words.

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

const json = (method, body) => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

/** POST a form with upload progress (fetch has none): onProgress(fraction 0..1). */
function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
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
  addPhoto(file, breed, onProgress) {
    const form = new FormData();
    form.append("image", file, file.name || "photo");
    form.append("breed", breed || "unknown");
    return upload("/api/images", form, onProgress);
  },
  deleteImage: (id) => request(`/api/images/${encodeURIComponent(id)}`, { method: "DELETE" }),
  relabel: (id, breed) => request(`/api/images/${encodeURIComponent(id)}`, json("PATCH", { breed })),
  duplicates: (threshold) => request(`/api/duplicates${query({ threshold })}`),
  deleted: () => request("/api/deleted"),
  restore: (id) => request(`/api/images/${encodeURIComponent(id)}/restore`, { method: "POST" }),
  purge: (id) => request(`/api/deleted/${encodeURIComponent(id)}`, { method: "DELETE" }),
};

function appendOptions(form, { k, breed, minSimilarity, hideDuplicates, box }) {
  if (box) form.append("box", box.join(","));
  if (k) form.append("k", String(k));
  if (breed) form.append("breed", breed);
  if (minSimilarity) form.append("min_similarity", String(minSimilarity));
  if (hideDuplicates) form.append("hide_duplicates", "true");
}

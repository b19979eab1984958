// The one module that knows the API's URLs and its error format {"error": {"code", "message"}}.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const FRIENDLY = {
  image_too_large: "That file is too large.",
  invalid_image: "That file is not an image we can read.",
  encoder_unavailable: "The encoder service is unavailable, so photo search is down. Browsing still works.",
  milvus_unavailable: "The vector database (Milvus) is unavailable. Try again in a moment.",
  encoder_timeout: "The encoder took too long to answer. Try again.",
  overloaded: "The service is busy. Try again in a moment.",
};

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the dogsearch server. Is it running?");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body?.error ?? {};
    const code = error.code ?? `http_${response.status}`;
    const detail = error.message ?? response.statusText;
    const friendly = FRIENDLY[code];
    throw new ApiError(response.status, code, friendly ? `${friendly} (${detail})` : detail);
  }
  return body;
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
  similar: (id, { k, breed }) =>
    request(`/api/images/${encodeURIComponent(id)}/similar${query({ k, breed })}`),
  searchByPhoto(file, { k, breed }) {
    const form = new FormData();
    form.append("image", file, file.name || "pasted-image");
    if (k) form.append("k", String(k));
    if (breed) form.append("breed", breed);
    return request("/api/search", { method: "POST", body: form });
  },
};

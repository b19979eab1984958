// The page's state lives in the URL, so every view can be bookmarked and Back works.
//   browse:           ?breed=<name>&page=<n>
//   more like this:   ?similar=<id>&k=<n>&restrict=<breed>&min=<percent>&dedupe=1
//   photo search:     ?view=photo (the photo itself stays in memory; a reload falls back to browse)
//   near-duplicates:  ?view=duplicates

export const DEFAULT_K = 12;

export function readState(search = window.location.search) {
  const params = new URLSearchParams(search);
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  const k = Number.parseInt(params.get("k") ?? String(DEFAULT_K), 10);
  const min = Number.parseInt(params.get("min") ?? "0", 10);
  return {
    breed: params.get("breed") || null,
    page: Number.isFinite(page) && page > 0 ? page : 1,
    similar: params.get("similar") || null,
    k: Number.isFinite(k) && k > 0 ? k : DEFAULT_K,
    restrict: params.get("restrict") || null,
    min: Number.isFinite(min) && min > 0 && min < 100 ? min : 0,
    dedupe: params.get("dedupe") === "1",
    view: params.get("view") || null,
  };
}

export function stateUrl(state) {
  const params = new URLSearchParams();
  if (state.similar) {
    params.set("similar", state.similar);
    if (state.k !== DEFAULT_K) params.set("k", String(state.k));
    if (state.restrict) params.set("restrict", state.restrict);
    if (state.min) params.set("min", String(state.min));
    if (state.dedupe) params.set("dedupe", "1");
  } else if (state.view === "photo" || state.view === "duplicates") {
    params.set("view", state.view);
  } else {
    if (state.breed) params.set("breed", state.breed);
    if (state.page > 1) params.set("page", String(state.page));
  }
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

/** Push a new history entry (or replace the current one) and return the state it holds. */
export function go(partial, { replace = false } = {}) {
  const state = { ...readState(""), ...partial };
  const url = stateUrl(state);
  if (url !== window.location.pathname + window.location.search) {
    window.history[replace ? "replaceState" : "pushState"](null, "", url);
  }
  return state;
}

// The page's state lives in the URL, so every view can be bookmarked and Back works.
//   browse:           ?breed=<name>&page=<n>
//   more like this:   ?similar=<id>&k=<n>&restrict=<breed>&min=<percent>&dedupe=1
//   photo search:     ?view=photo&dog=<n> (the photo itself stays in memory; a reload shows
//                     browse and says why); dog: which of several dogs' results are shown,
//                     from 1, so Back and Forward step between the dogs searched
//   near-duplicates:  ?view=duplicates
//   deleted photos:   ?view=deleted
// A value a link cannot mean (page=abc, k=1000, min=150) is replaced by the nearest one the page
// offers, and ``corrections`` says so, so the controls always show what the results are.

export const DEFAULT_K = 12;
export const K_CHOICES = [6, 12, 24, 48, 100];
const VIEWS = new Set(["photo", "duplicates", "deleted"]);
const ID = /^[0-9a-f]{8,64}$/;

function integer(raw) {
  return raw !== null && /^\s*-?\d+\s*$/.test(raw) ? Number.parseInt(raw, 10) : Number.NaN;
}

const nearestK = (k) => K_CHOICES.reduce((best, c) => (Math.abs(c - k) < Math.abs(best - k) ? c : best));

export function readState(search = window.location.search) {
  const params = new URLSearchParams(search);
  const corrections = [];
  const page = integer(params.get("page"));
  const k = integer(params.get("k"));
  const min = integer(params.get("min"));
  const dog = integer(params.get("dog"));
  const state = {
    breed: params.get("breed")?.trim() || null,
    page: page > 0 ? page : 1,
    similar: params.get("similar")?.trim().toLowerCase() || null,
    k: DEFAULT_K,
    restrict: params.get("restrict")?.trim() || null,
    min: min >= 0 && min < 100 ? min : 0,
    dedupe: params.get("dedupe") === "1",
    view: VIEWS.has(params.get("view")) ? params.get("view") : null,
    dog: dog > 0 && dog <= 99 ? dog : null,
    corrections,
  };
  if (params.has("page") && !(page > 0)) corrections.push("The page number in the link was not valid; showing the first page.");
  if (params.has("k")) {
    state.k = Number.isFinite(k) ? nearestK(k) : DEFAULT_K;
    if (state.k !== k) corrections.push(`The link asked for ${params.get("k").slice(0, 12)} results; showing ${state.k}.`);
  }
  if (params.has("min") && state.min !== min) corrections.push("The minimum similarity in the link was not valid; it is 0 %.");
  if (params.has("view") && !state.view) corrections.push("The page in the link does not exist; showing all breeds.");
  if (state.similar && !ID.test(state.similar)) state.badSimilar = true;
  return state;
}

export function stateUrl(state) {
  const params = new URLSearchParams();
  if (state.similar) {
    params.set("similar", state.similar);
    if (state.k !== DEFAULT_K) params.set("k", String(state.k));
    if (state.restrict) params.set("restrict", state.restrict);
    if (state.min) params.set("min", String(state.min));
    if (state.dedupe) params.set("dedupe", "1");
  } else if (state.view) {
    params.set("view", state.view);
    if (state.view === "photo" && state.dog) params.set("dog", String(state.dog));
  } else {
    if (state.breed) params.set("breed", state.breed);
    if (state.page > 1) params.set("page", String(state.page));
  }
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

/** Push a new history entry (or replace the current one) and return the state it holds. */
export function go(partial, { replace = false } = {}) {
  const state = { ...readState(""), ...partial, corrections: [] };
  const url = stateUrl(state);
  if (url !== window.location.pathname + window.location.search) {
    window.history[replace ? "replaceState" : "pushState"](null, "", url);
  }
  return state;
}

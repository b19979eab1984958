// What the views share: the page's data and the few actions every view may trigger. main.js
// fills ``actions`` at start, so views never import main.js (no import cycles).

export const app = {
  breeds: [], // [{name, label, count}] in the index
  known: [], // every breed a photo can be labelled with
  total: 0,
  stats: null,
  items: [], // what the main grid shows, in order (the lightbox moves through it)
  ranked: false,
  photo: null, // {file, url, previewUrl, body, box} of the last photo search
  // Ids deleted from this tab and not restored since: a view that shows answers kept from
  // before the change (a photo search's) leaves them out; an undo puts them back.
  removed: new Set(),
  token: 0, // the latest render; older answers are dropped
  maxUploadBytes: 20 * 1024 * 1024,
};

export const actions = {
  /** Show the view ``partial`` describes (a new history entry unless ``replace``). */
  navigate: (_partial, _options) => {},
  /** Show the current view again with fresh data, keeping scroll and focus where they are. */
  refresh: async () => {},
  /** Breed counts and the footer, after the library changed. */
  refreshBreeds: async () => {},
};

/** The display label of a stored breed name (the API's, else the same rule). */
export function labelOf(name) {
  if (!name) return "Unknown";
  const found = app.breeds.find((b) => b.name === name);
  return found?.label ?? name.charAt(0).toUpperCase() + name.slice(1);
}

/** The stored name of ``name`` in any case, or null when the index has no such breed. */
export function findBreed(name) {
  const key = (name ?? "").replace(/[\s_-]+/g, " ").trim().toLowerCase();
  return app.breeds.find((b) => b.name.replace(/[\s_-]+/g, " ").toLowerCase() === key)?.name ?? null;
}

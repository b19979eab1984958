// The "Search options" (number of results, breed, minimum similarity, near-duplicates). They
// apply to photo searches and "More like this" only, so they sit behind one "Options" button
// beside those results and are not shown at all while browsing: the photos come first. A change
// searches again once the user pauses, and focus stays on the control.
import { actions, app, findBreed, labelOf } from "./context.js";
import { $, debounce, element } from "./dom.js";
import { DEFAULT_K, K_CHOICES, readState } from "./state.js";

const PAUSE_MS = 450;

/** The options as the URL holds them: k, restrict (breed), min (percent), dedupe. */
export function currentOptions() {
  return {
    k: Number.parseInt($("k-select").value, 10) || DEFAULT_K,
    restrict: $("restrict-select").value || null,
    min: Number.parseInt($("min-similarity").value, 10) || 0,
    dedupe: $("hide-duplicates").checked,
  };
}

function showMin() {
  const slider = $("min-similarity");
  $("min-similarity-value").textContent = `${slider.value}%`;
  // The filled part of the track, in the page's colour (CSSOM: the CSP allows it).
  slider.style.setProperty("--fill", `${(100 * slider.value) / slider.max}%`);
}

/** Put the controls in step with ``state`` (a search's options; others keep theirs). */
export function syncControls(state) {
  if (state.similar) {
    $("k-select").value = String(state.k);
    $("restrict-select").value = state.restrict ?? "";
    $("min-similarity").value = String(state.min);
    $("hide-duplicates").checked = state.dedupe;
    showMin();
  }
  const searching = Boolean(state.similar) || state.view === "photo";
  $("options-button").hidden = !searching;
  if (!searching) setOptionsOpen(false);
}

function setOptionsOpen(open) {
  $("search-options").hidden = !open;
  $("options-button").setAttribute("aria-expanded", String(open));
}

/** A restriction to a breed the index lacks is dropped, with a note; returns the state to show. */
export function checkRestrict(state, note) {
  if (!state.restrict) return state;
  const found = findBreed(state.restrict);
  if (found) return { ...state, restrict: found };
  note(`There is no breed “${state.restrict.slice(0, 60)}” in the library, so all breeds are searched.`);
  return { ...state, restrict: null };
}

export function renderBreedChoices() {
  const select = $("restrict-select");
  const chosen = select.value;
  select.replaceChildren(
    element("option", { value: "", textContent: "any breed" }),
    ...app.breeds.map((b) => element("option", { value: b.name, textContent: labelOf(b.name) })),
  );
  select.value = app.breeds.some((b) => b.name === chosen) ? chosen : "";
}

/** Wire the controls: ``rerun(options)`` searches again with them. */
export function initControls(rerun) {
  $("k-select").replaceChildren(
    ...K_CHOICES.map((k) => element("option", { value: String(k), textContent: String(k), selected: k === DEFAULT_K })),
  );
  const later = debounce(() => rerun(currentOptions()), PAUSE_MS);
  const now = () => {
    later.cancel();
    rerun(currentOptions());
  };
  $("min-similarity").addEventListener("input", () => {
    showMin();
    later();
  });
  $("min-similarity").addEventListener("change", later);
  $("k-select").addEventListener("change", later);
  $("restrict-select").addEventListener("change", later);
  $("hide-duplicates").addEventListener("change", now);
  $("options-button").addEventListener("click", () => {
    const open = $("search-options").hidden;
    setOptionsOpen(open);
    if (open) $("k-select").focus();
  });
  $("search-options").addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    setOptionsOpen(false);
    $("options-button").focus();
  });
  showMin();
}

/** Search again with ``options``, if a search is on screen. */
export function rerunSearch(options, searchByPhoto) {
  const state = readState();
  if (state.similar) actions.navigate({ ...state, ...options }, { replace: true, focus: false });
  else if (state.view === "photo" && app.photo) {
    searchByPhoto(app.photo.file, app.photo.url, app.photo.box, options, { dog: app.photo.dog });
  }
}

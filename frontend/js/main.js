// Wires the page: state from the URL -> the view's module -> grid, query panel, breed list.
import { AddPanel } from "./add-panel.js";
import { api, useWriteKey } from "./api.js";
import { initConfirmDialog } from "./confirm-dialog.js";
import { initBreeds, markCurrentBreed, renderBreeds } from "./breeds.js";
import { actions, app, findBreed } from "./context.js";
import { checkRestrict, currentOptions, initControls, renderBreedChoices, rerunSearch, syncControls } from "./controls.js";
import { $ } from "./dom.js";
import { download, resultsAsCsv, resultsAsJson } from "./export.js";
import { initToast, setBusy, showEmpty, showError, showNote } from "./feedback.js";
import { renderFooter } from "./footer.js";
import { focusCard, itemsOf } from "./grid.js";
import { deletePhoto } from "./library-actions.js";
import { Lightbox } from "./lightbox.js";
import { PHOTO_NOT_KEPT } from "./messages.js";
import { listenForPhotos } from "./photo-input.js";
import { go, readState } from "./state.js";
import { browse } from "./views/browse.js";
import { deletedView } from "./views/deleted.js";
import { deleteQuestion, duplicatesView } from "./views/duplicates.js";
import { enableCrop, initPhotoSearch, photoView, searchByPhoto } from "./views/photo.js";
import { initQueryPanel, showItems } from "./views/results.js";
import { similar } from "./views/similar.js";
import { askForWriteKey, initWriteKeyDialog } from "./write-key.js";

const BUSY = {
  similar: "Finding similar photos…",
  duplicates: "Comparing every photo with every other…",
  deleted: "Loading deleted photos…",
  browse: "Loading photos…",
};

let openedFrom = null; // the grid the large view was opened on

/** The query of the results on screen, for "Why?" in the large view (why.js). */
function queryFor() {
  const state = readState();
  if (state.similar) return { queryId: state.similar, src: `/thumbs/${encodeURIComponent(state.similar)}` };
  if (state.view !== "photo" || !app.photo) return null;
  const { file, url, previewUrl } = app.photo;
  if (!url) return { file, src: previewUrl };
  return previewUrl.length > 8 ? { dataUrl: previewUrl, src: previewUrl } : null; // no preview
}

const lightbox = new Lightbox({
  queryFor,
  onMoreLikeThis: (item) => navigate({ similar: item.id, ...currentOptions() }, { replace: true }),
  onClosed: (item, index) => {
    const list = openedFrom?.isConnected ? openedFrom : $("grid");
    const card = item && list.querySelector(`button.card[data-id="${item.id}"]`);
    if (card) card.focus();
    else focusCard(list, index, $("main"));
  },
});

/** The view's name for ``state``. */
function viewOf(state) {
  if (state.similar) return "similar";
  return state.view ?? "browse";
}

async function show(state, token) {
  const view = viewOf(state);
  if (view === "similar") await similar(state, token);
  else if (view === "duplicates") await duplicatesView(state, token);
  else if (view === "deleted") await deletedView(state, token);
  else if (view === "photo") await photoView(state);
  else await browse(state, token);
}

/** Show ``state``; ``keep``: a refresh of the same view (old cards stay until the new ones). */
async function render(state, { keep = false } = {}) {
  const token = ++app.token;
  const notes = [...state.corrections];
  let checked = checkRestrict(state, (text) => notes.push(text));
  if (checked.view === "photo" && !app.photo) {
    notes.push(PHOTO_NOT_KEPT); // a reload or a new tab: the photo stayed in the old page
    checked = { ...checked, view: null };
  }
  if (notes.length) go(checked, { replace: true }); // the URL now says what is shown
  state = checked;
  enableCrop(false);
  syncControls(state);
  markCurrentBreed(state, state.breed ? (findBreed(state.breed) ?? state.breed) : null);
  showError("");
  showNote(notes.join(" "));
  showEmpty("");
  $("pager").hidden = true;
  setBusy(BUSY[viewOf(state)] ?? "");
  if (!keep) $("understanding").hidden = true;
  try {
    await show(state, token);
  } catch (error) {
    if (token !== app.token) return;
    showItems([], { ranked: false });
    showError(error);
  } finally {
    if (token === app.token) setBusy("");
  }
}

function navigate(partial, { replace = false, focus = true } = {}) {
  const rendering = render(go(partial, { replace }));
  if (focus) {
    $("main").focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }
  return rendering;
}

/** The same view with fresh data; focus stays on the card at the same place. */
async function refresh() {
  const cards = [...$("grid").querySelectorAll(":scope > li > button.card")];
  // On a card or one of its buttons (Restore): after the refresh, the card now at its place.
  const on = document.activeElement?.closest?.("#grid > li")?.querySelector(":scope > button.card");
  const focused = cards.indexOf(on);
  const lost = document.activeElement === document.body;
  await render(readState(), { keep: true });
  if (focused >= 0 || lost) focusCard($("grid"), Math.max(focused, 0), $("main"));
}

async function refreshBreeds() {
  const [breeds, stats] = await Promise.allSettled([api.breeds(), api.stats()]);
  if (breeds.value) {
    app.breeds = breeds.value.breeds;
    app.total = breeds.value.total;
    renderBreeds();
    renderBreedChoices();
    markCurrentBreed(readState(), findBreed(readState().breed ?? ""));
  }
  if (stats.value) {
    useWriteKey({ mode: stats.value.writes });
    renderFooter(stats.value);
  }
}

function exportResults(format) {
  const state = readState();
  const query = state.similar ? { similar: state.similar } : { photo: app.photo?.url ?? app.photo?.file?.name ?? null };
  if (format === "csv") download("dogsearch-results.csv", resultsAsCsv(app.items), "text/csv");
  else download("dogsearch-results.json", resultsAsJson(app.items, query), "application/json");
}

/** A card's hover action: "More like this" or "Delete…" (asked first, as everywhere). */
function cardAction(button) {
  const item = itemsOf(button.closest("ul"))[Number(button.dataset.index)];
  if (!item) return;
  if (button.dataset.action === "similar") navigate({ similar: item.id, ...currentOptions() });
  else if (button.dataset.action === "delete") deletePhoto(item);
}

function linkTo(id, partial) {
  $(id).addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(partial);
  });
}

function wire() {
  initBreeds();
  initPhotoSearch();
  initQueryPanel();
  initWriteKeyDialog();
  initToast();
  initConfirmDialog();
  initControls((options) => rerunSearch(options, searchByPhoto));
  $("prev-page").addEventListener("click", () => navigate({ ...readState(), page: readState().page - 1 }));
  $("next-page").addEventListener("click", () => navigate({ ...readState(), page: readState().page + 1 }));
  document.querySelector("main").addEventListener("click", (event) => {
    const action = event.target.closest("button[data-action]");
    if (action) return cardAction(action);
    const button = event.target.closest("button.card");
    if (!button) return;
    openedFrom = button.closest("ul");
    const readOnly = viewOf(readState()) === "deleted";
    lightbox.questionFor = viewOf(readState()) === "duplicates" ? deleteQuestion : null;
    lightbox.open(itemsOf(openedFrom), Number(button.dataset.index), { readOnly });
  });
  $("export-json").addEventListener("click", () => exportResults("json"));
  $("export-csv").addEventListener("click", () => exportResults("csv"));
  $("photo-button").addEventListener("click", () => $("photo-input").click());
  let searching = null; // the address search in flight: Enter again while it runs is ignored
  $("url-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $("url-input").value.trim();
    if (!url || searching) return;
    searching = searchByPhoto(null, url).finally(() => {
      searching = null;
    });
  });
  linkTo("duplicates-link", { view: "duplicates" });
  linkTo("deleted-link", { view: "deleted" });
  listenForPhotos((file) => searchByPhoto(file));
  window.addEventListener("popstate", () => lightbox.popped() || render(readState()));
}

async function start() {
  Object.assign(actions, { navigate, refresh, refreshBreeds });
  wire();
  const [stats, breeds] = await Promise.allSettled([api.stats(), api.breeds()]);
  app.stats = stats.value ?? null;
  if (app.stats?.limits) app.maxUploadBytes = app.stats.limits.max_upload_bytes;
  // Write controls show either way: with writes: "key", the first write asks for the key.
  useWriteKey({ mode: app.stats?.writes, ask: askForWriteKey });
  app.breeds = breeds.value?.breeds ?? [];
  app.total = breeds.value?.total ?? 0;
  app.known = breeds.value?.known ?? [];
  renderBreeds();
  renderBreedChoices();
  lightbox.setBreeds(app.known);
  const addPanel = new AddPanel({
    maxUploadBytes: app.maxUploadBytes,
    onAdded: () => Promise.all([refreshBreeds(), viewOf(readState()) === "browse" ? refresh() : null]),
  });
  addPanel.setBreeds(app.known);
  renderFooter(app.stats);
  await render(readState());
  if (breeds.status === "rejected") showError(breeds.reason);
  document.body.dataset.ready = "true";
}

start();

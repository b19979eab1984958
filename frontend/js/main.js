// Wires the page: state from the URL -> API calls -> grid, query panel, breed list, footer.
import { api } from "./api.js";
import { download, resultsAsCsv, resultsAsJson } from "./export.js";
import { breedLabel, bytes, count, ms, percent, plural } from "./format.js";
import { element, renderGrid } from "./grid.js";
import { AddPanel, renderDuplicates } from "./library.js";
import { RegionPicker } from "./crop.js";
import { Lightbox } from "./lightbox.js";
import { listenForPhotos } from "./photo-input.js";
import { DEFAULT_K, go, readState } from "./state.js";

const PER_PAGE = 48;
const $ = (id) => document.getElementById(id);

const app = {
  breeds: [],
  stats: null,
  items: [], // what the grid shows, in order (the lightbox moves through it)
  photo: null, // {file, previewUrl, body} of the last photo search
  token: 0, // the latest render; older answers are dropped
  maxUploadBytes: 20 * 1024 * 1024,
};

const regionPicker = new RegionPicker({
  image: $("query-image"),
  box: $("crop-box"),
  onPick: (box) => searchByPhoto(app.photo.file, app.photo.url, box),
});

const lightbox = new Lightbox({
  onMoreLikeThis: (item) => navigate({ similar: item.id, ...searchOptions() }),
  onRelabel: async (item, breed) => {
    try {
      const row = await api.relabel(item.id, breed);
      item.breed = row.breed;
      renderGrid($("grid"), app.items, { ranked: $("grid").classList.contains("ranked") });
      refreshBreeds();
      return true;
    } catch (error) {
      showError(error.message);
      return false;
    }
  },
  onDelete: (item) => deleteImage(item),
});


// ---- feedback ---------------------------------------------------------------------------

function setBusy(text) {
  const status = $("status");
  status.replaceChildren();
  if (text) status.append(element("span", { className: "spinner" }), text);
  $("grid").setAttribute("aria-busy", text ? "true" : "false");
}

function showError(message) {
  const notice = $("notice");
  notice.textContent = message;
  notice.hidden = !message;
}

function showEmpty(message, hint) {
  const empty = $("empty");
  empty.replaceChildren();
  if (message) {
    empty.append(element("p", { className: "empty-title", textContent: message }));
    if (hint) empty.append(element("p", { textContent: hint }));
  }
  empty.hidden = !message;
}

function setView({ title, meta = "", query = null }) {
  $("view-title").textContent = title;
  $("view-meta").textContent = meta;
  $("query-panel").hidden = !query;
  if (query) {
    $("query-title").textContent = query.title;
    $("query-image").src = query.src;
    $("query-image").alt = query.alt;
    $("query-meta").textContent = query.meta ?? "";
    renderPredictions(query.predictions ?? []);
  }
  document.title = `${title} · dogsearch`;
}

function renderPredictions(predictions) {
  const list = $("predictions");
  list.replaceChildren(
    ...predictions.map((p) =>
      element("li", {}, [
        element("span", { textContent: breedLabel(p.breed) }),
        " ",
        element("span", { className: "pct", textContent: percent(p.probability) }),
      ]),
    ),
  );
  list.hidden = predictions.length === 0;
}

function showItems(items, { ranked }) {
  app.items = items;
  app.ranked = ranked;
  renderGrid($("grid"), items, { ranked });
  $("export").hidden = !(ranked && items.length);
}

async function deleteImage(item, card = null) {
  try {
    await api.deleteImage(item.id);
  } catch (error) {
    showError(error.message);
    return false;
  }
  const index = app.items.indexOf(item);
  if (index >= 0) {
    app.items.splice(index, 1);
    renderGrid($("grid"), app.items, { ranked: app.ranked });
  }
  card?.remove();
  refreshBreeds();
  return true;
}

function showPager(page, pages) {
  $("pager").hidden = pages <= 1;
  $("page-label").textContent = `Page ${count(page)} of ${count(pages)}`;
  $("prev-page").disabled = page <= 1;
  $("next-page").disabled = page >= pages;
}

// ---- controls --------------------------------------------------------------------------

const currentK = () => Number.parseInt($("k-select").value, 10) || DEFAULT_K;
const currentRestrict = () => $("restrict-select").value || null;
const currentMin = () => Number.parseInt($("min-similarity").value, 10) || 0;

/** k, breed restriction, minimum similarity (percent) and de-duplication, as the URL holds them. */
function searchOptions() {
  return { k: currentK(), restrict: currentRestrict(), min: currentMin(), dedupe: $("hide-duplicates").checked };
}

function apiOptions({ k, restrict, min, dedupe }) {
  return { k, breed: restrict, minSimilarity: min ? min / 100 : undefined, hideDuplicates: dedupe };
}

function showMin() {
  $("min-similarity-value").textContent = `${currentMin()}%`;
}

function syncControls(state) {
  if (state.similar) {
    const k = String(state.k);
    if (![...$("k-select").options].some((o) => o.value === k)) {
      $("k-select").append(element("option", { value: k, textContent: k }));
    }
    $("k-select").value = k;
    $("restrict-select").value = state.restrict ?? "";
    $("min-similarity").value = String(state.min);
    $("hide-duplicates").checked = state.dedupe;
    showMin();
  }
  for (const link of $("breed-list").querySelectorAll("a")) {
    const current = !state.similar && !state.view && link.dataset.breed === (state.breed ?? "");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function navigate(partial) {
  render(go(partial));
  $("main").focus({ preventScroll: true });
  window.scrollTo({ top: 0 });
}

// ---- views -----------------------------------------------------------------------------

async function browse(state, token) {
  const title = state.breed ? breedLabel(state.breed) : "All breeds";
  setView({ title });
  setBusy("Loading photos…");
  const body = await api.images({ breed: state.breed, page: state.page, perPage: PER_PAGE });
  if (token !== app.token) return;
  showItems(body.images, { ranked: false });
  const first = (body.page - 1) * body.per_page + 1;
  const last = first + body.images.length - 1;
  setView({
    title,
    meta: body.total ? `${count(first)}–${count(last)} of ${plural(body.total, "photo")}` : "",
  });
  showPager(body.page, body.pages);
  if (body.total === 0 && !state.breed) {
    showEmpty(
      "The index is empty: run the ingest.",
      "Index a folder of photos in the Stanford Dogs layout with `make up IMAGES=/path/to/Images` " +
        "or `python -m scripts.jobs.ingest /path/to/Images`, then reload this page.",
    );
  } else if (body.images.length === 0) {
    showEmpty("No photos on this page.", "Go back to the first page or pick another breed.");
  }
}

async function similar(state, token) {
  const query = {
    title: "More like this photo",
    src: `/thumbs/${encodeURIComponent(state.similar)}`,
    alt: "The photo these results are similar to",
  };
  setView({ title: "Similar photos", query });
  setBusy("Finding similar photos…");
  const [body, detail] = await Promise.all([
    api.similar(state.similar, apiOptions(state)),
    api.image(state.similar).catch(() => null),
  ]);
  if (token !== app.token) return;
  showItems(body.results, { ranked: true });
  const where = state.restrict ? ` among ${breedLabel(state.restrict)}` : "";
  setView({
    title: `${plural(body.results.length, "similar photo")}${where}`,
    meta: `Search took ${ms(body.timings.total_ms)} (stored vector, no re-encoding)${hiddenNote(body)}`,
    query: { ...query, meta: detail ? `${breedLabel(detail.breed)} · ${detail.width} × ${detail.height} px` : "" },
  });
}

function hiddenNote(body) {
  return body.hidden_duplicates ? ` · ${plural(body.hidden_duplicates, "near-duplicate")} hidden` : "";
}

async function duplicatesView(token) {
  setView({ title: "Near-duplicates" });
  setBusy("Comparing every photo with every other…");
  $("grid").replaceChildren();
  const body = await renderDuplicates($("grid"), {
    onDelete: (item, card) => deleteImage(item, card),
  });
  if (token !== app.token) return;
  setView({
    title: `${plural(body.groups.length, "group")} of near-duplicates`,
    meta: `${count(body.compared)} photos compared at cosine ≥ ${body.threshold} in ${body.seconds} s`,
  });
  if (!body.groups.length) showEmpty("No near-duplicates.", "Every photo differs from the others.");
}

function photoResults(state) {
  const { body, previewUrl, file, box } = app.photo;
  showItems(body.results, { ranked: true });
  const t = body.timings;
  const where = body.breed ? ` among ${breedLabel(body.breed)}` : "";
  setView({
    title: `${plural(body.results.length, "similar photo")}${where}`,
    meta: `${ms(t.total_ms)} in all: encoding ${ms(t.encode_ms)}, search ${ms(t.search_ms)}${hiddenNote(body)}`,
    query: {
      title: app.photo.url ? "Photo from the web" : "Your photo",
      src: previewUrl,
      alt: "Your query photo",
      meta: app.photo.url
        ? `${body.query.width} × ${body.query.height} px · ${app.photo.url}`
        : `${file.name || "pasted image"} · ${body.query.width} × ${body.query.height} px · ${bytes(file.size)}`,
      predictions: body.query.predictions,
    },
  });
  regionPicker.enable(true);
  $("crop-hint").hidden = false;
  $("crop-clear").hidden = !box;
  $("query-image").decode().then(() => regionPicker.show(box), () => {});
  if (body.index_empty) showEmpty("The index is empty: run the ingest.", "Nothing to compare your photo with yet.");
  else if (!body.results.length) showEmpty("No photo matches.", "Choose “any breed” or lower the minimum similarity.");
}

async function render(state) {
  const token = ++app.token;
  regionPicker.enable(false);
  $("crop-hint").hidden = true;
  syncControls(state);
  showError("");
  showEmpty("");
  $("pager").hidden = true;
  try {
    if (state.similar) await similar(state, token);
    else if (state.view === "duplicates") await duplicatesView(token);
    else if (state.view === "photo" && app.photo) photoResults(state);
    else if (state.view === "photo") render(go({ view: null }, { replace: true }));
    else await browse(state, token);
  } catch (error) {
    if (token !== app.token) return;
    showItems([], { ranked: false });
    showError(error.message);
  } finally {
    if (token === app.token) setBusy("");
  }
}

async function searchByPhoto(file, url = null, box = null) {
  showError("");
  if (file && file.size > app.maxUploadBytes) {
    showError(`That file is too large: ${bytes(file.size)}; the limit is ${bytes(app.maxUploadBytes)}.`);
    return;
  }
  const token = ++app.token;
  // The same photo again (a region, other options) keeps its preview; a remote image is never
  // loaded by the page (CSP): the server sends a preview of it.
  const same = Boolean(app.photo) && app.photo.file === file && app.photo.url === url;
  const previewUrl = same ? app.photo.previewUrl : url ? "data:," : URL.createObjectURL(file);
  setView({ title: "Searching…", query: { title: "Your photo", src: previewUrl, alt: "Your query photo" } });
  showEmpty("");
  $("pager").hidden = true;
  showItems([], { ranked: true });
  setBusy("Encoding your photo and searching…");
  try {
    const options = { ...apiOptions(searchOptions()), box };
    const body = url ? await api.searchByUrl(url, options) : await api.searchByPhoto(file, options);
    if (token !== app.token) return;
    if (app.photo && !same && !app.photo.url) URL.revokeObjectURL(app.photo.previewUrl);
    const preview = same || !url ? previewUrl : (body.query.preview ?? "data:,");
    app.photo = { file, previewUrl: preview, body, url, box };
    render(go({ view: "photo" }, { replace: readState().view === "photo" }));
  } catch (error) {
    if (token !== app.token) return;
    setBusy("");
    setView({ title: "Search failed", query: { title: "Your photo", src: previewUrl, alt: "Your query photo" } });
    showError(error.message);
  }
}

function rerunSearch() {
  const state = readState();
  if (state.similar) navigate({ ...state, ...searchOptions() });
  else if (state.view === "photo" && app.photo) searchByPhoto(app.photo.file, app.photo.url, app.photo.box);
}

// ---- breed list, footer ----------------------------------------------------------------

function renderBreeds(breeds, total) {
  const link = (name, label, n) => {
    const a = element("a", { href: name ? `/?breed=${encodeURIComponent(name)}` : "/" }, [
      element("span", { textContent: label }),
      element("span", { className: "count", textContent: count(n) }),
    ]);
    a.dataset.breed = name;
    return element("li", {}, [a]);
  };
  $("breed-list").replaceChildren(
    link("", "All breeds", total),
    ...breeds.map((b) => link(b.name, breedLabel(b.name), b.count)),
  );
  $("breed-filter").placeholder = `Filter ${plural(breeds.length, "breed")}`;
  $("restrict-select").replaceChildren(
    element("option", { value: "", textContent: "any breed" }),
    ...breeds.map((b) => element("option", { value: b.name, textContent: breedLabel(b.name) })),
  );
}

async function refreshBreeds() {
  const [breeds, stats] = await Promise.allSettled([api.breeds(), api.stats()]);
  if (breeds.value) renderBreeds(breeds.value.breeds, breeds.value.total);
  if (stats.value) renderFooter(stats.value);
}

function exportResults(format) {
  const state = readState();
  const query = state.similar ? { similar: state.similar } : { photo: app.photo?.url ?? app.photo?.file?.name ?? null };
  if (format === "csv") download("dogsearch-results.csv", resultsAsCsv(app.items), "text/csv");
  else download("dogsearch-results.json", resultsAsJson(app.items, query), "application/json");
}

function filterBreeds() {
  const needle = $("breed-filter").value.trim().toLowerCase();
  for (const item of $("breed-list").children) {
    const name = item.textContent.toLowerCase();
    item.hidden = Boolean(needle) && !name.includes(needle);
  }
}

function renderFooter(stats) {
  const footer = $("footer");
  const parts = [element("span", { textContent: `${plural(stats?.count ?? 0, "photo")} indexed` })];
  const model = stats?.encoder_model;
  if (model) {
    parts.push(element("span", { textContent: `${model.arch} · ${model.dim}-d · ${model.weights} weights` }));
    if (model.offline_backbone) {
      parts.push(
        element("span", {
          className: "badge warn",
          textContent: "offline backbone",
          title: "ResNet-152 weights could not be downloaded; EfficientNet-Lite0 (ImageNet) runs instead.",
        }),
      );
    }
    if (model.weights === "random") {
      parts.push(element("span", { className: "badge danger", textContent: "random weights: results are meaningless" }));
    }
    if (model.has_head) parts.push(element("span", { className: "badge", textContent: "fine-tuned" }));
  } else if (stats?.encoder_error) {
    parts.push(element("span", { className: "badge danger", textContent: "encoder unavailable" }));
  }
  footer.replaceChildren(...parts);
  if (stats?.reindex_needed) {
    $("banner").textContent =
      "The index was built by a different model than the encoder runs now: re-index with python -m scripts.jobs.ingest --reindex (or docker compose --profile tools run --rm ingest --reindex).";
    $("banner").hidden = false;
  }
}

// ---- start -----------------------------------------------------------------------------

async function start() {
  $("breed-filter").addEventListener("input", filterBreeds);
  $("breed-list").addEventListener("click", (event) => {
    const link = event.target.closest("a");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate({ breed: link.dataset.breed || null, page: 1 });
  });
  $("prev-page").addEventListener("click", () => navigate({ ...readState(), page: readState().page - 1 }));
  $("next-page").addEventListener("click", () => navigate({ ...readState(), page: readState().page + 1 }));
  $("grid").addEventListener("click", (event) => {
    const button = event.target.closest("button.card");
    if (button) lightbox.open(app.items, Number(button.dataset.index), button);
  });
  $("k-select").addEventListener("change", rerunSearch);
  $("restrict-select").addEventListener("change", rerunSearch);
  $("min-similarity").addEventListener("input", showMin);
  $("min-similarity").addEventListener("change", rerunSearch);
  $("hide-duplicates").addEventListener("change", rerunSearch);
  $("crop-clear").addEventListener("click", () => searchByPhoto(app.photo.file, app.photo.url, null));
  $("export-json").addEventListener("click", () => exportResults("json"));
  $("export-csv").addEventListener("click", () => exportResults("csv"));
  $("url-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $("url-input").value.trim();
    if (url) searchByPhoto(null, url);
  });
  $("duplicates-link").addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate({ view: "duplicates" });
  });
  listenForPhotos((file) => searchByPhoto(file));
  window.addEventListener("popstate", () => render(readState()));

  const [stats, breeds] = await Promise.allSettled([api.stats(), api.breeds()]);
  app.stats = stats.value ?? null;
  if (app.stats?.limits) app.maxUploadBytes = app.stats.limits.max_upload_bytes;
  renderBreeds(breeds.value?.breeds ?? [], breeds.value?.total ?? 0);
  const known = breeds.value?.known ?? [];
  lightbox.setBreeds(known);
  const addPanel = new AddPanel({
    maxUploadBytes: app.maxUploadBytes,
    onAdded: () => {
      refreshBreeds();
      if (!readState().similar && !readState().view) render(readState());
    },
  });
  addPanel.setBreeds(known);
  renderFooter(app.stats);
  await render(readState());
  if (breeds.status === "rejected") showError(breeds.reason.message);
  document.body.dataset.ready = "true";
}

start();

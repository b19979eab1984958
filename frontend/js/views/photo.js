// Search by photo (a file, a pasted or dropped image, or an address), and its results. A failed
// search changes nothing on screen but the message: the previous results stay as they were.
import { api } from "../api.js";
import { actions, app, labelOf } from "../context.js";
import { RegionPicker } from "../crop.js";
import { $ } from "../dom.js";
import { setBusy, setHeading, showEmpty, showError } from "../feedback.js";
import { bytes, ms, plural } from "../format.js";
import { noMatchHint } from "../messages.js";
import { readState } from "../state.js";
import { hiddenNote, showItems, showQuery } from "./results.js";
import { searchOptionsOf } from "./similar.js";

let regionPicker = null;

export function initPhotoSearch() {
  regionPicker = new RegionPicker({
    image: $("query-image"),
    box: $("crop-box"),
    onPick: (box) => searchByPhoto(app.photo.file, app.photo.url, box),
  });
  $("crop-clear").addEventListener("click", () => searchByPhoto(app.photo.file, app.photo.url, null));
}

/** Cropping is offered on the photo view only. */
export function enableCrop(on) {
  regionPicker?.enable(on);
  $("crop-hint").hidden = !on;
}

export async function searchByPhoto(file, url = null, box = null, options = null) {
  showError("");
  if (file && file.size > app.maxUploadBytes) {
    showError(`That file is too big: ${bytes(file.size)}; the limit is ${bytes(app.maxUploadBytes)}.`);
    return;
  }
  const token = ++app.token;
  const same = Boolean(app.photo) && app.photo.file === file && app.photo.url === url;
  setBusy(url ? "Downloading the photo, encoding it and searching…" : "Encoding your photo and searching…");
  let body;
  try {
    const asked = { ...searchOptionsOf(options ?? readState()), box };
    body = url ? await api.searchByUrl(url, asked) : await api.searchByPhoto(file, asked);
  } catch (error) {
    if (token !== app.token) return;
    setBusy("");
    showError(error);
    return;
  }
  if (token !== app.token) return;
  // The same photo again (a region, other options) keeps its preview; a remote image is never
  // loaded by the page (CSP): the server sends a preview of it.
  let previewUrl = same ? app.photo.previewUrl : null;
  if (!previewUrl) previewUrl = url ? (body.query.preview ?? "data:,") : URL.createObjectURL(file);
  if (app.photo && !same && !app.photo.url) URL.revokeObjectURL(app.photo.previewUrl);
  app.photo = { file, url, previewUrl, body, box };
  actions.navigate({ view: "photo" }, { replace: readState().view === "photo", focus: !same });
}

export function photoResults() {
  const { body, previewUrl, file, url, box } = app.photo;
  const results = body.results.filter((item) => !app.removed.has(item.id));
  showItems(results, { ranked: true });
  const t = body.timings;
  const where = body.breed ? ` among ${labelOf(body.breed)}` : "";
  setHeading(
    `${plural(results.length, "similar photo")}${where}`,
    `${ms(t.total_ms)} in all: encoding ${ms(t.encode_ms)}, search ${ms(t.search_ms)}${hiddenNote(body)}`,
  );
  const size = `${body.query.width} × ${body.query.height} px`;
  showQuery({
    title: url ? "Photo from the web" : "Your photo",
    src: previewUrl,
    alt: "Your query photo",
    meta: url ? `${size} · ${url}` : `${file.name || "pasted image"} · ${size} · ${bytes(file.size)}`,
    predictions: body.query.predictions,
    dog: body.query.dog,
    match: body.index_empty ? null : body.match,
    results: body.index_empty ? null : results,
    breed: body.query.predictions[0]?.breed ?? null,
  });
  enableCrop(true);
  $("crop-clear").hidden = !box;
  $("query-image").decode().then(() => regionPicker.show(box), () => {});
  if (body.index_empty) showEmpty("The index is empty: run the ingest.", "Nothing to compare your photo with yet.");
  else if (!results.length) showEmpty("No photo matches.", noMatchHint({ breed: body.breed, minSimilarity: readState().min }));
}

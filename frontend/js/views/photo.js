// Search by photo (a file, a pasted or dropped image, or an address), and its results. A failed
// search changes nothing on screen but the message: the previous results stay as they were.
// A photo of several dogs: each is outlined (dogs.js), and a click searches that dog on its
// crop; the URL's ``dog`` says which, and each dog's answer is kept so Back and Forward step
// between them without searching again (until the options change).
import { api } from "../api.js";
import { actions, app, labelOf } from "../context.js";
import { RegionPicker } from "../crop.js";
import { DogOutlines, guessOf, whichDog } from "../dogs.js";
import { $ } from "../dom.js";
import { setBusy, setHeading, showEmpty, showError } from "../feedback.js";
import { bytes, ms, plural } from "../format.js";
import { noMatchHint } from "../messages.js";
import { readState } from "../state.js";
import { hiddenNote, showItems, showQuery } from "./results.js";
import { searchOptionsOf } from "./similar.js";

let regionPicker = null;
let outlines = null;

export function initPhotoSearch() {
  regionPicker = new RegionPicker({
    image: $("query-image"),
    box: $("crop-box"),
    onPick: (box) => searchByPhoto(app.photo.file, app.photo.url, box),
  });
  $("crop-clear").addEventListener("click", () => searchByPhoto(app.photo.file, app.photo.url, null));
  outlines = new DogOutlines({
    image: $("query-image"),
    layer: $("dog-outlines"),
    onPick: (dog) => searchDog(dog, { push: true }),
  });
}

/** The dog the photo's own search answered for (``searched_dog``: the most sure of dogs of
 * different breeds), or null: the whole photo's results. */
function defaultDog() {
  return app.photo?.answers.get(0)?.query.searched_dog ?? null;
}

/** Search dog number ``dog`` (from 1) of the current photo on its crop; ``push``: as a new
 * history entry (a click), not in place of this one (Back to a dog no longer kept). The dog
 * the photo's own search answered for is that search. */
function searchDog(dog, { push = false } = {}) {
  const found = app.photo?.dogs[dog - 1];
  if (!found) return null;
  const key = dog === defaultDog() ? null : dog;
  if (push && app.photo.answers.has(key ?? 0)) return actions.navigate({ view: "photo", dog: key }); // kept
  const box = key ? (found.crop ?? found.box) : null;
  return searchByPhoto(app.photo.file, app.photo.url, box, null, { dog: key, push });
}

/** The photo view shows ``state``: a dog already searched comes from memory, another is
 * searched (Back to a dog whose answer was dropped when the options changed). */
export function photoView(state) {
  const wanted = state.dog && state.dog !== defaultDog() && app.photo.dogs[state.dog - 1] ? state.dog : null;
  if (wanted === app.photo.dog) return photoResults();
  const kept = app.photo.answers.get(wanted ?? 0);
  if (!kept) return wanted ? searchDog(wanted) : searchByPhoto(app.photo.file, app.photo.url, null);
  const box = wanted ? (app.photo.dogs[wanted - 1].crop ?? null) : null;
  Object.assign(app.photo, { body: kept, box, dog: wanted });
  return photoResults();
}

/** Cropping is offered on the photo view only. */
export function enableCrop(on) {
  regionPicker?.enable(on);
  $("crop-hint").hidden = !on;
}

/** ``dog``: the number of the dog ``box`` is (its outline), else null; ``push``: the search
 * is a new history entry (another dog picked), else it replaces the photo view's. */
export async function searchByPhoto(file, url = null, box = null, options = null, { dog = null, push = false } = {}) {
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
  // The same photo again (a region, a dog, other options) keeps its preview and its dogs; a
  // remote image is never loaded by the page (CSP): the server sends a preview of it.
  let previewUrl = same ? app.photo.previewUrl : null;
  if (!previewUrl) previewUrl = url ? (body.query.preview ?? "data:,") : URL.createObjectURL(file);
  if (app.photo && !same && !app.photo.url) URL.revokeObjectURL(app.photo.previewUrl);
  const whole = box === null;
  const dogs = whole ? (body.query.dogs ?? []) : same ? app.photo.dogs : [];
  // Answers kept per dog (0: the whole photo) while the photo and the options stay the same.
  const answers = same && !options && (whole || dog) ? app.photo.answers : new Map();
  if (whole || dog) answers.set(dog ?? 0, body);
  app.photo = { file, url, previewUrl, body, box, dogs, dog, answers };
  const stay = readState().view === "photo";
  actions.navigate({ view: "photo", dog }, { replace: stay && !push, focus: !same });
}

export function photoResults() {
  const { body, previewUrl, file, url, box, dogs, dog } = app.photo;
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
  $("crop-clear").hidden = !box || Boolean(dog); // a dog: its outlines offer the others
  $("query-panel").classList.toggle("several-dogs", dogs.length > 1);
  // The answer says which dog its results are for: dogs of one breed get the whole photo's.
  const shown = dog ?? (box ? null : (body.query.searched_dog ?? null));
  outlines.show(dogs, shown);
  $("dogs-hint").hidden = dogs.length < 2;
  if (dogs.length > 1) showDogsHint(dogs, shown, Boolean(box));
  $("query-image").decode().then(() => regionPicker.show(dog ? null : box), () => {}); // an outline marks a dog's crop
  if (body.index_empty) showEmpty("The index is empty: run the ingest.", "Nothing to compare your photo with yet.");
  else if (!results.length) showEmpty("No photo matches.", noMatchHint({ breed: body.breed, minSimilarity: readState().min }));
}

function showDogsHint(dogs, shown, drawn) {
  const guess = shown && guessOf(dogs[shown - 1]);
  const other = drawn ? "the region you drew" : "the whole photo";
  const which = shown ? `${whichDog(dogs, shown - 1)}${guess ? ` (${guess})` : ""}` : other;
  $("dogs-hint").textContent = `${dogs.length} dogs found: these results are for ${which}. Pick another on the photo to search it.`;
}

// "More like this": the photos closest to one in the library, from its stored vector.
import { api } from "../api.js";
import { actions, app, labelOf } from "../context.js";
import { element } from "../dom.js";
import { setHeading, showEmpty } from "../feedback.js";
import { noMatchHint } from "../messages.js";
import { ms, plural } from "../format.js";
import { hiddenNote, hideQuery, showItems, showQuery } from "./results.js";

export function searchOptionsOf(state) {
  return {
    k: state.k,
    breed: state.restrict,
    minSimilarity: state.min ? state.min / 100 : undefined,
    hideDuplicates: state.dedupe,
  };
}

function notFound() {
  showItems([], { ranked: false });
  hideQuery();
  setHeading("Photo not found");
  const link = element("a", { href: "/?view=deleted", textContent: "See deleted photos" });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    actions.navigate({ view: "deleted" });
  });
  showEmpty("That photo is not in the library.", "It may have been deleted, or the link is wrong.", link);
}

export async function similar(state, token) {
  if (state.badSimilar) return notFound();
  const src = `/thumbs/${encodeURIComponent(state.similar)}`;
  let body, detail;
  try {
    [body, detail] = await Promise.all([
      api.similar(state.similar, searchOptionsOf(state)),
      api.image(state.similar).catch(() => null),
    ]);
  } catch (error) {
    if (token !== app.token) return;
    if (error.code === "not_found") return notFound();
    throw error;
  }
  if (token !== app.token) return;
  showItems(body.results, { ranked: true });
  const where = state.restrict ? ` among ${labelOf(state.restrict)}` : "";
  setHeading(
    `${plural(body.results.length, "similar photo")}${where}`,
    `Search took ${ms(body.timings.total_ms)} (stored vector, no re-encoding)${hiddenNote(body)}`,
  );
  showQuery({
    title: "More like this photo",
    src,
    alt: "The photo these results are similar to",
    meta: detail ? `${labelOf(detail.breed)} · ${detail.width} × ${detail.height} px` : "",
    match: body.match,
    results: body.results,
    breed: body.query.breed ?? null,
    own: true,
  });
  if (!body.results.length) showEmpty("No photo matches.", noMatchHint({ breed: body.breed, minSimilarity: state.min }));
}

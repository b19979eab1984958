// What the result views share: the main grid, the pager, and the query panel that says what the
// query photo was taken for (breed guesses, is it a dog) and how close the best match is.
import { app, labelOf } from "../context.js";
import { $, element } from "../dom.js";
import { count, percent, plural } from "../format.js";
import { renderGrid } from "../grid.js";

export function showItems(items, { ranked }) {
  app.items = items;
  app.ranked = ranked;
  $("grid").classList.remove("groups");
  renderGrid($("grid"), items, { ranked });
  $("export").hidden = !(ranked && items.length);
}

export function showPager(page, pages) {
  $("pager").hidden = pages <= 1;
  $("page-label").textContent = `Page ${count(page)} of ${count(pages)}`;
  $("prev-page").disabled = page <= 1;
  $("next-page").disabled = page >= pages;
}

/** On phones the query panel folds to a line; "Details" unfolds it (and folds it again). */
export function initQueryPanel() {
  $("query-more").addEventListener("click", () => {
    const folded = $("query-panel").classList.toggle("folded");
    $("query-more").setAttribute("aria-expanded", String(!folded));
  });
}

export function hideQuery() {
  $("query-panel").hidden = true;
  $("understanding").hidden = true;
}

/** The query panel: photo, title, details, breed guesses and what the search found. */
export function showQuery({ title, src, alt, meta = "", predictions = [], dog = null, match = null }) {
  $("query-panel").hidden = false;
  $("query-title").textContent = title;
  if ($("query-image").getAttribute("src") !== src) $("query-image").src = src;
  $("query-image").alt = alt;
  $("query-meta").textContent = meta;
  renderPredictions(predictions);
  renderUnderstanding(dog, match);
  $("query-summary").textContent = summaryOf(predictions, dog, match);
}

/** The folded panel's one line: the first breed guess, "not a dog", how close the best is. */
function summaryOf(predictions, dog, match) {
  const parts = [];
  if (predictions.length) parts.push(`Looks like ${labelOf(predictions[0].breed)} ${percent(predictions[0].probability)}`);
  if (dog && !dog.is_dog) parts.push("Not a dog?");
  if (match && MATCH_WORDS[match.strength]) parts.push(MATCH_WORDS[match.strength][0]);
  return parts.join(" · ");
}

function renderPredictions(predictions) {
  const list = $("predictions");
  list.replaceChildren(
    ...predictions.map((p) =>
      element("li", {}, [
        element("span", { textContent: labelOf(p.breed) }),
        " ",
        element("span", { className: "pct", textContent: percent(p.probability) }),
      ]),
    ),
  );
  list.hidden = predictions.length === 0;
  $("predictions-title").hidden = predictions.length === 0;
}

const MATCH_WORDS = {
  strong: ["Close matches", "The closest photos look very much like yours."],
  weak: ["No very close match", "These are the most similar photos, but none is very close."],
  none: ["No close match", "Nothing in the library looks much like this photo; these are the nearest anyway."],
};

/** Not a dog, and how strong the best match is, in words. */
function renderUnderstanding(dog, match) {
  const box = $("understanding");
  const lines = [];
  if (dog && !dog.is_dog) {
    lines.push(
      element("p", { className: "not-dog" }, [
        element("strong", { textContent: "This doesn’t look like a dog" }),
        ` (dog score ${percent(dog.score)}). The library holds dogs, so the results may not mean much.`,
      ]),
    );
  }
  if (match && MATCH_WORDS[match.strength]) {
    const [head, text] = MATCH_WORDS[match.strength];
    const best = match.best_similarity === null ? "" : ` Best similarity ${percent(match.best_similarity)}.`;
    lines.push(
      element("p", { className: `match match-${match.strength}` }, [element("strong", { textContent: head }), `: ${text}${best}`]),
    );
  }
  box.replaceChildren(...lines);
  box.hidden = lines.length === 0;
}

export function hiddenNote(body) {
  return body.hidden_duplicates ? ` · ${plural(body.hidden_duplicates, "near-duplicate")} hidden` : "";
}

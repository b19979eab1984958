// What the result views share: the main grid, the pager, and the query panel that says what the
// query photo was taken for (breed guesses, is it a dog) and how many results share its breed.
import { app, labelOf } from "../context.js";
import { $, element } from "../dom.js";
import { count, percent, plural } from "../format.js";
import { renderGrid } from "../grid.js";
import { agreementShort, agreementText } from "../scores.js";

export function showItems(items, { ranked }) {
  app.items = items;
  app.ranked = ranked;
  $("grid").classList.remove("groups");
  renderGrid($("grid"), items, { ranked, actions: true });
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

/**
 * The query panel: photo, title, details, breed guesses and what the search found. ``breed``
 * is what the results' ``same_breed`` compares with: the first guess, or the stored photo's own
 * breed (``own``); ``results`` null when there are none to speak of (an empty index).
 */
export function showQuery({ title, src, alt, meta = "", predictions = [], dog = null, match = null, results = null, breed = null, own = false }) {
  $("query-panel").hidden = false;
  $("query-title").textContent = title;
  if ($("query-image").getAttribute("src") !== src) $("query-image").src = src;
  $("query-image").alt = alt;
  $("query-meta").textContent = meta;
  renderPredictions(predictions);
  const label = breed ? labelOf(breed) : "";
  renderUnderstanding(dog, match, results && agreementText(results, label, { own }));
  $("query-summary").textContent = summaryOf(predictions, dog, results && agreementShort(results, label));
}

/** The folded panel's one line: the first breed guess, "not a dog", how many share the breed. */
function summaryOf(predictions, dog, agreement) {
  const parts = [];
  if (predictions.length) parts.push(`Looks like ${labelOf(predictions[0].breed)} ${percent(predictions[0].probability)}`);
  if (dog && !dog.is_dog) parts.push("Not a dog?");
  if (agreement) parts.push(agreement);
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

// Only "none" is said: a strong match means little (any photo of the breed is one), so the
// breed agreement and the look say how close the results are.
const NO_CLOSE_MATCH = ["No close match", "Nothing in the library looks much like this photo; these are the nearest anyway."];

/** Not a dog, how many results share the breed and how alike they look, and no close match. */
function renderUnderstanding(dog, match, agreement) {
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
  if (agreement) {
    const [head, text] = agreement;
    lines.push(element("p", { className: "agreement" }, [element("strong", { textContent: head }), text]));
  }
  if (match?.strength === "none") {
    const [head, text] = NO_CLOSE_MATCH;
    lines.push(element("p", { className: "match match-none" }, [element("strong", { textContent: head }), `: ${text}`]));
  }
  box.replaceChildren(...lines);
  box.hidden = lines.length === 0;
}

export function hiddenNote(body) {
  return body.hidden_duplicates ? ` · ${plural(body.hidden_duplicates, "near-duplicate")} hidden` : "";
}

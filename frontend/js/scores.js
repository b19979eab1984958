// What a search result's numbers say, in words (the API documents each: GET /api/docs, Hit).
// Results are ranked by ``similarity``, the cosine of the whole breed-aware vector, but any
// photo of the query's breed scores 96-97 % on it, so the page says instead whether a result is
// the query's breed (``same_breed``) and how alike it looks (``look``, the look part alone).
// No DOM here, so tests run it in Node.
import { count, percent } from "./format.js";

const BREED_WORDS = new Map([
  [true, "Same breed"],
  [false, "Other breed"],
]);

/** A card's line: "Same breed · looks 83.0% alike"; no breed words when it is unknown. */
export function scoreLine(item) {
  return [BREED_WORDS.get(item.same_breed), `looks ${percent(item.look)} alike`].filter(Boolean).join(" · ");
}

/** How many ``results`` share the query's breed, or null when no result says. */
function sameBreedCount(results) {
  if (!results.some((item) => typeof item.same_breed === "boolean")) return null;
  return results.filter((item) => item.same_breed === true).length;
}

/** "9 of 12 results are Beagle", for the folded query panel; "" when unknown. */
export function agreementShort(results, breedLabel) {
  const same = sameBreedCount(results);
  if (same === null || !breedLabel) return "";
  return `${count(same)} of ${count(results.length)} results are ${breedLabel}`;
}

/**
 * The query panel's sentence on the results: how many share the breed ``breedLabel`` (the
 * photo's likeliest breed, or the stored photo's ``own`` breed) and how alike the closest
 * look-alike is. [bold part, rest], or null when there are no results.
 */
export function agreementText(results, breedLabel, { own = false } = {}) {
  if (!results.length) return null;
  const same = sameBreedCount(results);
  const bestLook = Math.max(...results.map((item) => item.look ?? 0));
  const looks = ` Most alike in look: ${percent(bestLook)}.`;
  if (same === null || !breedLabel) return [`${count(results.length)} results`, ` of any breed.${looks}`];
  const whose = own ? "this photo’s breed" : "the breed your photo most likely shows";
  return [`${count(same)} of ${count(results.length)} results are ${breedLabel}`, `, ${whose}.${looks}`];
}

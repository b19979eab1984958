// Thumbnail cards: the browse grid, ranked results and the duplicate groups share one renderer.
// Each list remembers its items, so a click on any card opens the large view on that list.
import { labelOf } from "./context.js";
import { element } from "./dom.js";
import { percent } from "./format.js";
import { scoreLine } from "./scores.js";

const itemsByList = new WeakMap();

/** The items a grid was rendered with, or [] for an element that is not a grid. */
export const itemsOf = (list) => itemsByList.get(list) ?? [];

function bar(value) {
  const track = element("span", { className: "bar" }, [element("span", { className: "bar-fill" })]);
  track.style.setProperty("--similarity", String(value)); // CSSOM: allowed by our CSP
  return track;
}

function similarityBar(similarity) {
  return element("span", { className: "similarity" }, [
    element("span", { className: "pct", textContent: percent(similarity) }),
    bar(similarity),
  ]);
}

/** A search result's line: breed agreement and look (scores.js), the bar showing the look. */
function scoresBar(item) {
  const agrees = item.same_breed === true ? "same" : item.same_breed === false ? "other" : "unknown";
  return element("span", { className: `similarity scores breed-${agrees}` }, [
    element("span", { className: "score-line", textContent: scoreLine(item) }),
    bar(item.look),
  ]);
}

/** What a card says of its score: search results their look, duplicate groups similarity. */
function scoreOf(item) {
  if (item.look !== undefined) return scoresBar(item);
  return item.similarity === undefined ? null : similarityBar(item.similarity);
}

/** A thumbnail with a placeholder while the server makes it, and words if it cannot. */
function thumbnail(item, alt) {
  const image = element("img", {
    src: item.thumbnail_url,
    alt,
    loading: "lazy",
    decoding: "async",
    width: 256,
    height: 256,
    className: "loading",
  });
  image.addEventListener("load", () => image.classList.remove("loading"), { once: true });
  image.addEventListener(
    "error",
    () => {
      image.classList.remove("loading");
      image.classList.add("broken");
    },
    { once: true },
  );
  return image;
}

function card(item, index, rank) {
  const label = labelOf(item.breed);
  const children = [
    thumbnail(item, rank ? `Result ${rank}: ${label}` : `${label} photo`),
    element("span", { className: "caption", textContent: label }),
  ];
  const score = scoreOf(item);
  if (score) children.push(score);
  const button = element("button", { type: "button", className: "card" }, children);
  button.dataset.index = String(index);
  button.dataset.id = item.id;
  if (item.similarity !== undefined) button.dataset.similarity = String(item.similarity);
  if (item.near_copy) {
    button.prepend(element("span", { className: "tag", textContent: "Same photo" }));
  }
  if (rank) {
    button.prepend(element("span", { className: "rank", textContent: `#${rank}` }));
    const copy = item.near_copy ? " Same photo as yours." : "";
    const says = item.look !== undefined ? scoreLine(item) : `${percent(item.similarity)} similar`;
    button.setAttribute("aria-label", `Result ${rank}: ${label}. ${says}.${copy} Open larger.`);
  } else {
    button.setAttribute("aria-label", `${label}: open larger`);
  }
  return element("li", {}, [button]);
}

/** Replace the grid's cards; ``ranked`` numbers them (search results). */
export function renderGrid(list, items, { ranked = false } = {}) {
  itemsByList.set(list, items);
  list.replaceChildren(...items.map((item, i) => card(item, i, ranked ? i + 1 : 0)));
  list.classList.toggle("ranked", ranked);
}

/** Focus the card at ``index`` (or the last one), else ``fallback``: where focus goes when
 * the card it was on is gone. */
export function focusCard(list, index, fallback) {
  const cards = list.querySelectorAll("button.card");
  const target = cards[Math.min(index, cards.length - 1)] ?? fallback;
  target?.focus();
}

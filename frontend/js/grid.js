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

const ICONS = {
  similar: "M10 3a7 7 0 1 0 4.2 12.6l5.1 5.1 1.4-1.4-5.1-5.1A7 7 0 0 0 10 3Zm0 2a5 5 0 1 1 0 10 5 5 0 0 1 0-10Z",
  delete: "M9 3h6l1 2h4v2H4V5h4l1-2Zm-3 6h12l-1 12H7L6 9Zm4 2v8h1.5v-8H10Zm2.5 0v8H14v-8h-1.5Z",
};

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

/** "More like this" and "Delete…" over a card: shown on hover, and on keyboard focus (they
 * follow the card in the Tab order). main.js acts on ``data-action``. */
function hoverActions(index, label, n) {
  const button = (action, name, title) => {
    const b = element("button", { type: "button", className: `card-action ${action}`, title }, [icon(action)]);
    b.dataset.action = action;
    b.dataset.index = String(index);
    b.setAttribute("aria-label", name);
    return b;
  };
  return element("div", { className: "card-hover" }, [
    button("similar", `Find more like ${label} photo ${n}`, "More like this"),
    button("delete", `Delete ${label} photo ${n}…`, "Delete…"),
  ]);
}

function card(item, index, rank, withActions) {
  const label = labelOf(item.breed);
  const children = [
    thumbnail(item, `${label} photo`),
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
  // No aria-label: the card is named by what it shows (rank, tag, photo, caption, scores), so
  // what a screen reader says and what a voice user reads off the screen are the same words.
  if (rank) button.prepend(element("span", { className: "rank", textContent: `#${rank}` }));
  const li = element("li", {}, [button]);
  if (withActions) li.append(hoverActions(index, label, index + 1));
  return li;
}

/** Replace the grid's cards; ``ranked`` numbers them (search results); ``actions`` adds the
 * hover actions. */
export function renderGrid(list, items, { ranked = false, actions = false } = {}) {
  itemsByList.set(list, items);
  list.replaceChildren(...items.map((item, i) => card(item, i, ranked ? i + 1 : 0, actions)));
  list.classList.toggle("ranked", ranked);
}

/** Focus the card at ``index`` (or the last one), else ``fallback``: where focus goes when
 * the card it was on is gone. */
export function focusCard(list, index, fallback) {
  const cards = list.querySelectorAll("button.card");
  const target = cards[Math.min(index, cards.length - 1)] ?? fallback;
  target?.focus();
}

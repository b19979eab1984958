// Thumbnail cards: the browse grid, ranked results and the duplicate groups share one renderer.
// Each list remembers its items, so a click on any card opens the large view on that list.
import { labelOf } from "./context.js";
import { element } from "./dom.js";
import { percent } from "./format.js";

const itemsByList = new WeakMap();

/** The items a grid was rendered with, or [] for an element that is not a grid. */
export const itemsOf = (list) => itemsByList.get(list) ?? [];

function similarityBar(similarity) {
  const bar = element("span", { className: "bar" }, [element("span", { className: "bar-fill" })]);
  bar.style.setProperty("--similarity", String(similarity)); // CSSOM: allowed by our CSP
  return element("span", { className: "similarity" }, [
    element("span", { className: "pct", textContent: percent(similarity) }),
    bar,
  ]);
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
  if (item.similarity !== undefined) children.push(similarityBar(item.similarity));
  const button = element("button", { type: "button", className: "card" }, children);
  button.dataset.index = String(index);
  button.dataset.id = item.id;
  if (item.near_copy) {
    button.prepend(element("span", { className: "tag", textContent: "Same photo" }));
  }
  if (rank) {
    button.prepend(element("span", { className: "rank", textContent: `#${rank}` }));
    const copy = item.near_copy ? " Same photo as yours." : "";
    button.setAttribute(
      "aria-label",
      `Result ${rank}: ${label}, ${percent(item.similarity)} similar.${copy} Open larger.`,
    );
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

// Thumbnail cards: the browse grid and ranked results share one renderer.
import { breedLabel, percent } from "./format.js";

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function similarityBar(similarity) {
  const bar = element("span", { className: "bar" }, [element("span", { className: "bar-fill" })]);
  bar.style.setProperty("--similarity", String(similarity)); // CSSOM: allowed by our CSP
  return element("span", { className: "similarity" }, [
    element("span", { className: "pct", textContent: percent(similarity) }),
    bar,
  ]);
}

function card(item, index, rank) {
  const label = breedLabel(item.breed);
  const image = element("img", {
    src: item.thumbnail_url,
    alt: rank ? `Result ${rank}: ${label}` : `${label} photo`,
    loading: "lazy",
    decoding: "async",
    width: 256,
    height: 256,
  });
  const children = [image, element("span", { className: "caption", textContent: label })];
  if (item.similarity !== undefined) children.push(similarityBar(item.similarity));
  const button = element("button", { type: "button", className: "card" }, children);
  button.dataset.index = String(index);
  if (rank) {
    button.prepend(element("span", { className: "rank", textContent: `#${rank}` }));
    button.setAttribute(
      "aria-label",
      `Result ${rank}: ${label}, ${percent(item.similarity)} similar. Open larger.`,
    );
  } else {
    button.setAttribute("aria-label", `${label}: open larger`);
  }
  return element("li", {}, [button]);
}

/** Replace the grid's cards; ``ranked`` numbers them (search results). */
export function renderGrid(list, items, { ranked = false } = {}) {
  list.replaceChildren(...items.map((item, i) => card(item, i, ranked ? i + 1 : 0)));
  list.classList.toggle("ranked", ranked);
}

export { element };

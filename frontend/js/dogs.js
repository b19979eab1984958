// The dogs found in the query photo, outlined on it when there are several: each outline is a
// button that searches that dog (its crop, the box the API widened), and the dog whose results
// are shown is marked. One dog gets no outline: its search is the whole photo's, so a box
// would offer nothing to click, and the localiser's box often covers only the dog's middle
// (README, "Dogs in a photo"), which would look wrong for no gain.
import { labelOf } from "./context.js";
import { element } from "./dom.js";

const ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"];

/** The dog's breed guess as the page says it: "German shepherd 81 %", or "" without one. */
export function guessOf(dog) {
  const best = dog.predictions?.[0];
  return best ? `${labelOf(best.breed)} ${Math.round(best.probability * 100)} %` : "";
}

/** Which of ``dogs`` the one at ``index`` is, by where it is in the photo: "the dog on the
 * left" (two dogs), "the second dog from the left" (more). The API lists the most sure dog
 * first, an order nobody looking at the photo can see. */
export function whichDog(dogs, index) {
  const centre = (dog) => (dog.box[0] + dog.box[2]) / 2;
  const place = dogs.filter((dog, other) => {
    const before = centre(dog) - centre(dogs[index]);
    return before < 0 || (before === 0 && other < index);
  }).length;
  if (dogs.length === 2) return `the dog on the ${place === 0 ? "left" : "right"}`;
  return `the ${ORDINALS[place] ?? `number ${place + 1}`} dog from the left`;
}

/** "Search the dog on the right: German shepherd 81 %" (what a screen reader says of an
 * outline). */
export function outlineName(dogs, index, shown) {
  const which = `${shown ? "Showing" : "Search"} ${whichDog(dogs, index)}`;
  const guess = guessOf(dogs[index]);
  return guess ? `${which}: ${guess}` : which;
}

export class DogOutlines {
  /** ``layer``: a box over ``image`` (same frame); ``onPick(number)``: from 1. */
  constructor({ image, layer, onPick }) {
    this.image = image;
    this.layer = layer;
    this.onPick = onPick;
    this.dogs = [];
    this.shown = null;
    image.addEventListener("load", () => this.place());
    new ResizeObserver(() => this.place()).observe(image);
  }

  /** Outline ``dogs`` (the API's ``query.dogs``); ``shown``: the number of the dog whose
   * results are on screen, or null (the whole photo, a drawn region). */
  show(dogs, shown) {
    this.dogs = dogs.length > 1 ? dogs : [];
    this.shown = shown;
    this.layer.hidden = this.dogs.length === 0;
    this.layer.replaceChildren(
      ...this.dogs.map((dog, index) => {
        const isShown = shown === index + 1;
        const button = element("button", {
          type: "button",
          className: `dog-outline${isShown ? " shown" : ""}`,
        });
        button.setAttribute("aria-label", outlineName(this.dogs, index, isShown));
        button.setAttribute("aria-pressed", String(isShown));
        button.dataset.dog = String(index + 1);
        // The tag shows the end of the accessible name, never other words (axe's
        // label-content-name-mismatch): the breed guess, or nothing without one.
        const guess = guessOf(dog);
        if (guess) button.append(element("span", { className: "dog-tag", textContent: guess }));
        button.addEventListener("click", () => {
          if (!isShown) this.onPick(index + 1);
        });
        return button;
      }),
    );
    this.place();
  }

  /** Each outline over its dog: the photo is shown whole (contain), letterboxed in its box. */
  place() {
    const { naturalWidth: w, naturalHeight: h } = this.image;
    if (!w || !h || !this.dogs.length) return;
    const frame = this.image.getBoundingClientRect();
    const scale = Math.min(frame.width / w, frame.height / h);
    const width = w * scale;
    const height = h * scale;
    const x0 = this.image.offsetLeft + (frame.width - width) / 2;
    const y0 = this.image.offsetTop + (frame.height - height) / 2;
    for (const button of this.layer.children) {
      const [l, t, r, b] = this.dogs[Number(button.dataset.dog) - 1].box;
      // CSSOM, not a style attribute: the page's CSP allows only the former.
      Object.assign(button.style, {
        left: `${x0 + l * width}px`,
        top: `${y0 + t * height}px`,
        width: `${(r - l) * width}px`,
        height: `${(b - t) * height}px`,
      });
    }
  }
}

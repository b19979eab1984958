// The large view of one photo: Esc closes (native <dialog>), arrow keys move through the list it
// was opened on, except while a control (the breed list) has focus: there they are the control's.
// Opening it adds a history entry (the same URL), so Back closes it instead of leaving the page;
// closing it any other way takes that entry back off. The photo and its zoom: viewer.js.
import { api } from "./api.js";
import { trapFocus } from "./confirm-dialog.js";
import { labelOf } from "./context.js";
import { $, element } from "./dom.js";
import { bytes, percent } from "./format.js";
import { deletePhoto, relabelPhoto } from "./library-actions.js";
import { scoreLine } from "./scores.js";
import { PhotoViewer } from "./viewer.js";
import { WhyView } from "./why.js";

const CONTROLS = "select, input, textarea, [contenteditable]";

export class Lightbox {
  /** ``queryFor()``: the search's query for "Why?" (why.js), or null while browsing. */
  constructor({ onMoreLikeThis, onClosed, queryFor = () => null }) {
    this.dialog = $("lightbox");
    this.viewer = new PhotoViewer();
    this.why = new WhyView({ queryFor });
    trapFocus(this.dialog);
    this.breedSelect = $("lightbox-breed");
    this.items = [];
    this.index = 0;
    this.onClosed = onClosed;
    this.questionFor = null; // a view's own words before a delete (the last copy of a group)
    this.entry = false; // our history entry is the current one
    this.leaving = false; // history.back() is on its way to take it off
    $("lightbox-relabel").addEventListener("click", () => this.relabel());
    $("lightbox-delete").addEventListener("click", () => this.delete());
    $("lightbox-close").addEventListener("click", () => this.close());
    $("lightbox-prev").addEventListener("click", () => this.move(-1));
    $("lightbox-next").addEventListener("click", () => this.move(1));
    $("more-like-this").addEventListener("click", () => {
      const item = this.items[this.index];
      this.entry = false; // the search replaces our entry: Back returns to the grid
      this.close();
      onMoreLikeThis(item);
    });
    this.dialog.addEventListener("keydown", (event) => {
      if (event.target.closest?.(CONTROLS)) return;
      if (event.key === "ArrowLeft") this.move(-1);
      else if (event.key === "ArrowRight") this.move(1);
      else if (this.viewer.key(event)) event.preventDefault();
    });
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.close(); // a click on the backdrop
    });
    this.dialog.addEventListener("close", () => {
      this.why.reset(null);
      if (this.entry) {
        this.entry = false;
        this.leaving = true;
        window.history.back();
      }
      this.onClosed?.(this.items[this.index], this.index);
    });
  }

  /** Back (a popstate): true when it was ours, to close the large view or to take its entry
   * off; the page shows another view only when this is false. */
  popped() {
    if (this.leaving) {
      this.leaving = false;
      return true;
    }
    if (!this.dialog.open) return false;
    this.entry = false; // Back has already taken it off
    this.close();
    return true;
  }

  /** ``readOnly``: a deleted photo, to look at only (restore it from its card). */
  open(items, index, { readOnly = false } = {}) {
    this.items = items;
    this.dialog.classList.toggle("read-only", readOnly);
    for (const id of ["more-like-this", "lightbox-manage"]) $(id).hidden = readOnly;
    this.show(index);
    if (!this.dialog.open) {
      this.dialog.showModal();
      this.viewer.reset(); // now that the stage has its size
      window.history.pushState({ lightbox: true }, "", window.location.href);
      this.entry = true;
    }
    (readOnly ? $("lightbox-close") : $("more-like-this")).focus();
  }

  setBreeds(names) {
    this.breedSelect.replaceChildren(
      ...["unknown", ...names].map((name) => element("option", { value: name, textContent: labelOf(name) })),
    );
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  move(step) {
    if (!this.items.length) return;
    this.show((this.index + step + this.items.length) % this.items.length);
  }

  async relabel() {
    const item = this.items[this.index];
    if (await relabelPhoto(item, this.breedSelect.value)) this.show(this.index);
  }

  async delete() {
    const item = this.items[this.index];
    if (!(await deletePhoto(item, { question: this.questionFor?.(item) ?? null }))) return;
    this.items = this.items.filter((other) => other !== item);
    this.close();
  }

  show(index) {
    this.index = index;
    const item = this.items[index];
    const label = labelOf(item.breed);
    this.viewer.show(item.image_url, `${label} photo`);
    this.why.reset(item);
    $("lightbox-title").textContent = label;
    $("lightbox-original").href = item.image_url;
    if (![...this.breedSelect.options].some((o) => o.value === item.breed)) {
      this.breedSelect.append(element("option", { value: item.breed, textContent: label }));
    }
    this.breedSelect.value = item.breed;
    const parts = [`${item.width} × ${item.height} px`];
    if (item.look !== undefined) parts.push(scoreLine(item), `${percent(item.similarity)} similar overall`);
    else if (item.similarity !== undefined) parts.push(`${percent(item.similarity)} similar`);
    if (item.near_copy) parts.push("same photo as yours");
    parts.push(`${index + 1} of ${this.items.length}`);
    const meta = $("lightbox-meta");
    meta.textContent = parts.join(" · ");
    api.image(item.id).then(
      (detail) => {
        if (this.items[this.index]?.id !== item.id || !detail.file_bytes) return;
        meta.textContent = [parts[0], bytes(detail.file_bytes), ...parts.slice(1)].join(" · ");
      },
      () => {}, // the size is a nicety; the photo is already shown
    );
  }
}

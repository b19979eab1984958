// The large view of one photo: Esc closes (native <dialog>), arrow keys move through the grid.
import { api } from "./api.js";
import { breedLabel, bytes, percent } from "./format.js";

export class Lightbox {
  constructor({ onMoreLikeThis, onRelabel, onDelete }) {
    this.dialog = document.getElementById("lightbox");
    this.image = document.getElementById("lightbox-image");
    this.title = document.getElementById("lightbox-title");
    this.meta = document.getElementById("lightbox-meta");
    this.original = document.getElementById("lightbox-original");
    this.items = [];
    this.index = 0;
    this.onMoreLikeThis = onMoreLikeThis;
    this.returnFocus = null;
    this.breedSelect = document.getElementById("lightbox-breed");
    document.getElementById("lightbox-relabel").addEventListener("click", async () => {
      const item = this.items[this.index];
      const updated = await onRelabel(item, this.breedSelect.value);
      if (updated) this.show(this.index);
    });
    document.getElementById("lightbox-delete").addEventListener("click", async () => {
      const item = this.items[this.index];
      if (!window.confirm(`Delete this ${breedLabel(item.breed)} photo from the library?`)) return;
      if (await onDelete(item)) this.close();
    });

    document.getElementById("lightbox-close").addEventListener("click", () => this.close());
    document.getElementById("lightbox-prev").addEventListener("click", () => this.move(-1));
    document.getElementById("lightbox-next").addEventListener("click", () => this.move(1));
    document.getElementById("more-like-this").addEventListener("click", () => {
      const item = this.items[this.index];
      this.close();
      this.onMoreLikeThis(item);
    });
    this.dialog.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft") this.move(-1);
      else if (event.key === "ArrowRight") this.move(1);
    });
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.close(); // a click on the backdrop
    });
    this.dialog.addEventListener("close", () => this.returnFocus?.focus());
  }

  open(items, index, opener) {
    this.items = items;
    this.returnFocus = opener ?? null;
    this.show(index);
    if (!this.dialog.open) this.dialog.showModal();
    document.getElementById("more-like-this").focus();
  }

  setBreeds(names) {
    this.breedSelect.replaceChildren(
      ...["unknown", ...names].map((name) =>
        Object.assign(document.createElement("option"), { value: name, textContent: breedLabel(name) }),
      ),
    );
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  move(step) {
    if (!this.items.length) return;
    this.show((this.index + step + this.items.length) % this.items.length);
  }

  show(index) {
    this.index = index;
    const item = this.items[index];
    const label = breedLabel(item.breed);
    this.image.src = item.image_url;
    this.image.alt = `${label} photo, full size`;
    this.title.textContent = label;
    this.original.href = item.image_url;
    if (![...this.breedSelect.options].some((o) => o.value === item.breed)) {
      this.breedSelect.append(Object.assign(document.createElement("option"), { value: item.breed, textContent: label }));
    }
    this.breedSelect.value = item.breed;
    const parts = [`${item.width} × ${item.height} px`];
    if (item.similarity !== undefined) parts.push(`${percent(item.similarity)} similar`);
    parts.push(`${index + 1} of ${this.items.length}`);
    this.meta.textContent = parts.join(" · ");
    api.image(item.id).then(
      (detail) => {
        if (this.items[this.index]?.id !== item.id || !detail.file_bytes) return;
        this.meta.textContent = [parts[0], bytes(detail.file_bytes), ...parts.slice(1)].join(" · ");
      },
      () => {}, // the size is a nicety; the photo is already shown
    );
  }
}

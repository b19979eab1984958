// Library management in the page: add photos (progress per file), and the near-duplicates view.
import { api } from "./api.js";
import { breedLabel, bytes, percent } from "./format.js";
import { element, renderGrid } from "./grid.js";

const $ = (id) => document.getElementById(id);

/** The "Add photos" panel; ``onAdded`` runs once a batch is done (refresh counts, grid). */
export class AddPanel {
  constructor({ maxUploadBytes, onAdded }) {
    this.maxUploadBytes = maxUploadBytes;
    this.onAdded = onAdded;
    $("add-photos-button").addEventListener("click", () => this.open());
    $("add-close").addEventListener("click", () => this.close());
    $("add-input").addEventListener("change", (event) => {
      const files = [...event.target.files];
      event.target.value = "";
      if (files.length) this.add(files);
    });
  }

  setBreeds(names) {
    $("add-breed").replaceChildren(
      element("option", { value: "unknown", textContent: "unknown" }),
      ...names.map((name) => element("option", { value: name, textContent: breedLabel(name) })),
    );
  }

  open() {
    $("add-panel").hidden = false;
    $("add-breed").focus();
  }

  close() {
    $("add-panel").hidden = true;
    $("add-progress").replaceChildren();
  }

  async add(files) {
    const breed = $("add-breed").value;
    const rows = files.map((file) => {
      const bar = element("progress", { max: 1, value: 0 });
      const outcome = element("span", { className: "outcome", textContent: "waiting" });
      $("add-progress").append(element("li", {}, [element("span", { textContent: file.name }), bar, outcome]));
      return { file, bar, outcome };
    });
    let added = 0;
    for (const { file, bar, outcome } of rows) { // one at a time: honest progress, bounded load
      if (file.size > this.maxUploadBytes) {
        outcome.textContent = `too large (${bytes(file.size)})`;
        outcome.classList.add("failed");
        continue;
      }
      outcome.textContent = "uploading";
      try {
        const body = await api.addPhoto(file, breed, (fraction) => {
          bar.value = fraction;
          if (fraction >= 1) outcome.textContent = "encoding";
        });
        const result = body.results[0];
        bar.value = 1;
        outcome.textContent = result.status === "added" ? "added" : "already in the library";
        if (result.status === "added") added += 1;
      } catch (error) {
        outcome.textContent = error.message;
        outcome.classList.add("failed");
      }
    }
    if (added) this.onAdded(added);
  }
}

/** ?view=duplicates: each group side by side, with a delete button under every photo. */
export async function renderDuplicates(container, { onDelete, threshold }) {
  const body = await api.duplicates(threshold);
  container.replaceChildren(
    ...body.groups.map((group, n) => {
      const list = element("ul", { className: "grid" });
      const items = group.images.map((image, i) => ({ ...image, similarity: i ? group.max_similarity : undefined }));
      renderGrid(list, items);
      list.querySelectorAll("li").forEach((li, i) => {
        const remove = element("button", { type: "button", className: "danger", textContent: "Delete" });
        remove.addEventListener("click", () => onDelete(items[i], li));
        li.append(element("div", { className: "card-actions" }, [remove]));
      });
      return element("section", { className: "dup-group" }, [
        element("h2", { textContent: `Group ${n + 1}: ${group.images.length} photos, up to ${percent(group.max_similarity)} alike` }),
        list,
      ]);
    }),
  );
  return body;
}

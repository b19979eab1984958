// The "Add photos" panel: one row per file with its own progress and outcome. Esc or Done
// closes it.
import { api } from "./api.js";
import { labelOf } from "./context.js";
import { $, element } from "./dom.js";
import { bytes } from "./format.js";
import { messageFor } from "./messages.js";

export class AddPanel {
  /** ``onAdded`` runs once a batch added anything (refresh counts and the view). */
  constructor({ maxUploadBytes, onAdded }) {
    this.maxUploadBytes = maxUploadBytes;
    this.onAdded = onAdded;
    this.opener = null;
    $("add-photos-button").addEventListener("click", () => this.open());
    $("add-close").addEventListener("click", () => this.close());
    $("add-choose").addEventListener("click", () => $("add-input").click());
    $("add-panel").addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    $("add-input").addEventListener("change", (event) => {
      const files = [...event.target.files];
      event.target.value = "";
      if (files.length) this.add(files);
    });
  }

  setBreeds(names) {
    $("add-breed").replaceChildren(
      element("option", { value: "unknown", textContent: labelOf("unknown") }),
      ...names.map((name) => element("option", { value: name, textContent: labelOf(name) })),
    );
  }

  open() {
    this.opener = document.activeElement;
    $("add-panel").hidden = false;
    $("add-breed").focus();
  }

  close() {
    if ($("add-panel").hidden) return;
    $("add-panel").hidden = true;
    $("add-progress").replaceChildren();
    (this.opener?.isConnected ? this.opener : $("add-photos-button")).focus();
  }

  async add(files) {
    const breed = $("add-breed").value;
    const rows = files.map((file) => {
      const bar = element("progress", { max: 1, value: 0 });
      const outcome = element("span", { className: "outcome", textContent: "waiting" });
      const row = element("li", {}, [element("span", { className: "file", textContent: file.name }), bar, outcome]);
      $("add-progress").append(row);
      return { file, row, bar, outcome };
    });
    let added = 0;
    let refused = null; // no write key: the rest of the batch is not sent (one question)
    for (const entry of rows) {
      // One at a time: honest progress, bounded load.
      if (refused) failed(entry, messageFor(refused));
      else added += (await this.addOne(entry, breed)) ? 1 : 0;
      if (entry.error?.code === "unauthorized") refused = entry.error;
    }
    if (added) this.onAdded(added);
  }

  async addOne(entry, breed) {
    const { file, row, bar, outcome } = entry;
    const fail = (text) => failed(entry, text);
    if (file.size > this.maxUploadBytes) {
      return fail(`too big: ${bytes(file.size)}, the limit is ${bytes(this.maxUploadBytes)}`);
    }
    outcome.textContent = "uploading";
    let body;
    try {
      body = await api.addPhoto(file, breed, (fraction) => {
        bar.value = fraction;
        if (fraction >= 1) outcome.textContent = "encoding";
      });
    } catch (error) {
      entry.error = error;
      return fail(messageFor(error, "add"));
    }
    const result = body.results[0];
    bar.value = 1;
    if (result.status === "added") {
      row.classList.add("done");
      outcome.textContent = "added";
      return true;
    }
    row.classList.add("exists");
    const kept = labelOf(result.breed);
    outcome.textContent =
      result.breed === breed ? `already in the library` : `already in the library as ${kept}; label kept`;
    return false;
  }
}

function failed({ row, bar, outcome }, text) {
  row.classList.add("failed");
  bar.value = 0;
  bar.hidden = true;
  outcome.textContent = text;
  return false;
}

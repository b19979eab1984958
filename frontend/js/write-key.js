// The write key dialog: asked for when a change to the library needs the key the server was
// started with (SEARCH_API_WRITE_KEY). api.js keeps the key for this tab and sends it.
import { $ } from "./dom.js";

/** Ask for the key; resolves to it, or to null when the person cancels (Cancel or Esc). */
export function askForWriteKey({ wrong = false } = {}) {
  const dialog = $("key-dialog");
  const input = $("key-input");
  $("key-wrong").hidden = !wrong;
  input.value = "";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" && input.value.trim() ? input.value.trim() : null),
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

export function initWriteKeyDialog() {
  $("key-cancel").addEventListener("click", () => $("key-dialog").close("cancel"));
}

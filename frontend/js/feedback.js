// How the page tells the user what is happening: busy status, errors, empty states, the view
// heading, and a toast that can undo.
import { $, element } from "./dom.js";
import { messageFor } from "./messages.js";

export function setBusy(text) {
  const status = $("status");
  status.replaceChildren();
  if (text) status.append(element("span", { className: "spinner" }), text);
  $("grid").setAttribute("aria-busy", text ? "true" : "false");
}

/** Show ``error`` (an ApiError, an Error or a sentence) in the alert; "" hides it. */
export function showError(error) {
  const notice = $("notice");
  if (error && typeof error !== "string") console.info("dogsearch:", error.code, error.message);
  notice.textContent = !error ? "" : typeof error === "string" ? error : messageFor(error);
  notice.hidden = !error;
}

/** A short note that is not an error (a corrected link, say). */
export function showNote(text) {
  const note = $("note");
  note.textContent = text ?? "";
  note.hidden = !text;
}

export function showEmpty(message, hint, action = null) {
  const empty = $("empty");
  empty.replaceChildren();
  if (message) {
    empty.append(element("p", { className: "empty-title", textContent: message }));
    if (hint) empty.append(element("p", { textContent: hint }));
    if (action) empty.append(action);
  }
  empty.hidden = !message;
}

export function setHeading(title, meta = "") {
  $("view-title").textContent = title;
  $("view-meta").textContent = meta;
  document.title = `${title} · dogsearch`;
}

let toastTimer = null;

/** A message at the bottom with an optional action button (Undo); it goes after a while. */
export function toast(text, { action = null, onAction = null, seconds = 10 } = {}) {
  const box = $("toast");
  clearTimeout(toastTimer);
  const parts = [element("span", { textContent: text })];
  if (action) {
    const button = element("button", { type: "button", textContent: action });
    button.addEventListener("click", async () => {
      box.hidden = true;
      await onAction();
    });
    parts.push(button);
  }
  box.replaceChildren(...parts);
  box.hidden = false;
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, seconds * 1000);
}

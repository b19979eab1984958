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

// The toast is a live region that is always there (empty when no toast shows), so what appears in
// it is read out. Its action has a shortcut (Ctrl+Z or Cmd+Z): from a card in the grid its button
// is dozens of Tabs away. It stays while the pointer or focus is on it, and while it shows the
// page ends higher, so it never covers the footer.
export const TOAST_SECONDS = 20;
const toastState = { timer: null, left: 0, since: 0, held: new Set(), action: null };

function hideToast() {
  clearTimeout(toastState.timer);
  Object.assign(toastState, { timer: null, left: 0, action: null });
  toastState.held.delete("focus"); // a focused button removed fires no focusout
  $("toast").replaceChildren();
  document.body.classList.remove("toasting");
}

function runToastTimer() {
  clearTimeout(toastState.timer);
  toastState.timer = null;
  if (!$("toast").hasChildNodes() || toastState.held.size) return;
  toastState.since = Date.now();
  toastState.timer = setTimeout(hideToast, toastState.left);
}

function holdToast(reason, held) {
  if (held) toastState.held.add(reason);
  else toastState.held.delete(reason);
  if (held && toastState.timer) {
    clearTimeout(toastState.timer);
    toastState.timer = null;
    toastState.left = Math.max(0, toastState.left - (Date.now() - toastState.since));
  } else if (!held) {
    runToastTimer();
  }
}

const editing = (target) => target?.closest?.("input, textarea, select, [contenteditable]");

/** Wire the toast's pause (hover, focus) and its action's shortcut. */
export function initToast() {
  const box = $("toast");
  box.addEventListener("mouseenter", () => holdToast("pointer", true));
  box.addEventListener("mouseleave", () => holdToast("pointer", false));
  box.addEventListener("focusin", () => holdToast("focus", true));
  box.addEventListener("focusout", (event) => {
    if (!box.contains(event.relatedTarget)) holdToast("focus", false);
  });
  document.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase() === "z" && (event.ctrlKey || event.metaKey);
    if (!key || event.shiftKey || event.altKey || !toastState.action || editing(event.target)) return;
    if (document.querySelector("dialog[open]")) return; // the large view or the key dialog
    event.preventDefault();
    toastState.action();
  });
}

/** A message at the bottom with an optional action button (Undo, also Ctrl+Z); it goes after
 * ``seconds`` not counting the time it is hovered or focused. */
export function toast(text, { action = null, onAction = null, seconds = TOAST_SECONDS } = {}) {
  const box = $("toast");
  hideToast();
  const parts = [element("span", { textContent: text })];
  if (action) {
    const run = async () => {
      hideToast();
      await onAction();
    };
    const button = element("button", { type: "button", textContent: action });
    button.setAttribute("aria-keyshortcuts", "Control+Z Meta+Z");
    button.addEventListener("click", run);
    parts.push(button, element("kbd", { className: "toast-key", textContent: "Ctrl+Z" }));
    toastState.action = run;
  }
  box.replaceChildren(...parts);
  document.body.style.setProperty("--toast-space", `${box.offsetHeight + 28}px`); // CSSOM: CSP allows
  document.body.classList.add("toasting");
  toastState.left = seconds * 1000;
  runToastTimer();
}

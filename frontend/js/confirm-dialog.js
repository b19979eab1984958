// The page's own "Are you sure?": a modal <dialog> instead of window.confirm, which blocks the
// page, cannot be styled and reads as the browser's, not ours. Focus starts on Cancel (a stray
// Enter keeps the photo), Tab stays inside, Esc cancels, and focus goes back to what opened it.
import { $ } from "./dom.js";

const FOCUSABLE = "button:not([disabled]), [href], input, select, textarea, [tabindex]:not([tabindex='-1'])";

/** Keep Tab and Shift+Tab inside ``dialog``: a modal one makes the page inert, but Tab from its
 * last button would still leave for the browser's own toolbar. */
export function trapFocus(dialog) {
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const stops = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
}

let pending = null; // the question on screen: a second one waits for its answer

/**
 * Ask ``message`` under ``title``; resolves true when the person chose ``confirm`` (the button's
 * words, say "Delete"), false on Cancel or Esc.
 */
export function confirmAction({ title, message, confirm = "Delete" }) {
  const ask = () =>
    new Promise((resolve) => {
      const dialog = $("confirm-dialog");
      const opener = document.activeElement;
      $("confirm-title").textContent = title;
      $("confirm-message").textContent = message;
      $("confirm-ok").textContent = confirm;
      dialog.returnValue = "";
      dialog.addEventListener(
        "close",
        () => {
          if (opener?.isConnected && typeof opener.focus === "function") opener.focus();
          resolve(dialog.returnValue === "ok");
        },
        { once: true },
      );
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  pending = (pending ?? Promise.resolve()).then(ask, ask);
  const answer = pending;
  answer.finally(() => {
    if (pending === answer) pending = null;
  });
  return answer;
}

export function initConfirmDialog() {
  trapFocus($("confirm-dialog"));
}

// The photo in the large view: shown at its natural size, or smaller when it does not fit the
// stage, never stretched past it (a 320 px photo blown up to fill the screen looks blurred).
// Zoom is the person's choice: + and − (buttons or keys), a click on the photo, the wheel; the
// level button (or 0) goes back to the fitted size.
//
// ``canvas`` is the box the photo fills at every zoom level: anything drawn over the photo
// (an outline, a heat map) goes inside it, positioned in percent, and follows the zoom.
import { $ } from "./dom.js";

const STEP = 1.5;
const MAX_ZOOM = 4; // of the natural size: enough to look at fur; past it only blur

export class PhotoViewer {
  constructor() {
    this.stage = $("viewer-stage");
    this.canvas = $("viewer-canvas");
    this.image = $("lightbox-image");
    this.scale = 1; // shown pixels per natural pixel
    this.fit = 1; // the scale that fits the stage, at most 1
    $("zoom-in").addEventListener("click", () => this.zoom(STEP));
    $("zoom-out").addEventListener("click", () => this.zoom(1 / STEP));
    $("zoom-reset").addEventListener("click", () => this.reset());
    this.image.addEventListener("load", () => this.reset());
    this.image.addEventListener("click", (event) => {
      // Click: in to twice the fitted size at that point; on a zoomed photo, back to fitted.
      if (this.dragged) return; // the end of a drag, not a click
      if (this.scale > this.fit * 1.01) this.reset();
      else this.zoom(2, event);
    });
    this.image.addEventListener("dragstart", (event) => event.preventDefault());
    this.listenForDrags();
    this.stage.addEventListener(
      "wheel",
      (event) => {
        // A sideways swipe scrolls a zoomed photo; up and down zoom.
        if (!this.image.naturalWidth || Math.abs(event.deltaX) > Math.abs(event.deltaY)) return;
        event.preventDefault();
        this.zoom(event.deltaY < 0 ? 1.25 : 1 / 1.25, event);
      },
      { passive: false },
    );
    new ResizeObserver(() => this.refit()).observe(this.stage);
  }

  /** Drag a zoomed photo to move it (as well as the scroll bars). */
  listenForDrags() {
    let from = null;
    this.dragged = false;
    this.image.addEventListener("pointerdown", (event) => {
      this.dragged = false;
      if (event.button !== 0 || !this.stage.classList.contains("zoomed")) return;
      from = { x: event.clientX, y: event.clientY, left: this.stage.scrollLeft, top: this.stage.scrollTop };
      this.image.setPointerCapture(event.pointerId);
    });
    this.image.addEventListener("pointermove", (event) => {
      if (!from) return;
      const dx = event.clientX - from.x;
      const dy = event.clientY - from.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) this.dragged = true;
      this.stage.scrollLeft = from.left - dx;
      this.stage.scrollTop = from.top - dy;
    });
    const end = () => {
      from = null;
    };
    this.image.addEventListener("pointerup", end);
    this.image.addEventListener("pointercancel", end);
  }

  /** Show ``src``; ``alt`` says what it is. The zoom starts fitted once it has loaded. */
  show(src, alt) {
    this.image.alt = alt;
    if (this.image.getAttribute("src") !== src) {
      this.canvas.classList.add("loading");
      this.image.src = src;
    } else {
      this.reset();
    }
  }

  /** Keys while the large view has focus (not in a control): true when one was used. */
  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    if (event.key === "+" || event.key === "=") this.zoom(STEP);
    else if (event.key === "-" || event.key === "_") this.zoom(1 / STEP);
    else if (event.key === "0") this.reset();
    else return false;
    return true;
  }

  fitScale() {
    const { naturalWidth: w, naturalHeight: h } = this.image;
    if (!w || !h) return 1;
    const room = this.stage.getBoundingClientRect();
    if (!room.width || !room.height) return 1; // not on screen yet: refit() follows
    return Math.min(1, room.width / w, room.height / h);
  }

  reset() {
    this.canvas.classList.remove("loading");
    this.fit = this.fitScale();
    this.apply(this.fit);
  }

  /** The stage changed size (a rotated phone): a fitted photo stays fitted. */
  refit() {
    if (!this.image.naturalWidth) return;
    const fitted = Math.abs(this.scale - this.fit) < 1e-3;
    this.fit = this.fitScale();
    if (fitted || this.scale < this.fit) this.apply(this.fit);
  }

  /** Zoom by ``factor``, keeping the point under ``at`` (a pointer event) where it is. */
  zoom(factor, at = null) {
    if (!this.image.naturalWidth) return;
    const before = this.scale;
    const next = Math.min(MAX_ZOOM, Math.max(this.fit, before * factor));
    if (Math.abs(next - before) < 1e-6) return;
    const stage = this.stage.getBoundingClientRect();
    const x = at ? at.clientX - stage.left : stage.width / 2;
    const y = at ? at.clientY - stage.top : stage.height / 2;
    const box = this.canvas.getBoundingClientRect();
    const fx = (x - (box.left - stage.left)) / box.width;
    const fy = (y - (box.top - stage.top)) / box.height;
    this.apply(next);
    const after = this.canvas.getBoundingClientRect();
    this.stage.scrollLeft += after.left - stage.left + fx * after.width - x;
    this.stage.scrollTop += after.top - stage.top + fy * after.height - y;
  }

  apply(scale) {
    this.scale = scale;
    const { naturalWidth: w, naturalHeight: h } = this.image;
    // CSSOM, not a style attribute: the page's CSP allows only the former.
    this.canvas.style.width = `${Math.round(w * scale)}px`;
    this.canvas.style.height = `${Math.round(h * scale)}px`;
    const zoomed = scale > this.fit * 1.01;
    this.stage.classList.toggle("zoomed", zoomed);
    $("zoom-reset").textContent = `${Math.round(scale * 100)}%`;
    $("zoom-reset").setAttribute("aria-label", `Zoom ${Math.round(scale * 100)}%: back to the fitted size`);
    $("zoom-out").disabled = scale <= this.fit + 1e-6;
    $("zoom-in").disabled = scale >= MAX_ZOOM - 1e-6;
  }
}

// Draw a rectangle on the query photo to search only that region. The photo is shown whole
// (object-fit: contain) while cropping is possible, so screen positions map to photo fractions.

const MIN_SHARE = 0.04; // a drag smaller than this (a click) is not a box

export class RegionPicker {
  constructor({ image, box, onPick }) {
    this.image = image;
    this.box = box;
    this.onPick = onPick;
    this.enabled = false;
    this.start = null;
    image.addEventListener("pointerdown", (event) => this.begin(event));
    image.addEventListener("pointermove", (event) => this.drag(event));
    image.addEventListener("pointerup", (event) => this.end(event));
    image.addEventListener("dragstart", (event) => event.preventDefault());
  }

  enable(on) {
    this.enabled = on;
    this.image.classList.toggle("croppable", on);
    if (!on) this.show(null);
  }

  /** The photo's rectangle on screen inside the element (contain: centred, letterboxed). */
  content() {
    const rect = this.image.getBoundingClientRect();
    const { naturalWidth: w, naturalHeight: h } = this.image;
    const scale = Math.min(rect.width / w, rect.height / h);
    const width = w * scale;
    const height = h * scale;
    return { left: rect.left + (rect.width - width) / 2, top: rect.top + (rect.height - height) / 2, width, height };
  }

  fraction(event) {
    const c = this.content();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return { x: clamp((event.clientX - c.left) / c.width), y: clamp((event.clientY - c.top) / c.height) };
  }

  begin(event) {
    if (!this.enabled || !this.image.naturalWidth) return;
    this.start = this.fraction(event);
    this.image.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  drag(event) {
    if (!this.start) return;
    this.show(this.region(this.fraction(event)));
  }

  end(event) {
    if (!this.start) return;
    const region = this.region(this.fraction(event));
    this.start = null;
    if (region[2] - region[0] < MIN_SHARE || region[3] - region[1] < MIN_SHARE) {
      this.show(null);
      return;
    }
    this.show(region);
    this.onPick(region);
  }

  region(point) {
    const round = (v) => Math.round(v * 1000) / 1000;
    return [
      round(Math.min(this.start.x, point.x)),
      round(Math.min(this.start.y, point.y)),
      round(Math.max(this.start.x, point.x)),
      round(Math.max(this.start.y, point.y)),
    ];
  }

  /** Outline ``region`` (fractions) over the photo, or hide the outline. */
  show(region) {
    this.box.hidden = !region;
    if (!region) return;
    const c = this.content();
    const frame = this.image.parentElement.getBoundingClientRect();
    const [l, t, r, b] = region;
    Object.assign(this.box.style, {
      left: `${c.left - frame.left + l * c.width}px`,
      top: `${c.top - frame.top + t * c.height}px`,
      width: `${(r - l) * c.width}px`,
      height: `${(b - t) * c.height}px`,
    });
  }
}

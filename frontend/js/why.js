// "Why?" in the large view: where a result resembles the query, as a heat map over the result
// (inside the viewer's canvas, so it follows the zoom) and over a small copy of the query
// beside the legend. Asked on demand (POST /api/why runs the encoder on both photos: seconds
// on a CPU), kept per result while the query stays the same, hidden again by the same button
// or "Hide". The maps are each cell's share of the look similarity, 1 at the hottest.
import { api } from "./api.js";
import { $ } from "./dom.js";
import { messageFor } from "./messages.js";

// The colour scale, low to high: the legend's bar in app.css (.why-bar) shows the same stops.
const STOPS = [
  [0, [49, 54, 149, 0]],
  [0.3, [69, 117, 180, 0.25]],
  [0.55, [254, 224, 144, 0.5]],
  [0.8, [244, 109, 67, 0.65]],
  [1, [165, 0, 38, 0.75]],
];

function colourOf(value) {
  const v = Math.min(1, Math.max(0, value));
  let i = 1;
  while (i < STOPS.length - 1 && STOPS[i][0] < v) i += 1;
  const [a, from] = STOPS[i - 1];
  const [b, to] = STOPS[i];
  const t = (v - a) / (b - a || 1);
  return from.map((c, k) => c + (to[k] - c) * t);
}

/** Paint ``heat`` ({rows, cols, grid}) on ``canvas``, one pixel a cell: CSS stretches it over
 * the photo, smoothly. */
export function paintHeat(canvas, heat) {
  canvas.width = heat.cols;
  canvas.height = heat.rows;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(heat.cols, heat.rows);
  heat.grid.forEach((row, y) =>
    row.forEach((value, x) => {
      const [r, g, b, a] = colourOf(value);
      pixels.data.set([r, g, b, Math.round(a * 255)], (y * heat.cols + x) * 4);
    }),
  );
  context.putImageData(pixels, 0, 0);
}

/** A data: URL as a Blob (a search by address keeps only the server's preview of the photo). */
function blobOf(dataUrl) {
  const [head, data] = dataUrl.split(",", 2);
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: head.slice(5).split(";")[0] || "image/jpeg" });
}

/** What identifies a query: its file, stored id or preview (the answers kept are for it). */
const queryKey = (query) => query?.file ?? query?.queryId ?? query?.dataUrl ?? null;

export class WhyView {
  /** ``queryFor()``: the query now on screen, {file, src} or {queryId, src} or {dataUrl, src}
   * ({src}: what the page shows of it), or null where there is none (browsing). */
  constructor({ queryFor }) {
    this.queryFor = queryFor;
    this.button = $("why-button");
    this.panel = $("why-panel");
    this.status = $("why-status");
    this.error = $("why-error");
    this.body = $("why-body");
    this.overlay = $("why-heat");
    this.item = null;
    this.query = null;
    this.answers = new Map(); // result id -> answer, for this query
    this.asking = 0; // the latest request; older answers are dropped
    this.button.addEventListener("click", () => (this.open ? this.hide() : this.explain()));
    $("why-hide").addEventListener("click", () => {
      this.hide();
      this.button.focus();
    });
  }

  get open() {
    return this.button.getAttribute("aria-pressed") === "true";
  }

  /** The large view shows ``item`` (null: it closed): the maps of the last one go. */
  reset(item) {
    this.item = item;
    const query = item ? this.queryFor() : null;
    if (queryKey(query) !== queryKey(this.query)) this.answers.clear();
    this.query = query;
    this.button.hidden = !query || query.queryId === item?.id;
    this.hide();
  }

  hide() {
    this.asking += 1;
    this.button.setAttribute("aria-pressed", "false");
    this.panel.hidden = true;
    this.overlay.hidden = true;
  }

  async explain() {
    const item = this.item;
    const token = ++this.asking;
    this.button.setAttribute("aria-pressed", "true");
    this.panel.hidden = false;
    this.body.hidden = true;
    this.error.hidden = true;
    this.status.textContent = "Comparing the two photos…";
    this.panel.setAttribute("aria-busy", "true");
    let answer = this.answers.get(item.id);
    try {
      answer ??= await this.ask(item);
    } catch (error) {
      if (token !== this.asking) return;
      this.panel.removeAttribute("aria-busy");
      this.status.textContent = "";
      this.error.textContent = messageFor(error, "why");
      this.error.hidden = false;
      return;
    }
    if (token !== this.asking) return;
    this.answers.set(item.id, answer);
    this.panel.removeAttribute("aria-busy");
    this.status.textContent = "";
    this.show(answer);
  }

  ask(item) {
    const { file, queryId, dataUrl } = this.query;
    return api.why({ file: file ?? (dataUrl ? blobOf(dataUrl) : null), queryId, id: item.id });
  }

  show(answer) {
    const [query, result] = answer.heat;
    paintHeat(this.overlay, result);
    this.overlay.hidden = false;
    $("why-query-image").src = this.query.src;
    paintHeat($("why-query-heat"), query);
    this.body.hidden = false;
  }
}

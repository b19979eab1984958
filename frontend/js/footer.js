// The footer (index size and the model) and the banner when the index needs re-indexing.
import { $, element } from "./dom.js";
import { plural } from "./format.js";

export function renderFooter(stats) {
  const parts = [element("span", { textContent: `${plural(stats?.count ?? 0, "photo")} indexed` })];
  const model = stats?.encoder_model;
  if (model) {
    parts.push(element("span", { textContent: `${model.arch} · ${model.dim}-d · ${model.weights} weights` }));
    if (model.offline_backbone) {
      parts.push(
        element("span", {
          className: "badge warn",
          textContent: "offline backbone",
          title: "ResNet-152 weights could not be downloaded; EfficientNet-Lite0 (ImageNet) runs instead.",
        }),
      );
    }
    if (model.weights === "random") {
      parts.push(element("span", { className: "badge danger", textContent: "random weights: results are meaningless" }));
    }
    if (model.has_head) parts.push(element("span", { className: "badge", textContent: "fine-tuned" }));
  } else if (stats?.encoder_error) {
    parts.push(element("span", { className: "badge danger", textContent: "encoder unavailable" }));
  }
  const docs = element("a", { href: "/api/docs", textContent: "API" });
  parts.push(docs);
  $("footer").replaceChildren(...parts);
  $("banner").hidden = !stats?.reindex_needed;
  if (stats?.reindex_needed) {
    $("banner").textContent =
      "The index was built by another model than the encoder runs now, so photo search is off. " +
      "Re-index it: python -m scripts.jobs.ingest --reindex (or docker compose --profile tools run --rm ingest --reindex).";
  }
}

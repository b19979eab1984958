"""Writes what evaluate.py measured: report.json, report.md and plots (PNG, JPEG).

Plots per model: precision by breed (bars), a 2-D t-SNE map of the gallery embeddings coloured
by breed, and query/result strips (green frame: same breed as the query, red: another breed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from services.dataset import ImageFile
from services.imaging import decode_image

PRIVATE_KEYS = ("order", "gallery_vectors")
HEADLINE = [
    "p@1",
    "p@10",
    "map@10",
    "map@r",
    "breed_top1",
    "breed_top5",
    "is_dog_precision",
    "is_dog_recall",
]


def slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", Path(spec).stem if spec.endswith(".pt") else spec)[:40]


def write(
    report: dict, gallery: list[ImageFile], queries: list[ImageFile], out: Path, plots: bool = True
) -> None:
    public = {
        **report,
        "models": {
            spec: {k: v for k, v in result.items() if k not in PRIVATE_KEYS}
            for spec, result in report["models"].items()
        },
    }
    (out / "report.json").write_text(json.dumps(public, indent=2))
    (out / "report.md").write_text(markdown(public))
    if plots:
        for spec, result in report["models"].items():
            name = slug(spec)
            per_breed_bars(result["per_breed"], report["k"], out / f"per_breed_{name}.png")
            strips(result["order"], gallery, queries, out / f"strips_{name}.jpg")
            vectors = result["gallery_vectors"]
            if map_problem(vectors):
                (out / f"embedding_{name}.txt").write_text(f"no map: {map_problem(vectors)}\n")
            else:
                embedding_map(vectors, gallery, out / f"embedding_{name}.png")


def markdown(report: dict) -> str:
    gallery, queries = report["gallery"], report["queries"]
    lines = [
        "# Retrieval evaluation",
        "",
        f"Gallery: {gallery['images']} images ({gallery['split']} split); "
        f"queries: {queries['images']} images ({queries['split']} split); exact cosine ranking.",
        "",
    ]
    columns = [c for c in HEADLINE if any(c in r["metrics"] for r in report["models"].values())]
    lines.append("| model | " + " | ".join(columns) + " | encode s / 100 images |")
    lines.append("|---" * (len(columns) + 2) + "|")
    for spec, result in report["models"].items():
        metrics = result["metrics"]
        cells = [f"{metrics[c]:.3f}" if c in metrics else "" for c in columns]
        row = [spec, *cells, str(metrics["encode_s_per_100_images"])]
        lines.append("| " + " | ".join(row) + " |")
    for spec, result in report["models"].items():
        worst = sorted(result["per_breed"].items(), key=lambda item: item[1]["p@1"])[:10]
        lines += ["", f"## {spec}", "", "Lowest P@1 by breed:", ""]
        lines += [f"- {breed}: P@1 {v['p@1']:.2f} ({v['queries']} queries)" for breed, v in worst]
        lines += ["", f"Most confused breed pairs in the top {report['k']}:", ""]
        lines += [
            f"- {a} / {b}: {p['count']}" for p in result["confused_pairs"] for a, b in [p["breeds"]]
        ]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_breed_bars(per_breed: dict, k: int, path: Path) -> None:
    plt = _pyplot()
    items = sorted(per_breed.items(), key=lambda item: item[1]["p@1"])
    height = max(3.0, 0.18 * len(items) + 1)
    figure, axis = plt.subplots(figsize=(8, height))
    names = [name for name, _ in items]
    axis.barh(names, [v[f"p@{k}"] for _, v in items], color="#f0a860", label=f"P@{k}")
    axis.barh(names, [v["p@1"] for _, v in items], height=0.4, color="#8a4b08", label="P@1")
    axis.set_xlim(0, 1)
    axis.set_xlabel("precision")
    axis.tick_params(axis="y", labelsize=7)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def map_problem(vectors: np.ndarray) -> str | None:
    """Why t-SNE cannot map these vectors, or ``None``: a degenerate model (diverged, random)
    gives vectors that are all alike, on which scikit-learn's t-SNE crashes the process."""
    if len(vectors) < 5:
        return f"{len(vectors)} vectors are too few to map"
    finite = vectors[np.isfinite(vectors).all(axis=1)]
    distinct = len(np.unique(np.round(finite, 5), axis=0))
    return None if distinct >= 5 else f"only {distinct} distinct vectors (a degenerate model?)"


def embedding_map(vectors: np.ndarray, gallery: list[ImageFile], path: Path, limit=1500) -> None:
    from sklearn.manifold import TSNE

    plt = _pyplot()
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(vectors), min(limit, len(vectors)), replace=False))
    points = TSNE(
        n_components=2, perplexity=min(30, max(2, len(chosen) // 4)), init="pca", random_state=0
    ).fit_transform(vectors[chosen])
    breeds = sorted({gallery[i].breed for i in chosen})
    colour = {breed: i for i, breed in enumerate(breeds)}
    figure, axis = plt.subplots(figsize=(7, 7))
    axis.scatter(
        points[:, 0], points[:, 1], s=6, cmap="tab20", c=[colour[gallery[i].breed] for i in chosen]
    )
    if len(breeds) <= 20:
        for breed in breeds:
            mine = points[[gallery[i].breed == breed for i in chosen]]
            axis.annotate(breed, mine.mean(axis=0), fontsize=8, ha="center")
    axis.set_title(f"t-SNE of {len(chosen)} gallery embeddings, {len(breeds)} breeds")
    axis.set_xticks([])
    axis.set_yticks([])
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def strips(
    order: np.ndarray,
    gallery: list[ImageFile],
    queries: list[ImageFile],
    path: Path,
    rows: int = 6,
    results: int = 8,
    size: int = 112,
) -> None:
    picks = np.linspace(0, len(queries) - 1, min(rows, len(queries))).astype(int)
    sheet = Image.new("RGB", (size * (results + 1) + 12, size * len(picks)), "white")
    for row, q in enumerate(picks):
        y = row * size
        sheet.paste(_tile(queries[q].path, size, "#333333"), (0, y))
        for col, g in enumerate(order[q][:results]):
            same = gallery[g].breed == queries[q].breed
            sheet.paste(
                _tile(gallery[g].path, size, "#2e9e44" if same else "#c62828"),
                (size * (col + 1) + 12, y),
            )
    sheet.save(path, quality=85)


def _tile(path: Path, size: int, frame: str) -> Image.Image:
    tile = ImageOps.fit(decode_image(path.read_bytes()).image, (size, size))
    ImageDraw.Draw(tile).rectangle((0, 0, size - 1, size - 1), outline=frame, width=4)
    return tile

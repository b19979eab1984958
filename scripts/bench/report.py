"""The benchmark's report: each target judged from numbers of the same run, and the
README's tables (``bench.py --markdown``)."""

from __future__ import annotations

TARGETS = {
    "encoder_service_efficiency": 0.80,  # service / bare images/s at the best batch size
    "upload_p50_over_forward": 1.3,  # upload search p50 / one forward pass at batch 1 (issue 27)
    "similar_p50_ms_at_20k": 20.0,
    "similar_p50_over_milvus_at_20k": 1.3,  # end to end / its Milvus requests (issue 27)
    "ingest_over_encoder": 0.90,
    "similar_per_s_20_clients": 50.0,
    "upload_p50_after_add_over_at_rest": 1.5,  # read-your-writes costs at most half again
}


def service_baseline(report: dict) -> dict[int, float]:
    """The bare images/s of the backend the service runs: the service is judged against it."""
    encoder = report["encoder"]
    if str(report.get("environment", {}).get("backend", "")).startswith("onnxruntime"):
        return encoder.get("bare_onnx_images_per_s") or encoder["bare_images_per_s"]
    return encoder["bare_images_per_s"]


def summarise(report: dict, args) -> dict:
    """Each target as measured / goal, from numbers taken in this very run."""
    checks: dict[str, dict] = {}
    encoder = report.get("encoder", {})
    if encoder.get("service_images_per_s"):
        bare, service = service_baseline(report), encoder["service_images_per_s"]
        best = max(bare, key=lambda size: bare[size])
        checks["encoder_service_efficiency"] = {
            "value": round(service[best] / bare[best], 3),
            "at_batch": best,
            "per_batch": {size: round(service[size] / bare[size], 3) for size in bare},
        }
    searches = {row["size"]: row for row in report.get("search", [])}
    if searches and encoder.get("bare_images_per_s", {}).get(1):
        forward_ms = 1000 / service_baseline(report)[1]  # one forward pass of what the service runs
        smallest = searches[min(searches)]
        checks["upload_p50_over_forward"] = {
            "value": round(smallest["upload"]["p50_ms"] / forward_ms, 2),
            "forward_ms": round(forward_ms, 2),
            "at_size": smallest["size"],
        }
        if "upload_with_dogs" in smallest:  # as the page asks: not judged, shown beside
            checks["upload_p50_over_forward"]["with_dogs"] = round(
                smallest["upload_with_dogs"]["p50_ms"] / forward_ms, 2
            )
    after_add = [row for row in searches.values() if "upload_after_add" in row]
    if after_add:
        row = after_add[-1]
        checks["upload_p50_after_add_over_at_rest"] = {
            "value": round(row["upload_after_add"]["p50_ms"] / row["upload"]["p50_ms"], 2),
            "after_add_ms": row["upload_after_add"]["p50_ms"],
            "at_rest_ms": row["upload"]["p50_ms"],
            "at_size": row["size"],
        }
    near_20k = min(searches, key=lambda size: abs(size - 20_000)) if searches else None
    if near_20k is not None:
        checks["similar_p50_ms_at_20k"] = {
            "value": searches[near_20k]["similar"]["p50_ms"],
            "at_size": near_20k,
        }
    if near_20k is not None and searches[near_20k]["similar_milvus"]["p50_ms"]:
        row = searches[near_20k]
        checks["similar_p50_over_milvus_at_20k"] = {
            "value": round(row["similar"]["p50_ms"] / row["similar_milvus"]["p50_ms"], 2),
            "milvus_ms": row["similar_milvus"]["p50_ms"],
            "fetch_ms": row.get("similar_fetch", {}).get("p50_ms"),
            "search_ms": row.get("similar_search", {}).get("p50_ms"),
            "at_size": near_20k,
        }
    if args.load_size in searches and "concurrent_similar" in searches[args.load_size]:
        load = searches[args.load_size]["concurrent_similar"]
        checks["similar_per_s_20_clients"] = {
            "value": load["requests_per_s"],
            "errors": load["errors"],
            "at_size": args.load_size,
        }
    if "ingest" in report and encoder.get("service_images_per_s"):
        service = encoder["service_images_per_s"]
        at = args.ingest_batch if args.ingest_batch in service else max(service)
        checks["ingest_over_encoder"] = {
            "value": round(report["ingest"]["images_per_s"] / service[at], 3),
            "encoder_images_per_s": service[at],
        }
    for name, check in checks.items():
        goal = TARGETS[name]
        lower_is_better = name in (
            "upload_p50_over_forward",
            "similar_p50_ms_at_20k",
            "similar_p50_over_milvus_at_20k",
            "upload_p50_after_add_over_at_rest",
        )
        check["target"] = goal
        check["met"] = check["value"] <= goal if lower_is_better else check["value"] >= goal
    return checks


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"Measured {env['date']} on {env['device']} ({env['cpu_count']} CPU cores, torch "
        f"{env['torch']}, {env['threads']} threads), {env['arch']} ({env['weights']} weights).",
        "",
    ]
    encoder = report.get("encoder")
    if encoder:
        onnx = encoder.get("bare_onnx_images_per_s", {})
        baseline = service_baseline(report)
        lines += [
            "| batch | bare torch img/s | bare ONNX Runtime img/s | encoder service img/s "
            f"({env.get('backend', '?')}) | service / bare of its backend |",
            "|---|---|---|---|---|",
        ]
        for size, bare in encoder["bare_images_per_s"].items():
            service = encoder.get("service_images_per_s", {}).get(size)
            ratio = f"{service / baseline[size]:.2f}" if service else "-"
            lines.append(
                f"| {size} | {bare} | {onnx.get(size, '-')} | {service or '-'} | {ratio} |"
            )
        lines.append("")
        prep = encoder["decode_preprocess_p50"]
        lines.append(
            "Decode + preprocess per image (p50): "
            + ", ".join(f"{name} {ms} ms" for name, ms in prep.items())
        )
        lines.append("")
    if report.get("search"):
        lines += [
            "| vectors | more like this p50 / p95 ms | of which Milvus requests p50 "
            "(read + search) | numpy brute force p50 | recall@10 | upload p50 ms "
            "(encode + Milvus) |",
            "|---|---|---|---|---|---|",
        ]
        for row in report["search"]:
            lines.append(
                f"| {row['size']:,} | {row['similar']['p50_ms']} / {row['similar']['p95_ms']} "
                f"| {row['similar_milvus']['p50_ms']} | {row['brute_force_numpy']['p50_ms']} "
                f"| {row['recall_at_10']} | {row['upload']['p50_ms']} "
                f"({row['upload_encode']['p50_ms']} + {row['upload_milvus']['p50_ms']}) |"
            )
        lines.append("")
    if report.get("ingest"):
        lines.append(f"Ingest: {report['ingest']['images_per_s']} img/s end to end.")
        lines.append("")
    if report.get("targets"):
        lines += ["| target | measured | goal | met |", "|---|---|---|---|"]
        for name, check in report["targets"].items():
            met = "yes" if check["met"] else "**no**"
            where = f" (measured at {check['at_size']:,})" if "at_size" in check else ""
            lines.append(f"| {name}{where} | {check['value']} | {check['target']} | {met} |")
    return "\n".join(lines) + "\n"

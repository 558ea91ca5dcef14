"""A bar chart (PNG) and a small HTML page of benchmark results."""
from __future__ import annotations

import html
from pathlib import Path

from keras_fer.io_utils import atomic_path, write_text


def write_chart(results, png_path, html_path=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']} / aug {r['augment']} / {r['precision']}"
              + (f" / {r['devices']} devices" if r.get("devices", 1) != 1 else "") for r in results]
    values = [r["img_per_s"] for r in results]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(results) + 1.2))
    bars = ax.barh(range(len(values)), values,
                   color=["tab:orange" if r["augment"] == "on" else "tab:blue" for r in results])
    ax.set_yticks(range(len(values)), labels)
    ax.invert_yaxis()
    ax.bar_label(bars, fmt="%.0f", padding=3)
    ax.set_xlabel("training images / s (steady epoch)")
    if results:
        ax.set_title(f"keras_fer.bench: {results[0]['backend']} on {results[0]['device']}, "
                     f"batch {results[0]['batch_size']}", fontsize=9)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    if html_path is None:
        return
    head = "".join(f"<th>{k}</th>" for k in results[0]) if results else ""
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
                   for r in results)
    write_text(html_path, f"<!doctype html><meta charset='utf-8'><title>keras_fer bench</title>"
                          f"<h1>Training throughput</h1><img src='{Path(png_path).name}'>"
                          f"<table border=1 cellpadding=4><tr>{head}</tr>{rows}</table>\n")

"""The model card (``saved_models/best/README.md``) of a release: every number in it is read
from the release's own files (``meta.json``, ``summary.json``, ``eval/report*.json``,
``export/parity.json``), so the card cannot disagree with what ``evaluate`` reproduces.

It opens with a Hugging Face-style YAML header (``front_matter``: license, datasets, metrics,
library), one ``key: value`` a line, each value plain or JSON (which YAML reads as flow style),
and names no local path: the runs it was made from are ``runs/<name>``, as its commands make them.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

WEAK_F1 = 0.5  # a class whose PrivateTest F1 is below this is listed under "Known limits"
WEIGHTS_LICENSE = "apache-2.0"  # the repository's LICENSE; the weights are released under it
LICENSE_TEXT = (
    "The weights are released under the Apache License 2.0, as is keras_fer's code (`LICENSE`). "
    "They were trained on FER2013 (Goodfellow et al. 2013), which was published for the Kaggle "
    "competition *Challenges in Representation Learning: Facial Expression Recognition "
    "Challenge* (ICML 2013) and is obtained under that competition's rules, which everyone who "
    "downloads it accepts; it carries no open license of its own, and its images, found by web "
    "searches, belong to their owners. This license cannot grant rights in FER2013: whoever "
    "uses the weights beyond research and education (commercially, say) should check FER2013's "
    "terms first.")


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


def _metrics_table(reports) -> list:
    lines = ["| split | test-time augmentation | accuracy | macro-F1 | weighted F1 | average accuracy "
             "| images |",
             "|---|---|---|---|---|---|---|"]
    for mode, report in reports.items():
        for split, m in report["splits"].items():
            lines.append(f"| {split} | {mode} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
                         f"{m['weighted_f1']:.4f} | {m['average_accuracy']:.4f} | {m['n']:,} |")
    return lines


def _per_class_table(report) -> list:
    private, public = report["splits"]["PrivateTest"], report["splits"]["PublicTest"]
    lines = ["| class | PrivateTest images | precision | recall | F1 | PublicTest F1 |",
             "|---|---|---|---|---|---|"]
    for name, c in private["per_class"].items():
        lines.append(f"| {name} | {c['support']} | {c['precision']:.3f} | {c['recall']:.3f} | "
                     f"{c['f1']:.3f} | {public['per_class'][name]['f1']:.3f} |")
    return lines


def _parity_lines(parity) -> list:
    lines = []
    if "savedmodel" in parity:
        sm = parity["savedmodel"]
        lines.append(f"- SavedModel: largest probability difference from `model.keras` "
                     f"{sm['max_abs_diff']:.1e} (tolerance {sm['tolerance']:.0e}): "
                     f"{'passes' if sm['ok'] else 'FAILS'}.")
    if "tflite_float16" in parity:
        lines.append(f"- TFLite float16: top-1 agreement {_pct(parity['tflite_float16']['top1_agreement'])}.")
    if "tflite_int8" in parity:
        q = parity["tflite_int8"]
        differ = ""
        if q.get("disagreements"):
            differ = (f"; {q['disagreements']} images differ, where the float model's top two "
                      f"probabilities are a median {q['disagreement_gap_median']:.3f} apart")
        rule = (f"{_pct(q['clear_agreement'])} on the {q['clear_images']} images where the "
                f"float model's top two probabilities are at least {q['near_tie']} apart; the "
                f"check asks for {_pct(q['min_agreement'])} there and "
                f"{_pct(q['min_agreement_all'])} overall")
        lines.append(f"- TFLite int8: top-1 agreement {_pct(q['top1_agreement'])} ({rule}{differ}): "
                     f"{'passes' if q['ok'] else 'FAILS: prefer the SavedModel or float16'}.")
    return lines + [f"- Parity images: {parity.get('images', 0)} from `{parity.get('source', '')}`."]


def _weak_classes(report) -> list:
    """The classes under WEAK_F1 on PrivateTest, each with the class it is most often taken for."""
    m = report["splits"]["PrivateTest"]
    names = list(report["classes"])
    weak = []
    for n, c in sorted(m["per_class"].items(), key=lambda nc: nc[1]["f1"]):
        if c["f1"] >= WEAK_F1:
            continue
        row = list(m["confusion"][names.index(n)])
        row[names.index(n)] = -1
        other = max(range(len(row)), key=row.__getitem__)
        weak.append(f"{n} (PrivateTest F1 {c['f1']:.2f}, recall {c['recall']:.2f}, {c['support']} "
                    f"images; most often taken for {names[other]}: {row[other] / max(c['support'], 1):.0%})")
    return weak


def front_matter(model, reports, tta) -> list:
    """The card's YAML header lines (``---`` ... ``---``): license, library, datasets, metrics
    and a ``model-index`` of the PrivateTest figures; values are JSON, which YAML reads too."""
    private = {mode: r["splits"]["PrivateTest"] for mode, r in reports.items()}
    metrics = [{"type": "accuracy", "value": round(float(private["none"]["accuracy"]), 4),
                "name": "PrivateTest accuracy"},
               {"type": "f1", "value": round(float(private["none"]["macro_f1"]), 4),
                "name": "PrivateTest macro-F1"},
               {"type": "accuracy", "value": round(float(private[tta]["accuracy"]), 4),
                "name": f"PrivateTest accuracy, {tta} test-time augmentation"}]
    index = [{"name": f"keras_fer {model}", "results": [{
        "task": {"type": "image-classification", "name": "Facial expression recognition"},
        "dataset": {"type": "fer2013", "name": "FER2013", "split": "PrivateTest"},
        "metrics": metrics}]}]
    fields = {"license": WEIGHTS_LICENSE, "library_name": "keras",
              "pipeline_tag": "image-classification",
              "tags": ["keras", "keras-fer", "facial-expression-recognition", "tflite", "litert"],
              "datasets": ["fer2013"], "metrics": ["accuracy", "f1"], "model-index": index}
    return ["---", *(f"{k}: {v if isinstance(v, str) else json.dumps(v)}"
                     for k, v in fields.items()), "---"]


def portable(path) -> str:
    """``path`` as the card may name it: relative paths as they are; an absolute one (a local
    folder of the machine that made the release) relative to the current folder when under
    it, else by its name alone."""
    p = Path(str(path))
    if not p.is_absolute():
        return str(path)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return p.name


def _source_name(path, steps) -> str:
    """``runs/<name>`` of a source run, as the card's commands make it (``lineage``)."""
    from keras_fer.release.lineage import run_names

    try:
        return f"runs/{run_names([path], steps)[0]}"
    except KeyError:  # not in the lineage: its name, never the machine's folder
        return f"runs/{Path(str(path)).name}"


def _recipe(config, steps) -> dict:
    """The released run's config for the card, its sources renamed ``runs/<name>``."""
    cfg = {k: v for k, v in config.to_dict().items() if k not in ("out", "data")}
    if cfg.get("init_from"):
        cfg["init_from"] = _source_name(cfg["init_from"], steps)
    if (cfg.get("distill") or {}).get("teacher"):
        cfg["distill"] = {**cfg["distill"], "teacher": _source_name(cfg["distill"]["teacher"], steps)}
    return cfg


def _source_rows(config, own_hours, steps, made_from_hours=None) -> list:
    """Rows naming the runs the model was made from: its teacher, the run it started from;
    ``own_hours``: the released run's own training CPU-hours (0 for an ensemble);
    ``made_from_hours``: the total with its sources', when theirs are unknown (a card rendered
    again from a release whose source runs are gone: ``rerender_card``)."""
    from keras_fer.release.lineage import LINEAGE_DIR, total_cpu_hours

    rows = []
    if config.distill:
        teacher, alpha, temperature = config.distill_settings()
        rows.append(f"| distilled from | `{_source_name(teacher, steps)}` (alpha {alpha:g}, "
                    f"temperature {temperature:g}) |")
    if config.init_from:
        rows.append(f"| fine-tuned from | `{_source_name(config.init_from, steps)}` (its weights "
                    "start the training) |")
    if steps:
        total = total_cpu_hours(own_hours, steps)
        total = made_from_hours if total is None else total
        rows.append(f"| made from | {', '.join(f'`{s.name}`' for s in steps)}; recipes in "
                    f"`{LINEAGE_DIR}/`"
                    + (f"; {total:.2f} training CPU-hours with them" if total is not None else "")
                    + " |")
    return rows


def _how_made(meta, summary, config, steps, recipe_arg, data) -> dict:
    """The card's pieces that differ between a trained run and an ensemble of runs (which has no
    recipe of its own, selected nothing itself and is made by ``keras_fer.ensemble``)."""
    from keras_fer.release.lineage import run_names, source_flags

    if meta.get("model") != "ensemble":
        cfg = _recipe(config, steps)
        return {
            "selection": f"the epoch with the best `{config.monitor}` on {config.val} (epoch "
                         f"{meta.get('best_epoch', '?')} of {summary.get('epochs_run', '?')})",
            "data": f"{_count(summary.get('train_images'))} Training images train; "
                    f"{_count(summary.get('val_images'))} "
                    f"{'PublicTest' if config.val == 'PublicTest' else 'held-out Training'} "
                    "images validate and select the checkpoint",
            "make": f"python -m keras_fer.train --config {recipe_arg}"
                    f"{source_flags(config, steps)} --data {data} --out runs/release",
            "recipe": ["Recipe (`config.json`):", "", "```json", json.dumps(cfg, indent=1), "```"],
            "seed": "`seed` below",
            "own_hours": summary.get("train_cpu_hours")}
    members = run_names(meta.get("ensemble", []), steps)
    chosen = ", ".join(f"`{name}` epoch {m.get('best_epoch', '?')}"
                       for name, m in zip(members, summary.get("members", [{}] * len(members))))
    return {
        "selection": f"none of its own: the average of {len(members)} runs' probabilities, each "
                     f"at its own best epoch on its validation split ({chosen})",
        "data": "its members trained on Training and selected their checkpoints on their "
                "validation split (recipes in `lineage/`)",
        "make": f"python -m keras_fer.ensemble {' '.join('runs/' + m for m in members)} "
                "--out runs/release",
        "recipe": ["No recipe of its own: it averages its members' probabilities; their recipes "
                   "are in `lineage/`."],
        "seed": "each member's `seed`, in its recipe",
        "own_hours": 0.0}  # its summary's hours are its members', counted in the lineage


def render_card(*, meta, summary, config, reports, parity, out, data, recipe=None, notes=None,
                lineage=(), warnings=(), released=None, made_from_hours=None) -> str:
    """The card's markdown. ``reports``: {"none": report, tta: report} from evaluate_run;
    ``lineage``: the Steps the run was made from (``keras_fer.release.lineage``); ``warnings``:
    why this release should not be trusted (``make_release(force=True)``), at the card's top;
    ``released``: its date (default today); ``made_from_hours``: see ``_source_rows``."""
    from keras_fer.release.lineage import commands

    out, data = Path(portable(out)), portable(data)
    recipe = portable(recipe) if recipe else None
    plain = reports["none"]
    tta = next(mode for mode in reports if mode != "none")
    private = plain["splits"]["PrivateTest"]
    model = meta.get("model", config.model)
    seconds = meta.get("train_seconds")
    trained_on = meta.get("device", "machine not recorded")
    if meta.get("finished"):
        trained_on += f", finished {meta['finished']}"
    how = _how_made(meta, summary, config, lineage, recipe or str(out / "config.json"), data)
    lines = [
        *front_matter(model, reports, tta),
        f"# Model card: `{model}` on FER2013",
        "",
        *[f"> **WARNING: {w}.**" for w in warnings],
        *([""] if warnings else []),
        f"A facial-expression classifier trained from scratch with keras_fer. PrivateTest "
        f"accuracy **{private['accuracy']:.4f}** (macro-F1 {private['macro_f1']:.4f}) without "
        f"test-time augmentation, **{reports[tta]['splits']['PrivateTest']['accuracy']:.4f}** with "
        f"{tta}. Every figure below is read from this folder's files and reproduced by the commands "
        f"under *Reproduce*.",
        "",
        "| | |", "|---|---|",
        f"| model | `{model}`, {summary.get('parameters', 'n/a'):,} parameters |"
        if isinstance(summary.get("parameters"), int) else f"| model | `{model}` |",
        f"| input | a face crop, grayscale, "
        f"{'x'.join(str(d) for d in meta.get('input_shape', [48, 48, 1])[:2])} "
        f"(the SavedModel takes images of any size, 1 or 3 channels, uint8 or float pixel values "
        f"in [0, 255]) |",
        f"| output | {len(plain['classes'])} classes: {', '.join(plain['classes'])}. `model.keras` "
        f"outputs **logits** (apply a softmax for probabilities); the SavedModel's `serve`, the "
        f"TFLite models and `keras_fer.load()` give probabilities |",
        f"| license | weights: {WEIGHTS_LICENSE}; data: FER2013's terms (see *License*) |",
        f"| trained on | {trained_on}; Keras {meta.get('keras', '?')}, backend {meta.get('backend', '?')}"
        + (f"; {seconds / 60:.1f} min of training" if isinstance(seconds, (int, float)) else "")
        + (f", {summary['train_cpu_hours']:.2f} CPU-hours (process CPU time, all cores)"
           if isinstance(summary.get("train_cpu_hours"), (int, float)) else "") + " |",
        f"| selection | {how['selection']}; PrivateTest chose nothing |",
        *_source_rows(config, how["own_hours"], lineage, made_from_hours),
        f"| released | {released or time.strftime('%Y-%m-%d')} |",
        "",
        *(["## Notes", "", notes.strip(), ""] if notes else []),
        "## Data",
        "",
        f"FER2013 (`{data}`), 48x48 grayscale faces: {how['data']}; PrivateTest "
        f"({_count(private['n'])} images) is only reported.",
        "",
        "## Metrics",
        "",
        *_metrics_table(reports),
        "",
        "Per class, no test-time augmentation:",
        "",
        *_per_class_table(plain),
        "",
        "![PrivateTest confusion matrix](eval/confusion_PrivateTest.png) ",
        "![PublicTest confusion matrix](eval/confusion_PublicTest.png)",
        "",
        "![training curves](curves.png)",
        "",
        "## Export",
        "",
        "`export/savedmodel` (signature `serve`: uint8 or float [0, 255] images in; `probabilities`, "
        "`class_index`, `class_name` out)"
        + (", `export/model_float16.tflite`, `export/model_int8.tflite`." if "tflite_int8" in parity
           else "; TFLite is left out to keep the release under 100 MB (`python -m keras_fer.export` "
                "makes it).")
        + " Parity with `model.keras`:",
        "",
        *_parity_lines(parity),
        *(["", "`keras_fer.load()` runs `export/model_int8.tflite` through LiteRT (no TensorFlow "
           "needed; the wheel carries only this format); `engine=\"keras\"` or "
           "`\"savedmodel\"` runs the float32 model of a checkout or a run directory."]
          if "tflite_int8" in parity else []),
        "",
        "## Reproduce",
        "",
        "```",
        *commands(lineage, out, data),
        how["make"],
        f"python -m keras_fer.release runs/release --data {data} --out {out} --force",
        "# the metrics above, from this folder, on any machine (CPU is fine); the reports go to",
        f"# runs/eval/{out.name}: a release is read-only",
        f"python -m keras_fer.evaluate {out} --data {data} --split PublicTest,PrivateTest",
        f"python -m keras_fer.evaluate {out} --data {data} --split PublicTest,PrivateTest --tta {tta}",
        "```",
        "",
        f"Training is seeded ({how['seed']}) but not bit-for-bit deterministic across machines; "
        "the evaluation of this folder's `model.keras` is.",
        "",
        *how["recipe"],
        "",
        "## Known limits",
        "",
    ]
    weak = _weak_classes(plain)
    if weak:
        lines.append("- Weak classes: " + "; ".join(weak) + ".")
    lines += [
        "- FER2013's labels are noisy (human accuracy on it is about 65 ± 5%, Goodfellow et al. "
        "2013); its faces are web images, 48x48 grayscale, skewed in age, pose and ethnicity.",
        "- It classifies the whole image it is given: pass a face crop, or use "
        "`python -m keras_fer.predict` to detect faces first.",
        "- An expression is not an emotion: do not use it to make decisions about people.",
        "",
        "## License",
        "",
        LICENSE_TEXT,
    ]
    return "\n".join(lines) + "\n"

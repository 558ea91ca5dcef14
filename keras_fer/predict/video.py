"""Prediction on videos and live streams: one code path from frames to per-frame rows.

A video file, a camera (``--camera 0``) and a stream URL are all read by ``frames`` (an OpenCV
capture) and classified by ``frame_rows``: each frame on its largest face (or the whole frame
with ``--no-detect``); a frame without a face gets a row with an empty box and no label.
Smoothing is causal, as a live app needs it: a trailing mean of the probabilities over the last
K frames that had a face (``TrailingMean``). A file gets a per-frame CSV/JSON, an emotion bar
chart and an annotated video (``predict_video``); a stream gets one JSON line per frame
(``keras_fer.predict.live``).
"""
from __future__ import annotations

import collections
import csv
import errno
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.io_utils import atomic_path, disk_full_is_user_error, write_json, write_text

FILE_CHUNK = 32  # frames of a file classified in one batch (a live stream: 1, for latency)


class TrailingMean:
    """Causal smoothing: the mean of the last ``k`` probability vectors given to ``update``.

    Example:
        >>> s = TrailingMean(2)
        >>> s.update([1.0, 0.0]), s.update([0.0, 1.0])
        (array([1., 0.]), array([0.5, 0.5]))
    """

    def __init__(self, k):
        self.window = collections.deque(maxlen=max(1, int(k)))

    def update(self, probs) -> np.ndarray:
        self.window.append(np.asarray(probs, "float64"))
        return np.mean(self.window, axis=0)


def moving_average(probs, k) -> np.ndarray:
    """Trailing mean over the last ``k`` rows (fewer at the start) of ``probs`` (n, classes)."""
    probs = np.asarray(probs, "float64")
    if k <= 1 or len(probs) == 0:
        return probs
    smoother = TrailingMean(k)
    return np.stack([smoother.update(p) for p in probs])


def capture_source(source):
    """A camera index ("0" -> 0) or anything else OpenCV opens (file, URL, device path)."""
    text = str(source)
    return int(text) if text.isdigit() else text


def quiet_ffmpeg() -> None:
    """Keep FFmpeg's own lines ("moov atom not found") and OpenCV's warnings ("FFmpeg: Failed
    to write frame", once per frame on a full disk) off stderr, beside our one-line error,
    unless ``--verbose`` or the user's ``OPENCV_FFMPEG_LOGLEVEL`` (read at the first capture)."""
    if "--verbose" in sys.argv or "OPENCV_FFMPEG_LOGLEVEL" in os.environ:
        return
    os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "-8"  # AV_LOG_QUIET
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def frames(source, what="video"):
    """(fps, frame count or 0, generator of RGB frames) of an OpenCV capture: a video file, a
    camera index, a device or a stream URL; UserError when OpenCV cannot open it."""
    quiet_ffmpeg()
    import cv2

    cap = cv2.VideoCapture(capture_source(source))
    if not cap.isOpened():
        raise UserError(f"{source}: cannot read {what} (OpenCV could not open it)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def gen():
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    return float(fps), max(total, 0), gen()


def frame_rows(predictor, rgb_frames, fps, smooth=1, chunk=FILE_CHUNK, clock=None):
    """Yield one row per frame: ``{"frame", "time", "box", "label"}`` and, with a face,
    ``"probabilities"`` (this frame's) and, when ``smooth`` > 1, ``"smoothed"`` (the trailing
    mean that chose ``label``).

    Frames are detected one by one and their faces classified ``chunk`` frames at a time; a
    row is yielded before frame ``chunk + 1`` after it is read, so ``chunk=1`` answers each
    frame of a live stream at once. ``time`` is ``frame / fps``, or with ``clock`` (a live
    stream) the seconds since the first frame by that clock.
    """
    smoother = TrailingMean(smooth)
    classes = predictor.classes
    start = None
    pending = []  # (row, box, face) of the frames read but not yet classified

    def flush():
        found = [(row, box, face) for row, box, face in pending if box is not None]
        raw = predictor.proba(np.stack([face for _, _, face in found])) if found else []
        for (row, box, _), probs in zip(found, raw):
            smoothed = smoother.update(probs)
            row.update(predictor.record(smoothed, box))
            row["probabilities"] = {c: float(p) for c, p in zip(classes, probs)}
            if smooth > 1:
                row["smoothed"] = {c: float(p) for c, p in zip(classes, smoothed)}
        rows = [row for row, _, _ in pending]
        pending.clear()
        return rows

    for i, rgb in enumerate(rgb_frames):
        now = clock() if clock else None
        start = now if start is None else start
        seconds = now - start if clock else i / fps
        boxes, faces = predictor.faces(rgb)
        row = {"frame": i, "time": round(seconds, 4), "box": None, "label": None}
        pending.append((row, boxes[0], faces[0]) if boxes else (row, None, None))
        if len(pending) >= chunk:
            yield from flush()
    yield from flush()


def _progress(path, i, total):
    if sys.stderr.isatty():
        print(f"\r{path}: frame {i}/{total or '?'}", end="", file=sys.stderr, flush=True)


def output_stems(paths, reserved=()) -> dict:
    """{path: the stem of its output files}, distinct for every path (case-insensitively, and
    from ``reserved``): the file's stem, or, when two videos share it (cam1/clip.mp4,
    cam2/clip.avi), the path parts that tell them apart joined by "_" (cam1_clip_mp4,
    cam2_clip_avi), so that no video's results replace another's."""
    paths = [Path(p) for p in paths]
    key = str.casefold
    counts = {}
    for p in paths:
        counts[key(p.stem)] = counts.get(key(p.stem), 0) + 1
    taken, stems = {key(r) for r in reserved}, {}
    for p in paths:
        if counts[key(p.stem)] == 1 and key(p.stem) not in taken:
            stem = p.stem
        else:
            same = [q for q in paths if key(q.stem) == key(p.stem)]
            root = os.path.commonpath([str(q.absolute().parent) for q in same])
            parts = p.absolute().relative_to(root).with_suffix("").parts
            stem = "_".join([*parts, p.suffix.lstrip(".")] if p.suffix else parts)
        unique, n = stem, 1
        while key(unique) in taken:
            n += 1
            unique = f"{stem}-{n}"
        taken.add(key(unique))
        stems[p] = unique
    return stems


def output_files(out_dir, stem, annotate=True) -> dict:
    """{"csv", "json", "chart"[, "video"]: path} of a video's results in ``out_dir``."""
    stem = Path(out_dir) / stem
    files = {"csv": f"{stem}.csv", "json": f"{stem}.json", "chart": f"{stem}_emotions.png"}
    if annotate:
        files["video"] = f"{stem}_annotated.mp4"
    return files


def predict_video(predictor, path, out_dir, smooth=1, annotate=True, stem=None) -> dict:
    """Classify every frame of a video and write ``<stem>.csv``, ``<stem>.json``,
    ``<stem>_emotions.png`` and ``<stem>_annotated.mp4`` into ``out_dir`` (``stem``: default
    the video's; see ``output_stems`` for several videos). The JSON is written last; on a full
    disk none of them is left (``keras_fer.io_utils.disk_full_is_user_error``).

    Returns the summary (the JSON without its per-frame rows).
    """
    fps, total, gen = frames(path)
    rows = []
    for row in frame_rows(predictor, gen, fps, smooth):
        rows.append(row)
        _progress(path, len(rows), total)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if not rows:
        raise UserError(f"{path}: no frames could be read")
    # a truncated file: say so, the rows are what was read (some containers only estimate
    # their frame count: a few frames short is no sign of damage)
    if total and len(rows) < total - max(1, total // 100):
        print(f"warning: {path}: {len(rows)} of its {total} frames could be read (a truncated "
              "or damaged file?)", file=sys.stderr, flush=True)
    classes = predictor.classes
    labels = [r["label"] for r in rows if r["label"]]
    files = output_files(out_dir, stem or Path(path).stem, annotate)
    summary = {"input": str(path), "fps": fps, "frames": len(rows), "frames_with_face": len(labels),
               "smooth": smooth, "classes": classes,
               "distribution": {c: labels.count(c) for c in classes}, "files": files}
    with disk_full_is_user_error(out_dir, *files.values()):
        write_text(files["csv"], rows_csv(rows, classes, smooth))
        bar_chart(summary["distribution"], files["chart"], title=Path(path).name)
        if annotate:
            write_annotated(path, rows, fps, files["video"])
        write_json(files["json"], dict(summary, rows=rows))
    return summary


def rows_csv(rows, classes, smooth) -> str:
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    smoothed = [f"smoothed_{c}" for c in classes] if smooth > 1 else []
    writer.writerow(["frame", "time", "x", "y", "w", "h", "label", *classes, *smoothed])
    for r in rows:
        cells = [r["frame"], r["time"], *(r["box"] or [""] * 4), r["label"] or ""]
        for key, names in (("probabilities", classes), ("smoothed", smoothed)):
            cells += [f"{r[key][c]:.6f}" for c in classes] if key in r else [""] * len(names)
        writer.writerow(cells)
    return buf.getvalue()


def bar_chart(distribution, path, title="") -> None:
    """PNG bar chart of how many frames got each emotion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, counts = list(distribution), list(distribution.values())
    total = max(1, sum(counts))
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bars = ax.bar(names, counts, color="tab:blue")
    for bar, n in zip(bars, counts):
        ax.annotate(f"{100 * n / total:.0f}%", (bar.get_x() + bar.get_width() / 2, n),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("frames")
    ax.set_title(f"Predicted emotion per frame: {title} ({sum(counts)} frames with a face)",
                 fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_annotated(path, rows, fps, out_path) -> None:
    """The video again with each frame's face box and label drawn on it (mp4v)."""
    _, _, gen = frames(path)  # first: it quiets FFmpeg and OpenCV
    import cv2

    writer = None
    with atomic_path(out_path) as tmp:
        try:
            for row, rgb in zip(rows, gen):
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                if writer is None:
                    h, w = bgr.shape[:2]
                    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                writer.write(draw(bgr, row))
        finally:
            if writer is not None:
                writer.release()
        # OpenCV's writer reports no error: a full disk leaves a file without its index (the
        # "moov atom"), which must not reach the final name
        written = cv2.VideoCapture(tmp)
        count = int(written.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if written.isOpened() else 0
        written.release()
        if writer is not None and count == 0:
            if shutil.disk_usage(os.path.dirname(os.path.abspath(tmp))).free < 1 << 20:
                raise OSError(errno.ENOSPC, "No space left on device", out_path)
            raise UserError(f"{out_path}: OpenCV could not write the annotated video (no mp4v "
                            "codec?); pass --no-video to leave it out")


def draw(bgr, row):
    """Draw a row's face box and label (with its smoothed probability) on a BGR frame."""
    import cv2

    if row["box"] is not None:
        x, y, bw, bh = row["box"]
        p = (row.get("smoothed") or row["probabilities"])[row["label"]]
        cv2.rectangle(bgr, (x, y), (x + bw - 1, y + bh - 1), (0, 255, 0), 2)
        cv2.putText(bgr, f"{row['label']} {p:.2f}", (x + 2, max(12, y - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1, cv2.LINE_AA)
    return bgr

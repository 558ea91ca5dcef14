"""Prediction on videos and live streams: one code path from frames to per-face rows.

A video file, a camera (``--camera 0``) and a stream URL are all read by ``frames`` (an OpenCV
capture) and classified by ``frame_rows``: every face of every frame (or the whole frame with
``--no-detect``), each with a track id that follows it from frame to frame (``Tracker``: IoU
matching); a frame without a face gets one row with an empty box and no label. Smoothing is
per track and causal, as a live app needs it: a trailing mean of the probabilities over the last
K frames in which that track had a face (``TrailingMean``). A file gets per-face CSV, JSON
lines and a JSON summary, an emotion bar chart and an annotated video (``predict_video``); a
stream gets one JSON line per face and frame (``keras_fer.predict.live``).
"""
from __future__ import annotations

import collections
import csv
import errno
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from keras_fer.errors import UserError
from keras_fer.io_utils import atomic_path, disk_full_is_user_error, write_json, write_text
from keras_fer.predict.faces import iou

FILE_CHUNK = 32  # frames of a file classified in one batch (a live stream: 1, for latency)
MIN_IOU = 0.3  # a face continues a track whose last box it overlaps at least this much
MAX_MISSING = 15  # frames a track waits for its face (a missed detection, a turned head)


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


class Tracker:
    """Track ids by IoU: each frame's faces are matched to the live tracks, best overlap first
    (one face per track, IoU >= ``min_iou`` with the track's last box); a face left over starts
    a new track (ids 0, 1, 2, ... in order of appearance); a track unseen for more than
    ``max_missing`` frames ends. Each track keeps its own ``TrailingMean(smooth)``.

    Example:
        >>> t = Tracker()
        >>> t.assign([(0, 0, 10, 10), (50, 0, 10, 10)]), t.assign([(51, 1, 10, 10)])
        ([0, 1], [1])
    """

    def __init__(self, smooth=1, min_iou=MIN_IOU, max_missing=MAX_MISSING):
        self.smooth, self.min_iou, self.max_missing = smooth, min_iou, max_missing
        self.tracks = {}  # id -> {"box", "seen" (frame index), "smoother"}
        self.frame = -1
        self.next_id = 0

    def assign(self, boxes) -> list:
        """Track ids of one frame's ``boxes`` (x, y, w, h), in their order."""
        self.frame += 1
        self.tracks = {k: t for k, t in self.tracks.items()
                       if self.frame - t["seen"] <= self.max_missing + 1}
        pairs = sorted(((iou(b, t["box"]), i, k) for i, b in enumerate(boxes)
                        for k, t in self.tracks.items()), key=lambda p: (-p[0], p[1], p[2]))
        ids = [None] * len(boxes)
        for score, i, k in pairs:
            if score >= self.min_iou and ids[i] is None and k not in ids:
                ids[i] = k
        for i, box in enumerate(boxes):
            if ids[i] is None:
                ids[i], self.next_id = self.next_id, self.next_id + 1
                self.tracks[ids[i]] = {"smoother": TrailingMean(self.smooth)}
            self.tracks[ids[i]].update(box=tuple(box), seen=self.frame)
        return ids

    def update(self, track, probs) -> np.ndarray:
        """The trailing mean of ``track``'s probabilities, ``probs`` included."""
        return self.tracks[track]["smoother"].update(probs)


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


def frame_results(predictor, rgb_frames, fps, smooth=1, chunk=FILE_CHUNK, clock=None):
    """Yield, per frame, its rows: one per face, ``{"frame", "time", "track", "box",
    "confidence", "crop_box"[, "keypoints"], "label", "probabilities"}`` (``probabilities``:
    this frame's; with ``smooth`` > 1 also ``"smoothed"``, the track's trailing mean that chose
    ``label``), largest face first; a frame without a face: ``[{"frame", "time", "track": None,
    "box": None, "label": None}]``.

    Frames are detected one by one and their faces classified ``chunk`` frames at a time; a
    frame's rows are yielded before frame ``chunk + 1`` after it is read, so ``chunk=1`` answers
    each frame of a live stream at once. ``time`` is ``frame / fps``, or with ``clock`` (a live
    stream) the seconds since the first frame by that clock.
    """
    tracker = Tracker(smooth)
    classes = predictor.classes
    start = None
    pending = []  # (frame index, seconds, faces found, uint8 faces) read but not classified

    def flush():
        crops = [f for *_, f in pending if len(f)]
        raw = iter(predictor.proba(np.concatenate(crops)) if crops else [])
        for i, seconds, found, _ in pending:
            base = {"frame": i, "time": round(seconds, 4)}
            if not found:
                yield [dict(base, track=None, box=None, label=None)]
                continue
            rows = []
            for face, track in zip(found, tracker.assign([f["box"] for f in found])):
                probs = next(raw)
                smoothed = tracker.update(track, probs)
                row = predictor.record(smoothed, face, **base, track=track)
                row["probabilities"] = {c: float(p) for c, p in zip(classes, probs)}
                if smooth > 1:
                    row["smoothed"] = {c: float(p) for c, p in zip(classes, smoothed)}
                rows.append(row)
            yield rows
        pending.clear()

    for i, rgb in enumerate(rgb_frames):
        now = clock() if clock else None
        start = now if start is None else start
        pending.append((i, now - start if clock else i / fps, *predictor.faces(rgb)))
        if len(pending) >= chunk:
            yield from flush()
    yield from flush()


def frame_rows(predictor, rgb_frames, fps, smooth=1, chunk=FILE_CHUNK, clock=None):
    """The rows of ``frame_results``, one after another."""
    for rows in frame_results(predictor, rgb_frames, fps, smooth, chunk, clock):
        yield from rows


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
    """{"csv", "jsonl", "json", "chart"[, "video"]: path} of a video's results in ``out_dir``."""
    stem = Path(out_dir) / stem
    files = {"csv": f"{stem}.csv", "jsonl": f"{stem}.jsonl", "json": f"{stem}.json",
             "chart": f"{stem}_emotions.png"}
    if annotate:
        files["video"] = f"{stem}_annotated.mp4"
    return files


def predict_video(predictor, path, out_dir, smooth=1, annotate=True, stem=None) -> dict:
    """Classify every face of every frame of a video and write ``<stem>.csv`` and
    ``<stem>.jsonl`` (one row per face and frame, ``frame_results``), ``<stem>.json`` (the
    summary and the rows), ``<stem>_emotions.png`` and ``<stem>_annotated.mp4`` into
    ``out_dir`` (``stem``: default the video's; see ``output_stems`` for several videos). The
    JSON is written last; on a full disk none of them is left
    (``keras_fer.io_utils.disk_full_is_user_error``).

    Returns the summary (the JSON without its rows): ``frames``, ``frames_with_face``,
    ``faces`` (rows with a face), ``tracks``, and the ``distribution`` of labels over faces.
    """
    fps, total, gen = frames(path)
    per_frame = []
    for rows in frame_results(predictor, gen, fps, smooth):
        per_frame.append(rows)
        _progress(path, len(per_frame), total)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if not per_frame:
        raise UserError(f"{path}: no frames could be read")
    # a truncated file: say so, the rows are what was read (some containers only estimate
    # their frame count: a few frames short is no sign of damage)
    if total and len(per_frame) < total - max(1, total // 100):
        print(f"warning: {path}: {len(per_frame)} of its {total} frames could be read (a "
              "truncated or damaged file?)", file=sys.stderr, flush=True)
    rows = [r for frame in per_frame for r in frame]
    classes = predictor.classes
    labels = [r["label"] for r in rows if r["label"]]
    files = output_files(out_dir, stem or Path(path).stem, annotate)
    summary = {"input": str(path), "fps": fps, "frames": len(per_frame),
               "frames_with_face": sum(frame[0]["label"] is not None for frame in per_frame),
               "faces": len(labels), "tracks": len({r["track"] for r in rows if r["label"]}),
               "smooth": smooth, "classes": classes,
               "distribution": {c: labels.count(c) for c in classes}, "files": files}
    with disk_full_is_user_error(out_dir, *files.values()):
        write_text(files["csv"], rows_csv(rows, classes, smooth))
        write_text(files["jsonl"], "".join(json.dumps(r) + "\n" for r in rows))
        bar_chart(summary["distribution"], files["chart"], title=Path(path).name)
        if annotate:
            write_annotated(path, per_frame, fps, files["video"])
        write_json(files["json"], dict(summary, rows=rows))
    return summary


def rows_csv(rows, classes, smooth) -> str:
    """CSV of ``frame_results`` rows: frame, time, track, x, y, w, h (the face box),
    confidence, label, one column per class (and ``smoothed_<class>`` with ``smooth`` > 1)."""
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    smoothed = [f"smoothed_{c}" for c in classes] if smooth > 1 else []
    writer.writerow(["frame", "time", "track", "x", "y", "w", "h", "confidence", "label",
                     *classes, *smoothed])
    for r in rows:
        confidence = "" if r.get("confidence") is None else f"{r['confidence']:.4f}"
        cells = [r["frame"], r["time"], "" if r["track"] is None else r["track"],
                 *(r["box"] or [""] * 4), confidence, r["label"] or ""]
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


def write_annotated(path, per_frame, fps, out_path) -> None:
    """The video again with each frame's face boxes, track ids and labels drawn on it (mp4v)."""
    _, _, gen = frames(path)  # first: it quiets FFmpeg and OpenCV
    import cv2

    writer = None
    with atomic_path(out_path) as tmp:
        try:
            for rows, rgb in zip(per_frame, gen):
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                if writer is None:
                    h, w = bgr.shape[:2]
                    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                writer.write(draw(bgr, rows))
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


def draw(bgr, rows):
    """Draw a frame's face boxes with their track id, label and (smoothed) probability on a
    BGR frame."""
    import cv2

    for row in rows:
        if row["box"] is None:
            continue
        x, y, bw, bh = row["box"]
        p = (row.get("smoothed") or row["probabilities"])[row["label"]]
        cv2.rectangle(bgr, (x, y), (x + bw - 1, y + bh - 1), (0, 255, 0), 2)
        cv2.putText(bgr, f"#{row['track']} {row['label']} {p:.2f}", (x + 2, max(12, y - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1, cv2.LINE_AA)
    return bgr

"""Live video: a camera, a device or a stream URL (anything OpenCV captures) -> one JSON line
per face and frame on stdout (each face with its track id), with causal smoothing per track,
and an annotated window where OpenCV has a GUI.

The frames go through ``keras_fer.predict.video.frame_results``, the code that classifies video
files, one frame at a time (a frame's lines are written as soon as it is classified).

Example::

    keras-fer predict --camera 0                  # the first camera
    keras-fer predict --camera rtsp://host/stream --no-window --frames 300
"""
from __future__ import annotations

import json
import os
import sys
import time

from keras_fer.predict.video import draw, frame_results, frames

WINDOW = "keras_fer"
QUIT_KEYS = (ord("q"), 27)  # q or Esc closes the window and ends the stream
STALL_S = 10.0  # a last read this slow ended a stalled stream (OpenCV gives up after 30 s)


def open_window() -> bool:
    """Whether an OpenCV window could be opened: OpenCV built with a GUI (the headless wheel
    has none) and, on Linux, a display to show it on."""
    import cv2

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        return False
    return True


def stream(predictor, source, smooth=5, window=True, max_frames=None, out=None) -> dict:
    """Classify a live source frame by frame and write one JSON line (a ``frame_results`` row)
    per face and frame (one for a frame without a face) to ``out`` (stdout).

    Args:
        predictor: a ``keras_fer.predict.Predictor``.
        source: a camera index ("0"), a device path, a stream URL or a video file.
        smooth: frames in the trailing mean of the probabilities (1: none).
        window: show the annotated frames where OpenCV can (q or Esc ends the stream).
        max_frames: stop after this many frames (None: at the end of the stream).
        out: a text stream for the JSON lines (default sys.stdout).

    Returns:
        ``{"source", "frames", "frames_with_face", "seconds", "fps", "window", "stalled_s"}``;
        fps counts reading, detection, classification and writing; ``stalled_s``: the seconds
        the last read waited in vain when the stream ended by stalling (else None).
    """
    import cv2

    out = sys.stdout if out is None else out
    fps, _, gen = frames(source, what="stream")
    shown = window and open_window()
    last = {}

    def remember(rgbs):  # chunk=1: the row of a frame comes before the next frame is read
        asked = time.perf_counter()
        for rgb in rgbs:
            last["rgb"] = rgb
            yield rgb
            asked = time.perf_counter()
        last["wait"] = time.perf_counter() - asked  # how long the read that ended it took

    count = with_face = 0
    start = time.perf_counter()
    try:
        for rows in frame_results(predictor, remember(gen), fps, smooth, chunk=1,
                                  clock=time.perf_counter):
            out.write("".join(json.dumps(row) + "\n" for row in rows))
            out.flush()
            count += 1
            with_face += rows[0]["label"] is not None
            if shown:
                cv2.imshow(WINDOW, draw(cv2.cvtColor(last["rgb"], cv2.COLOR_RGB2BGR), rows))
                if cv2.waitKey(1) & 0xFF in QUIT_KEYS:
                    break
            if max_frames is not None and count >= max_frames:
                break
    finally:
        gen.close()  # releases the capture
        if shown:
            cv2.destroyWindow(WINDOW)
    seconds = time.perf_counter() - start
    stalled = last.get("wait", 0.0) >= STALL_S
    return {"source": str(source), "frames": count, "frames_with_face": with_face,
            "seconds": round(seconds, 3), "fps": round(count / seconds, 2) if seconds else None,
            "window": shown, "stalled_s": round(last["wait"], 1) if stalled else None}

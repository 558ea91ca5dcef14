"""predict's outputs: never over an input, never over an existing file without --force, never
the output folder read back as input; a full disk, an image over PIL's pixel limit, a truncated
video and a stalled stream are each one line."""
import errno
import hashlib
import json
from importlib import import_module

import cv2
from PIL import Image

fake = import_module("keras_fer_tests_fake_run")  # loaded by conftest.py


def _video(path, n=6, codec="mp4v"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10.0, (48, 48))
    for face in fake.synthetic_faces(n, seed=3)[0]:
        writer.write(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _err_lines(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_an_output_never_replaces_an_input_even_with_force(run_dir, tmp_path, capsys):
    from keras_fer.predict.cli import main

    folder = tmp_path / "talks"
    folder.mkdir()
    _video(folder / "talk.mp4")
    _video(folder / "talk_annotated.mp4", n=3)  # the user's own file, not ours
    (folder / "other.csv").write_text("mine\n")
    before = _snapshot(folder)
    for extra in ([], ["--force"]):
        assert main([str(run_dir), str(folder), "--out", str(folder), "--no-detect", *extra]) == 2
        assert _err_lines(capsys) == [f"error: {folder / 'talk_annotated.mp4'}: an output would "
                                      "replace this input; choose another --out"]
        assert _snapshot(folder) == before


def test_an_existing_output_needs_force_and_the_output_folder_is_never_read(run_dir, tmp_path,
                                                                           capsys):
    from keras_fer.predict.cli import main

    folder = tmp_path / "clips"
    folder.mkdir()
    _video(folder / "clip.mp4")
    out = folder / "out"
    args = [str(run_dir), str(folder), "--out", str(out), "--no-detect"]
    assert main(args) == 0
    capsys.readouterr()
    first = _snapshot(folder)
    assert main(args) == 2
    assert _err_lines(capsys) == [f"error: {out / 'clip.csv'}: exists (an earlier prediction's, "
                                  "or another file); pass --force to replace it, or choose "
                                  "another --out"]
    assert _snapshot(folder) == first
    assert main([*args, "--force"]) == 0  # out/clip_annotated.mp4 is not read as an input
    assert sorted(p.name for p in out.iterdir()) == [
        "clip.csv", "clip.json", "clip.jsonl", "clip_annotated.mp4", "clip_emotions.png"]
    assert json.loads((out / "clip.json").read_text())["frames"] == 6


def test_a_full_disk_is_one_line_naming_the_folder_and_leaves_no_partial_file(
        run_dir, tmp_path, monkeypatch, capsys):
    import keras_fer.predict.video as video
    from keras_fer.predict.cli import main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(video, "bar_chart", full)  # after the CSV was written
    clip, out = _video(tmp_path / "clip.mp4"), tmp_path / "out"
    assert main([str(run_dir), str(clip), "--out", str(out), "--no-detect"]) == 2
    assert _err_lines(capsys) == [f"error: {out}: no space left on the device (disk full); the "
                                  "partial files were removed: free some space and run again"]
    assert list(out.iterdir()) == []


def test_an_unreadable_annotated_video_never_gets_its_final_name(run_dir, tmp_path, monkeypatch,
                                                                 capsys):
    import shutil

    import keras_fer.predict.video as video
    from keras_fer.predict.cli import main

    class Writer:  # what OpenCV leaves on a full disk: a file without its index
        def __init__(self, path, *args):
            self.path = path

        def write(self, frame):
            with open(self.path, "ab") as f:
                f.write(b"\0" * 64)

        def release(self):
            pass

    clip, out = _video(tmp_path / "clip.mp4"), tmp_path / "out"
    monkeypatch.setattr(cv2, "VideoWriter", Writer)
    monkeypatch.setattr(video.shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(100, 100, 0))
    assert main([str(run_dir), str(clip), "--out", str(out), "--no-detect"]) == 2
    assert _err_lines(capsys)[-1].startswith(f"error: {out}: no space left on the device")
    assert list(out.iterdir()) == []


def test_an_image_over_the_pixel_limit_is_one_line_and_the_rest_are_predicted(
        run_dir, tmp_path, monkeypatch, capsys):
    from keras_fer.predict.cli import main

    faces, _ = fake.synthetic_faces(2, seed=5)
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    Image.fromarray(faces[0]).resize((200, 200)).save(big)
    Image.fromarray(faces[1]).save(small)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 200x200 is over twice the limit
    assert main([str(run_dir), str(big), str(small), "--no-detect"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: {big}: cannot read image (Image "
                                                     "size (40000 pixels) exceeds limit")
    assert captured.out.startswith(f"{small}: face 0 at (0,0,48x48): ")


def test_a_truncated_video_says_how_many_frames_were_read(run_dir, tmp_path, capsys):
    from keras_fer.predict.cli import main

    clip = _video(tmp_path / "clip.avi", n=40, codec="MJPG")
    data = clip.read_bytes()
    clip.write_bytes(data[:int(len(data) * 0.4)])
    assert main([str(run_dir), str(clip), "--out", str(tmp_path / "out"), "--no-detect",
                 "--no-video", "--json"]) == 0
    captured = capsys.readouterr()
    frames = json.loads(captured.out)["videos"][0]["frames"]
    assert 0 < frames < 40
    assert captured.err.strip().splitlines() == [
        f"warning: {clip}: {frames} of its 40 frames could be read (a truncated or damaged "
        "file?)"]


def test_a_stalled_stream_is_said_and_exits_2(run_dir, tmp_path, monkeypatch, capsys):
    import time

    import keras_fer.predict.live as live
    from keras_fer.predict.cli import main

    faces, _ = fake.synthetic_faces(3, seed=1)

    def frames(source, what="video"):
        def gen():
            for face in faces:
                yield cv2.cvtColor(face, cv2.COLOR_GRAY2RGB)
            time.sleep(0.3)  # OpenCV's read waits, then gives up

        return 10.0, 0, gen()

    monkeypatch.setattr(live, "frames", frames)
    monkeypatch.setattr(live, "STALL_S", 0.2)
    assert main([str(run_dir), "--camera", "rtsp://cam/stream", "--no-detect", "--no-window"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: rtsp://cam/stream: the stream stalled: no frame came for ")
    assert err[-1].endswith(" s, so it was ended")


def test_force_is_what_the_release_message_says_it_is(run_dir, tmp_path, capsys):
    import shutil

    from keras_fer import rundir
    from keras_fer.predict.cli import main

    release = shutil.copytree(run_dir, tmp_path / "best")
    (release / rundir.RELEASE_FILE).write_text("{}")
    clip = _video(tmp_path / "clip.mp4")
    args = [str(release), str(clip), "--no-detect", "--no-video", "--out", str(release / "p")]
    assert main(args) == 2
    assert "pass --force to change the release" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert (release / "p" / "clip.json").is_file()

"""The map figures as rendered PNGs: no empty band between the title and the column titles."""
import numpy as np
import pytest

from keras_fer.visualize import plots


def _longest_white_run_above_cells(path):
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    ink = (rgb < 245).any(axis=2)  # non-white pixels per (row, column)
    first_cell_row = int(np.flatnonzero(ink.mean(axis=1) > 0.5)[0])  # the image cells start
    rows = ink[:first_cell_row].any(axis=1)
    text_rows = np.flatnonzero(rows)
    gaps = np.diff(text_rows) - 1  # white rows between lines of text (title, column titles)
    return int(gaps.max()) if len(gaps) else 0, first_cell_row


@pytest.mark.parametrize("n_rows", [2, 14])
def test_no_empty_band_above_the_column_titles(tmp_path, n_rows):
    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 255, (n_rows, 44, 44))
    maps = rng.random((n_rows, 44, 44))
    flat = maps.copy()
    flat[0] = 0  # a constant map: drawn as the bare face, marked
    cols = [("face", None, "face"), ("trained\n|gradient|", maps, "abs"), ("Grad-CAM", flat, "cam")]
    fig = plots.map_grid(faces, cols, [f"#{i}" for i in range(n_rows)], "Saliency - best - class: x")
    assert [t.get_text() for t in fig.axes[0].texts] == ["constant\nmap"]
    plots.save(fig, tmp_path / "grid.png")
    gap, top = _longest_white_run_above_cells(tmp_path / "grid.png")
    assert gap < 12 and top < 80, (gap, top)  # title, then the two-line column titles, then cells

"""scripts/cascade.py, behind issue 38's cascade figures: the small model answers its most
confident share of the faces, the big one the rest; scored by hand on made-up probabilities."""
import numpy as np


def test_the_small_model_answers_its_most_confident_share(load_script):
    small = np.array([[0.9, 0.1],   # confident, right
                      [0.2, 0.8],   # confident, wrong
                      [0.6, 0.4],   # unsure, wrong
                      [0.55, 0.45]])  # least sure, right
    big = np.array([[0.1, 0.9],     # wrong
                    [0.9, 0.1],     # right
                    [0.3, 0.7],     # right
                    [0.4, 0.6]])    # wrong
    labels = np.array([0, 0, 1, 0])
    rows = load_script("cascade").sweep(small, big, labels, [0.0, 0.25, 0.5, 1.0])
    # by confidence: faces 0 (0.9), 1 (0.8), 2 (0.6), 3 (0.55)
    assert [(r["share"], r["cut"], r["accuracy"], r["small_there"], r["big_there"]) for r in rows] == [
        (0.0, None, 0.5, None, None),   # the big one alone: faces 1, 2
        (0.25, 0.9, 0.75, 1.0, 0.0),    # face 0 by the small one (right), 1, 2 by the big one
        (0.5, 0.8, 0.5, 0.5, 0.5),      # faces 0, 1 small (1 of 2), 2 big (right), 3 big (wrong)
        (1.0, 0.55, 0.5, 0.5, 0.5)]     # the small one alone: faces 0, 3

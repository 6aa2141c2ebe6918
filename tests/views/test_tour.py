"""The tour."""


import numpy as np
import torch

from conftest import MAIN
from ui import common
from ui.state import CTX
from ui.views import tour
from vae_core import latent


def test_the_tour_cannot_step_past_its_ends():
    first, last = tour.show_step(0), tour.show_step(len(tour.STEPS) - 1)
    assert first[4].interactive is False and first[5].interactive is True  # Back, Next
    assert last[4].interactive is True and last[5].interactive is False


def test_the_tours_map_leaves_out_the_codes_past_its_edge_instead_of_piling_them_on_it(mnist):
    emb = CTX.registry.embedding("mnist-z2", common.need_test_images("mnist-z2"))
    extent = latent.plane_extent(emb.mu)
    assert (np.abs(emb.mu) > extent).any()  # the shipped 2-D model has a few such codes
    dots = tour._dots("mnist-z2", MAIN)[:tour.CANVAS]
    coloured = dots.min(axis=2) < 200
    for edge, inner in ((coloured[:, :3], coloured[:, 3:6]), (coloured[:, -3:], coloured[:, -6:-3]),
                        (coloured[:3], coloured[3:6]), (coloured[-3:], coloured[-6:-3])):
        assert edge.sum() <= inner.sum() + 27  # no pile-up: the edge holds about as many dots as the band inside


def test_the_tours_walk_goes_between_typical_digits_of_its_two_classes():
    """The walk's ends are typical of their classes: the test set's first of a class, which it used, can be far
    from it (its first 3 and first 8 are less typical than 90% and 94% of theirs; that 3 is so round that the
    walk from it looked like 8s all the way)."""
    found, labels = common.concepts_of(MAIN), CTX.test_labels(MAIN)
    mu = CTX.registry.embedding(MAIN, CTX.test_images(MAIN)).mu
    for digit in tour.WALK:
        pick, same = tour._typical(MAIN, digit), torch.nonzero(labels == digit)[:, 0].numpy()
        assert int(labels[pick]) == digit
        likeness = found.per_class(torch.from_numpy(mu[same]))[:, digit].numpy()
        mine = found.per_class(torch.from_numpy(mu[[pick]]))[0, digit].item()
        assert (likeness < mine).mean() >= 0.9

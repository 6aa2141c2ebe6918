"""The How it works view."""


import numpy as np

from conftest import MAIN
from ui import diagram
from ui.state import CTX
from ui.views import how_it_works
from vae_core import data


def test_how_it_works_opens_on_the_models_own_encoder_code_decoder_picture(mnist):
    picture = how_it_works.pipeline_picture(MAIN)
    assert picture.shape == (diagram.HEIGHT, diagram.WIDTH, 3)
    digit = data.to_float(CTX.test_images(MAIN)[how_it_works.EXAMPLE:how_it_works.EXAMPLE + 1])[0, 0].numpy()
    tile = picture[60:60 + diagram.DIGIT_SIDE, 20:20 + diagram.DIGIT_SIDE, 0]
    step = diagram.DIGIT_SIDE / 28
    sampled = tile[(np.arange(28) * step + step / 2).astype(int)][:, (np.arange(28) * step + step / 2).astype(int)]
    assert np.abs(sampled / 255 - digit).max() < 0.01  # the test digit itself, on the left
    left, top, right, bottom = diagram.CODE_BOX
    assert (picture[top + 1:bottom, left + 1:right].min(axis=2) < 60).any()  # the code's bars are drawn

"""The Plotly figures (ui/figures.py)."""


import numpy as np



def test_every_number_of_the_code_is_marked_whatever_the_scale():
    """A square on the axis for each number, grey if unused, blue if in use: drawn as a stub scaled to the
    chart, an unused one was a hair nobody saw next to a tall bar (and once stood above the least used blue
    bars), and at β = 8 the least used blue bars were hairs too."""
    from ui import figures
    kl = np.array([40.0, 0.002, 6.0, 0.0001, 0.01, 0.0])
    active = np.array([True, False, True, False, True, False])
    fig = figures.kl_bars(kl, active)
    bars, squares = fig.data
    assert list(bars.x) == ["1", "3", "5", "2", "4", "6"] and list(bars.y) == sorted(kl, reverse=True)  # true heights
    assert list(squares.x) == list(bars.x) and set(squares.y) == {0} and squares.cliponaxis is False
    assert list(squares.marker.color) == list(bars.marker.color) == ["#0072B2"] * 3 + ["#999"] * 3
    assert list(squares.customdata) == ["in use"] * 3 + ["unused"] * 3  # what a tap on one says
    assert "3 of 6 numbers in use (grey squares: unused)" in fig.layout.title.text


def test_beta_labels_of_models_side_by_side_do_not_cover_each_other():
    """The ladder keeps its labels above its points; a model trained at β = 1.2 beside the ladder's β = 1
    (and one at β = 1 again, on top of it) takes a free place instead of writing over the rung's label."""
    from ui import figures
    ladder = [dict(name=f"rung{b}", beta=b, rate=r, distortion=d, ladder=True)
              for b, r, d in [(0.1, 71.0, 41.3), (0.5, 38.5, 50.6), (1, 23.4, 65.8), (2, 18.7, 71.2),
                              (4, 11.9, 89.9), (8, 5.8, 124.4)]]
    fig = figures.rate_distortion(ladder, "rung1")
    assert [t.textposition for t in fig.data[1:]] == ["top center"] * 6
    mine = [dict(name="mine", beta=1.2, rate=22.6, distortion=66.9), dict(name="again", beta=1, rate=23.4, distortion=65.9)]
    fig = figures.rate_distortion(ladder + mine, "mine")
    places = {t.name: t.textposition for t in fig.data[1:]}
    assert len({places["rung1"], places["mine"], places["again"]}) == 3, places

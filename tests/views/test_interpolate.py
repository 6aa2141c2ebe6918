"""The Interpolate view."""



from conftest import MAIN
from ui.views import interpolate


def test_a_long_interpolation_wraps_into_rows_that_stay_readable(mnist):
    a = interpolate._test_digit(MAIN, 0)[0]
    b = interpolate._test_digit(MAIN, 1)[0]
    strip, _, animation, files = interpolate.interpolate(MAIN, a, b, 16, "linear")
    assert strip["columns"] == 8 and len(strip["codes"]) == len(strip["pixels"]) == 16  # two rows of eight
    assert animation["animate"] and animation["codes"] == strip["codes"]
    ends = strip["walk"]["ends"]
    assert ends[0] == strip["codes"][0] and ends[1] == strip["codes"][-1]  # the browser walks again from these
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == ["interpolation.gif", "interpolation.png"]

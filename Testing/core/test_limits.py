"""Input size limits: each refusal names the limit and the option that lifts it."""

import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.limits import InputLimits, check_limits
from conftest import make_image


def test_a_head_sized_oblique_anisotropic_volume_passes():
    check_limits(make_image(size=(200, 180, 40), spacing=(0.9, 1.1, 4.0)), "t2")


@pytest.mark.parametrize("size, spacing, message", [
    ((48, 48, 48), (0.1, 0.1, 0.1), r"t1ce: spacing 0\.1 mm is below the limit of 0\.2 mm \(--min-spacing-mm\)"),
    ((256, 256, 180), (10.0, 10.0, 10.0), r"field of view 2560x2560x1800 mm exceeds the limit of 500 mm \(--max-extent-mm\)"),
    ((200, 200, 4), (1.0, 1.0, 3.0), r"field of view 200x200x12 mm is below the limit of 20 mm"),
])
def test_volumes_outside_the_limits_are_refused(size, spacing, message):
    with pytest.raises(InputError, match=message):
        check_limits(make_image(size=size, spacing=spacing), "t1ce")


def test_every_limit_can_be_lifted():
    image = make_image(size=(48, 48, 48), spacing=(0.1, 0.1, 0.1))
    check_limits(image, "t1ce", InputLimits(min_spacing_mm=0.05, min_extent_mm=4.0))
    with pytest.raises(InputError, match=r"110592 voxels .* exceed the limit of 1000 \(--max-voxels\)"):
        check_limits(image, "t1ce", InputLimits(max_voxels=1000))

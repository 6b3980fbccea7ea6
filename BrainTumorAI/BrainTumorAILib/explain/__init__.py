"""Class-activation maps (MONAI CAM / Grad-CAM) made into images with the input's geometry."""

from .activation_maps import ensemble_cam, normalise_unit

__all__ = ["ensemble_cam", "normalise_unit"]

"""The one exception type for bad input: the CLI turns it into `error: ...` and exit status 2."""


class InputError(Exception):
    """Bad input named in one line (missing volume, 2D/4D image, NaNs, ROI outside, bad weights)."""

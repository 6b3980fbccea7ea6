"""What the MRML logic raises: one clear, one-line message the panel can show as is."""


class BrainTumorAIError(RuntimeError):
    """Bad input or a failed background run; the scene is left as it was."""


class RunCancelled(BrainTumorAIError):
    """The user cancelled the background run."""

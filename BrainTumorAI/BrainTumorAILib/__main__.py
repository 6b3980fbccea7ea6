"""`python -m BrainTumorAILib` (how the Slicer module starts the core with Slicer's Python)."""

import sys

from .cli import main

sys.exit(main())

"""BrainTumorAI's MRML logic (no Qt): runs in Slicer and on the slicer-core wheel alike."""

from .errors import BrainTumorAIError, RunCancelled
from .followup_logic import BrainTumorAIFollowupLogic, FollowupResults, FollowupStudy
from .logic import AnalysisRun, BrainTumorAILogic, RunResults
from .panel_state import guess_input_volumes, parameter_node
from .sequence_names import sequence_of_name
from .training_logic import BrainTumorAITrainingLogic

__all__ = [
    "AnalysisRun", "BrainTumorAIError", "BrainTumorAIFollowupLogic", "BrainTumorAILogic", "FollowupResults",
    "FollowupStudy", "BrainTumorAITrainingLogic", "RunCancelled",
    "RunResults", "guess_input_volumes", "parameter_node", "sequence_of_name",
]

"""JSON progress lines: fractions of the whole job, never going backwards."""

import io
import json

from BrainTumorAILib.progress import Progress


def test_a_part_that_starts_over_does_not_move_the_job_backwards():
    stream = io.StringIO()
    progress = Progress("json", stream=stream)
    preprocessing = progress.child(0.0, 0.5)
    preprocessing.update("registration", 0.4, "t2 to t1ce")
    preprocessing.update("bias_correction", 0.0, "a second preprocessing setting starts")  # 0.0 of its part
    progress.child(0.5, 1.0).update("gbm-met", 1.0, "done")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["fraction"] for line in lines] == [0.2, 0.2, 1.0]
    assert [line["stage"] for line in lines] == ["registration", "bias_correction", "gbm-met"]

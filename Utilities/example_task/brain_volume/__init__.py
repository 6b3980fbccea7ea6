"""An example task from outside the product: the volume of bright T1CE tissue, by a one-voxel network.

It is what a research group writes to bring its own model: this folder (a Python package whose
`SPEC` is a `TaskSpec`) and a model set registered with `task_package` pointing here. Nothing in
BrainTumorAI is edited; the command line, the report, the registry and the panel find it.
"""

from BrainTumorAILib.catalog import TaskSpec, number


def verdict(entry: dict) -> str:
    return f"{number(entry.get('volume_ml'), '.1f')} ml of bright tissue"


SPEC = TaskSpec(
    name="bright-volume",
    title="Bright T1CE tissue volume (example task)",
    sequences=("t1ce",), needs_roi=False, outputs=("seg",), geometry_of="t1ce",
    pipeline=".pipeline:run", verdict=verdict,
    networks={"bright_voxel_net": ".network:build"},
)

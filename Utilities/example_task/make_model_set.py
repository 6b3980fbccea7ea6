"""Register the example task's model set: weights, model card and a registry entry naming the package.

    python Utilities/example_task/make_model_set.py --out my_models

writes `my_models/bright-volume-example/` (weights and card) and adds the set to the per-user
registry (`$BRAINTUMORAI_CACHE/registry.json`, default ~/.cache/braintumorai), with `task_package`
pointing at `brain_volume/` beside this script. The weights are set by hand, not trained: the
network thresholds the T1CE at 60 % of its maximum.
"""

import argparse
import datetime
from pathlib import Path

import torch

from BrainTumorAILib.models import ModelRegistry, save_weights, write_card

PACKAGE = Path(__file__).resolve().parent / "brain_volume"
NAME = "bright-volume-example"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the weights and the card")
    args = parser.parse_args(argv)
    folder = args.out.resolve() / NAME
    folder.mkdir(parents=True, exist_ok=True)
    network = torch.nn.Sequential(torch.nn.Conv3d(1, 1, kernel_size=1), torch.nn.Sigmoid())
    with torch.no_grad():  # sigmoid(20 x - 12) >= 0.5 exactly where x >= 0.6
        network[0].weight.fill_(20.0)
        network[0].bias.fill_(-12.0)
    sha256 = save_weights(network, folder / "fold0.safetensors")
    common = {"name": NAME, "task": "bright-volume", "version": "1.0.0", "demo": False,
              "architecture": {"name": "bright_voxel_net", "config": {"in_channels": 1}},
              "inputs": ["t1ce"], "preprocessing": {}, "classes": ["bright"]}
    card = {**common, "created": datetime.date.today().isoformat(),
            "cutoffs": {"probability": {"value": 0.5, "how_chosen": "the sigmoid's midpoint"}},
            "training_data": {"description": "none: weights set by hand", "n_cases": 0, "synthetic": False},
            "metrics": [], "intended_use": "Showing how a task is brought from outside the product.",
            "limitations": ["Not a clinical measure: a fixed intensity threshold."],
            "files": [{"path": "fold0.safetensors", "sha256": sha256}]}
    write_card(card, folder / "model_card.json")
    registry = ModelRegistry.load()
    entry = {**common, "thresholds": {"probability": 0.5}, "card": str(folder / "model_card.json"),
             "folds": [{"path": str(folder / "fold0.safetensors"), "sha256": sha256}],
             "task_package": str(PACKAGE)}
    registry.add(entry, replace=True)
    print(f"registered {NAME} in {registry.save()}")


if __name__ == "__main__":
    main()

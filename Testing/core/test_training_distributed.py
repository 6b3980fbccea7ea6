"""torch.distributed: two gloo processes on the CPU, launched by torchrun as in production.

Run as a script, this file is the worker each torchrun process executes.
"""

import faulthandler
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKERS = 2


def _worker(root: Path) -> None:
    """One rank: a Trainer fold, then a whole k-fold run; rank-local folders show who wrote what."""
    from test_training_toy import ToyAdapter, toy_cases, toy_config

    from BrainTumorAILib.training import Trainer, run_kfold, validation_split
    from BrainTumorAILib.training.distributed import distributed_context

    torch.set_num_threads(1)
    with distributed_context("cpu") as ctx:
        cases = toy_cases(n_patients=10, cases_per_patient=1)
        adapter = ToyAdapter()
        adapter.prepare(cases, cache_dir=None)
        train, val = validation_split(cases, 0.25, seed=0)
        trainer = Trainer(adapter, toy_config(epochs=2, augmentations=["flip"]), root / f"fit_rank{ctx.rank}")
        result = trainer.fit(train, val, fold=0)
        report = run_kfold(ToyAdapter(), toy_cases(n_patients=8, cases_per_patient=1), toy_config(epochs=1),
                           root / f"kfold_rank{ctx.rank}")
        state = {name: tensor.tolist() for name, tensor in trainer.model.state_dict().items()}
        summary = {"rank": ctx.rank, "world_size": ctx.world_size, "state": state, "history": result.history,
                   "has_report": report is not None, "val_cases": [c.case_id for c in val]}
        (root / f"summary{ctx.rank}.json").write_text(json.dumps(summary))


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORKERS}",
               __file__, str(root)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return root, [json.loads((root / f"summary{r}.json").read_text()) for r in range(WORKERS)]


def test_both_ranks_joined_and_agree_on_weights_and_history(ranks):
    _, (first, second) = ranks
    assert (first["rank"], second["rank"], first["world_size"]) == (0, 1, WORKERS)
    assert first["state"] == second["state"]
    assert first["history"] == second["history"] and len(first["history"]) == 2


def test_only_rank_zero_writes(ranks):
    root, (first, second) = ranks
    assert {p.name for p in (root / "fit_rank0" / "fold_0").iterdir()} == {
        "best.safetensors", "history.json", "last_epoch0002.safetensors", "last_state.pt"}
    assert (root / "kfold_rank0" / "training_report.json").is_file() and first["has_report"]
    assert not (root / "fit_rank1").exists() and not (root / "kfold_rank1").exists() and not second["has_report"]


def test_gathered_validation_equals_a_single_process_evaluation(ranks):
    """Validation was striped over the ranks (with one padded sample): gathered, it must equal
    evaluating rank 0's last network on the whole validation set in one process."""
    from safetensors.torch import load_file
    from test_training_toy import ToyAdapter, toy_cases, toy_config

    root, (first, _) = ranks
    cases = {c.case_id: c for c in toy_cases(n_patients=10, cases_per_patient=1)}
    adapter = ToyAdapter()
    adapter.prepare(list(cases.values()), cache_dir=None)
    config = toy_config()
    dataset = adapter.dataset([cases[i] for i in first["val_cases"]], config, train=False)
    assert len(dataset) % WORKERS == 1
    model = adapter.build_model(config)
    model.load_state_dict(load_file(root / "fit_rank0" / "fold_0" / "last_epoch0002.safetensors"))
    with torch.no_grad():
        outputs = model.eval()(torch.from_numpy(dataset.images))
    targets = torch.from_numpy(dataset.labels)
    last = first["history"][-1]
    assert last["val_loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(outputs, targets)), rel=1e-5)
    assert last["val_score"] == pytest.approx(adapter.validation_score(outputs, targets))


if __name__ == "__main__":
    faulthandler.enable()  # a rank that aborts shows where (teardown aborts were seen, rarely)
    _worker(Path(sys.argv[1]))

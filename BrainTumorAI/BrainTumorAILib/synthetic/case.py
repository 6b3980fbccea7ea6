"""One synthetic case: a head, its lesions, four acquisitions, the truth, written to a folder."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..image import copy_geometry, write_image
from ..outputs import staged_output
from .acquisition import acquire, sample_acquisition
from .contrast import SEQUENCES, tissue_intensities
from .head import make_head
from .kinds import GBM_MET_LABEL_OF_KIND, KINDS, TUMOUR_TYPE_OF_KIND
from .lesions import render
from .recipes import sample_lesions
from .template import template_anatomy
from .truth import build_truth, lesion_record, write_truth

TRUTH_SEQUENCES = ("t1ce", "t2")  # label maps are written in these sequences' geometry


def case_id(kind: str, seed: int) -> str:
    return f"synth-{kind}-{seed:04d}"


def case_rng(kind: str, seed: int) -> np.random.Generator:
    """The case's random stream: from the seed and the kind, so kinds sharing a seed differ."""
    return np.random.default_rng([int(seed), zlib.crc32(kind.encode())])


def _check(kind: str, seed: int, voxel_mm: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 1.0 <= voxel_mm <= 4.0:  # the template has no detail finer than 1 mm
        raise ValueError(f"voxel_mm must be within 1-4 mm, got {voxel_mm}")


def _write(folder: Path, acquired: dict, truth: dict) -> None:
    """The case's images, label maps and truth.json into `folder`."""
    for seq, result in acquired.items():
        write_image(result.image, folder / truth["sequences"][seq]["file"])
    for seq in TRUTH_SEQUENCES:
        result = acquired[seq]
        write_image(copy_geometry(result.seg, result.image), folder / "truth" / f"seg_{seq}.nii.gz")
        write_image(copy_geometry(result.brain, result.image), folder / "truth" / f"brain_{seq}.nii.gz")
    t1ce = acquired["t1ce"]
    write_image(copy_geometry(t1ce.instances, t1ce.image), folder / "truth" / "lesions_t1ce.nii.gz")
    write_truth(truth, folder / "truth.json")


def make_case(out_dir, kind: str, seed: int, voxel_mm: float = 1.0, variants: dict | None = None) -> Path:
    """Write the case `synth-<kind>-<seed:04d>` into `out_dir` and return its folder.

    The folder holds `t1.nii.gz`, `t1ce.nii.gz`, `t2.nii.gz`, `flair.nii.gz` (int16, each in
    its own acquisition geometry and head position), `truth/seg_t1ce.nii.gz` and
    `truth/seg_t2.nii.gz` (BraTS labels 1 core, 2 oedema, 3 enhancing), `truth/lesions_t1ce.nii.gz`
    (lesion ids), `truth/brain_t1ce.nii.gz`, `truth/brain_t2.nii.gz` and `truth.json`.
    `voxel_mm` sets the grid of the anatomy and of every acquisition (1.0: MNI 1 mm; 2-3 for
    small, fast phantoms); physical sizes stay the same. `variants` (sequence -> a name of
    acquisition.VARIANTS) acquires those sequences in another plane or slice profile, for
    independent test cohorts. The same arguments give the same files.
    """
    _check(kind, seed, voxel_mm)
    rng = case_rng(kind, seed)
    template = template_anatomy(float(voxel_mm))
    head = make_head(template, rng)
    tissue = tissue_intensities(rng)
    lesions = [render(lesion, head, voxel_mm) for lesion in sample_lesions(kind, head, rng)]
    acquisitions = {seq: sample_acquisition(rng, seq, voxel_mm, head, variant=(variants or {}).get(seq))
                    for seq in SEQUENCES}
    acquired = {seq: acquire(acq, head, lesions, tissue[seq], rng, brain_mask=seq in TRUTH_SEQUENCES)
                for seq, acq in acquisitions.items()}

    tumours = [rendered for rendered in lesions if rendered.lesion.labelled]
    t1ce = acquired["t1ce"]
    voxel_mm3 = float(np.prod(acquisitions["t1ce"].grid.spacing))
    volumes = [np.count_nonzero(t1ce.instances == i) * voxel_mm3 for i in range(1, len(tumours) + 1)]
    records = [lesion_record(i, rendered, volume) for i, (rendered, volume) in enumerate(zip(tumours, volumes), 1)]
    roi_lesion = tumours[int(np.argmax(volumes))] if tumours else None
    name = case_id(kind, seed)
    truth = build_truth(
        case_id=name, seed=seed, kind=kind, tumour_type=TUMOUR_TYPE_OF_KIND[kind],
        gbm_met_label=GBM_MET_LABEL_OF_KIND.get(kind), voxel_mm=float(voxel_mm), lesions=records,
        roi_lesion=roi_lesion, acquisitions=acquisitions, files={seq: f"{seq}.nii.gz" for seq in SEQUENCES},
        world_to_template=head.world_to_template,
        distractors={"white_matter_lesions": len(lesions) - len(tumours)},
    )

    final = Path(out_dir) / name
    with staged_output(final, replace=True) as staging:  # a case folder is complete or absent
        _write(staging, acquired, truth)
    return final

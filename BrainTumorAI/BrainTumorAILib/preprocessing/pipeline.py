"""The preprocessing pipeline: N4, rigid co-registration, brain extraction, resampling to the
reference's isotropic grid, intensity normalisation, optional per-slice histogram equalisation.

`Preprocessor` does the reference-independent work once and caches it, so one case can be
produced in several reference spaces (T2 for Shin 2021, T1CE for Jünger 2021 and Grøvik 2020)
by resampling only:
- N4-corrected images on their own input grids;
- one rigid registration per sequence to a hub (the finest-sampled sequence, usually T1CE);
  a transform between any two sequences is a composition through the hub;
- one brain mask, extracted in one sequence's space and carried through the transforms.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..progress import NullProgress
from . import grid, resampling, transforms
from .bias import n4_correct
from .brain_mask import extract_brain
from .case import PreprocessedCase
from .head import head_mask
from .histogram import equalise_histogram_per_slice
from .inputs import check_inputs
from .normalisation import normalise
from .options import SEQUENCES, PreprocessOptions
from .registration import register_rigid
from .step_pool import itk_step_pool

# Ties for the hub go to the 3D T1-weighted scans; deepbet was trained on T1-weighted heads.
HUB_PRIORITY = ("t1ce", "t1", "flair", "t2")
BRAIN_SOURCE_PRIORITY = ("t1", "t1ce", "flair", "t2")


def _largest_spacing(image: sitk.Image) -> float:
    return round(float(max(image.GetSpacing())), 3)


class Preprocessor:
    """Preprocess one case for any reference space, computing shared steps once.

    Inputs are never modified. `case(reference)` returns a `PreprocessedCase`; `timings_s` of each
    case counts the work done for that call (cached steps cost nothing the second time).
    """

    def __init__(self, images: dict[str, sitk.Image], options: PreprocessOptions = PreprocessOptions(),
                 progress=None):
        check_inputs(images, options.reference, SEQUENCES)
        self.images = {name: image for name, image in images.items() if image is not None}
        self.options = options
        self.progress = progress or NullProgress()
        self.hub = min((name for name in HUB_PRIORITY if name in self.images),
                       key=lambda name: (_largest_spacing(self.images[name]), HUB_PRIORITY.index(name)))
        self.brain_source = next(name for name in BRAIN_SOURCE_PRIORITY if name in self.images)
        self._corrected: dict[str, sitk.Image] = {}
        self._from_hub: dict[str, np.ndarray] = {self.hub: transforms.identity()}
        self._registration_reports: dict[str, dict] = {}
        self._native_brain: sitk.Image | None = None
        self._spent: dict[str, float] = defaultdict(float)
        self._done, self._steps = 0, 1  # progress through the current `case` call
        self._lock = threading.Lock()  # the shared steps may run in worker threads

    @contextmanager
    def _stage(self, stage: str, message: str):
        with self._lock:
            self.progress.update(stage, self._done / max(self._steps, 1), message)
        start = time.perf_counter()
        yield
        with self._lock:
            self._spent[stage] += time.perf_counter() - start
            self._done += 1

    def corrected(self, name: str) -> sitk.Image:
        """The input as float32, N4-corrected when bias correction is on (its own grid)."""
        if name not in self._corrected:
            with self._stage("bias_correction", f"N4 bias correction of {name}"):
                image = self.images[name]
                self._corrected[name] = (n4_correct(image, self.options.n4) if self.options.bias_correction
                                         else sitk.Cast(image, sitk.sitkFloat32))
        return self._corrected[name]

    def from_hub(self, name: str) -> np.ndarray:
        """4x4 mapping hub input points to `name` input points (identity without registration)."""
        if name not in self._from_hub:
            if not self.options.registration:
                self._from_hub[name] = transforms.identity()
                return self._from_hub[name]
            hub, other = self.corrected(self.hub), self.corrected(name)
            with self._stage("registration", f"rigid registration of {name} and {self.hub}"):
                # The coarser image is the fixed one: its thick slices are then never interpolated
                # while the optimiser moves, which keeps the metric smooth (measured: 0.04 mm vs
                # 0.5 mm error for a 5 mm-slice T2).
                if _largest_spacing(self.images[name]) > _largest_spacing(self.images[self.hub]):
                    to_hub, report = register_rigid(other, hub, self.options.rigid)
                    self._from_hub[name] = np.linalg.inv(to_hub)
                    report["fixed"], report["moving"] = name, self.hub
                else:
                    self._from_hub[name], report = register_rigid(hub, other, self.options.rigid)
                    report["fixed"], report["moving"] = self.hub, name
                self._registration_reports[name] = report
        return self._from_hub[name]

    def transform(self, reference: str, name: str) -> np.ndarray:
        """4x4 mapping `reference` input points to `name` input points, composed through the hub."""
        if name == reference:  # exactly the identity, not a product that rounds to it
            return transforms.identity()
        return self.from_hub(name) @ np.linalg.inv(self.from_hub(reference))

    def native_brain_mask(self) -> sitk.Image:
        """Brain mask in the brain source's physical space (1 mm RAS-aligned grid), extracted once."""
        if self._native_brain is None:
            source = self.corrected(self.brain_source)
            with self._stage("brain_extraction", f"brain extraction ({self.options.brain_extraction}) "
                                                 f"on {self.brain_source}"):
                self._native_brain = extract_brain(source, self.options.brain_extraction)
        return self._native_brain

    def _run_shared_steps(self, options: PreprocessOptions) -> None:
        """N4 of every input, then the registrations and the brain extraction, each step on one
        ITK thread and as many steps at once as ITK's thread budget allows. SimpleITK releases
        Python's lock while it works, so the steps share the cores; one thread per registration
        keeps its sums in a fixed order (bit-identical runs, see registration.py), which threads
        inside one registration do not. A stage's time is then the sum over its steps."""
        with itk_step_pool(len(self.images)) as pool:
            list(pool.map(self.corrected, self.images))
            later = [pool.submit(self.from_hub, name) for name in self.images if options.registration]
            if options.brain_extraction != "none":
                later.append(pool.submit(self.native_brain_mask))
            for future in later:
                future.result()

    def _count_steps(self, options: PreprocessOptions) -> int:
        steps = sum(name not in self._corrected for name in self.images)
        if options.registration:
            steps += sum(name not in self._from_hub for name in self.images)
        if options.brain_extraction != "none":
            steps += self._native_brain is None
        return steps + 2  # resampling, normalisation

    def case(self, reference: str | None = None, options: PreprocessOptions | None = None) -> PreprocessedCase:
        """The case on `reference`'s grid (default: the options' reference).

        `options` may change what follows the shared steps (reference, spacing, normalisation,
        equalisation, masking) but not the shared steps themselves, whose results are cached.
        """
        options = options or self.options
        if shared_steps(options) != shared_steps(self.options):
            raise ValueError("options differ from this Preprocessor's in a shared step; use another Preprocessor")
        options = options if reference is None else options.for_reference(reference)
        reference = options.reference
        if reference not in self.images:
            raise InputError(f"the reference sequence '{reference}' is missing")
        self._spent = defaultdict(float)
        self._done, self._steps = 0, self._count_steps(options)
        started = time.perf_counter()
        self._run_shared_steps(options)
        moved = {name: self.transform(reference, name) for name in self.images}
        native_brain = None if options.brain_extraction == "none" else self.native_brain_mask()
        target = self._target_grid(options)
        with self._stage("resampling", f"resampling onto the {reference} grid"):
            resampled = {name: resampling.resample(self.corrected(name), target, moved[name],
                                                   pixel_type=sitk.sitkFloat32)
                         for name in self.images}
            brain = (head_mask(resampled[reference]) if native_brain is None
                     else resampling.resample_mask(native_brain, target, moved[self.brain_source]))
        with self._stage("normalisation", f"{options.normalisation_method} normalisation"):
            images = {name: self._finish(image, brain, name, options) for name, image in resampled.items()}
        self._spent["total"] = time.perf_counter() - started
        self.progress.update("preprocessing", 1.0, f"preprocessed in the {reference} space")
        return PreprocessedCase(
            reference=reference,
            images=images,
            brain_mask=brain,
            transforms=moved,
            input_geometry={name: grid.geometry(image) for name, image in self.images.items()},
            reference_image=self.images[reference],
            parameters=self._parameters(options),
            timings_s={stage: round(seconds, 3) for stage, seconds in self._spent.items()},
        )

    def _target_grid(self, options: PreprocessOptions) -> sitk.Image:
        image = self.images[options.reference]
        if options.resample_mm is None:
            return grid.empty_image(grid.geometry(image))
        return grid.isotropic_grid(image, options.resample_mm)

    @staticmethod
    def _finish(image: sitk.Image, brain: sitk.Image, name: str, options: PreprocessOptions) -> sitk.Image:
        image = normalise(image, brain, options.normalisation_method, name)
        if options.histogram_equalisation:
            image = equalise_histogram_per_slice(image, brain)
        if options.mask_images:
            image = sitk.Mask(image, brain)
        return image

    def _parameters(self, options: PreprocessOptions) -> dict:
        return {
            "options": options.to_json(),
            "registration_hub": self.hub,
            "brain_mask_source": (f"{options.brain_extraction} on {self.brain_source}"
                                  if options.brain_extraction != "none" else "Otsu head mask (no brain extraction)"),
            "registrations": {name: {key: report[key] for key in ("fixed", "moving", "metric", "iterations")}
                              for name, report in self._registration_reports.items()},
        }


def shared_steps(options: PreprocessOptions) -> tuple:
    """The settings of the steps a Preprocessor computes once for every reference space."""
    return (options.bias_correction, options.registration, options.brain_extraction, options.n4, options.rigid)


def preprocess(images: dict[str, sitk.Image], options: PreprocessOptions = PreprocessOptions(),
               progress=None) -> PreprocessedCase:
    """Preprocess one case in `options.reference`'s space (see `Preprocessor` to share work
    between reference spaces)."""
    return Preprocessor(images, options, progress).case()

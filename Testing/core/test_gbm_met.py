"""gbm-met (Shin 2021): the fold vote, the predictive index, ROI slice inputs and the CAM's place."""

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from torch import nn

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import lps_to_ras
from BrainTumorAILib.roi import BoxROI
from BrainTumorAILib.tasks.gbm_met import method as gbm_met
from conftest import rotation_matrix


def test_majority_vote_and_predictive_index():
    # 5 folds x 4 slices: slice votes GBM, GBM, metastasis, metastasis -> index 0.5
    p = np.array([[0.9, 0.6, 0.1, 0.4],
                  [0.8, 0.7, 0.2, 0.6],
                  [0.7, 0.4, 0.3, 0.2],
                  [0.6, 0.3, 0.6, 0.3],
                  [0.9, 0.8, 0.1, 0.1]])
    result = gbm_met.vote(p, cutoff=0.55)
    assert result["slice_votes"] == [1, 1, 0, 0]
    assert result["slice_gbm_folds"] == [5, 3, 1, 1]
    assert result["predictive_index"] == 0.5
    assert result["label"] == "metastasis"  # 0.5 < 0.55
    assert gbm_met.vote(p, cutoff=0.5)["label"] == "GBM"  # at the cut-off counts as GBM
    # agreement with the majority: 5/5, 3/5, 4/5, 4/5
    assert result["fold_agreement"] == pytest.approx((1 + 0.6 + 0.8 + 0.8) / 4)
    assert result["fold_predictive_indices"] == [0.5, 0.75, 0.25, 0.5, 0.5]


def test_tied_fold_votes_fall_back_to_the_mean_probability():
    result = gbm_met.vote(np.array([[0.9, 0.6], [0.2, 0.3]]), cutoff=0.55)
    assert result["slice_votes"] == [1, 0]


def oblique_grid(size=(48, 44, 30), spacing=(1.0, 1.0, 1.0)):
    image = sitk.Image(size, sitk.sitkFloat32)
    image.SetSpacing(spacing)
    image.SetDirection(tuple(rotation_matrix(6, -4, 15).ravel()))
    image.SetOrigin((20.0, -10.0, -15.0))
    return image


def blob_images(center_ras, radius_mm=4.0):
    """T1CE with one bright blob on a dark brain, T2 flat, brain everywhere."""
    grid = oblique_grid()
    k, j, i = np.indices(sitk.GetArrayViewFromImage(grid).shape)
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], 1).astype(float)
    matrix = np.array(grid.GetDirection()).reshape(3, 3) * grid.GetSpacing()
    points = lps_to_ras(np.array(grid.GetOrigin()) + index @ matrix.T)
    blob = (np.linalg.norm(points - center_ras, axis=1) < radius_mm).reshape(k.shape)
    arrays = {"t1ce": np.where(blob, 5.0, 0.0), "t2": np.full(k.shape, 0.5)}
    images = {}
    for name, array in arrays.items():
        images[name] = sitk.GetImageFromArray(array.astype(np.float32))
        images[name].CopyInformation(grid)
    mask = sitk.GetImageFromArray(np.ones(k.shape, np.uint8))
    mask.CopyInformation(grid)
    return images, mask


class BlobDetector(nn.Module):
    """A CAM-shaped network (features -> pooling -> fc) whose only evidence for GBM is T1CE brightness."""

    def __init__(self):
        super().__init__()
        self.layer4 = nn.Conv2d(3, 1, kernel_size=1)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.layer4.weight[:] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
            self.layer4.bias.zero_()
            self.fc.weight[:] = torch.tensor([[-1.0], [1.0]])
            self.fc.bias[:] = torch.tensor([0.05, -0.05])

    def forward(self, x):
        features = torch.relu(self.layer4(x))
        return self.fc(features.mean(dim=(2, 3)))


def test_roi_sections_are_in_channel_order_t1ce_t2_t2():
    center = np.array([-40.0, -10.0, 0.0])
    images, mask = blob_images(center)
    roi = BoxROI(center, np.eye(3), np.array([20.0, 20.0, 12.0]))
    stack = gbm_met.roi_section_stack(images, mask, roi, input_size=32)
    assert stack.inputs.shape == (stack.plan.n_sections, 3, 32, 32)
    assert torch.equal(stack.inputs[:, 1], stack.inputs[:, 2])
    assert stack.inputs[:, 0].max() > 4 and torch.allclose(stack.inputs[:, 1], torch.tensor(0.5))


def test_cam_peak_lies_on_the_deciding_blob_in_physical_space():
    center = np.array([-40.0, -10.0, 0.0])
    images, mask = blob_images(center)
    roi = BoxROI(center + [3.0, -2.0, 0.0], np.eye(3), np.array([26.0, 24.0, 14.0]))
    result, cam = gbm_met.predict([BlobDetector()] * 3, images, mask, roi, input_size=32,
                                  cutoff=0.55, device=torch.device("cpu"))
    array = sitk.GetArrayFromImage(cam)
    assert array.min() >= 0 and array.max() == pytest.approx(1.0)
    peak_kji = np.unravel_index(np.argmax(array), array.shape)
    peak_ras = lps_to_ras(cam.TransformIndexToPhysicalPoint(tuple(int(v) for v in peak_kji[::-1])))
    assert np.linalg.norm(peak_ras - center) < 4.0
    # outside the ROI as drawn the map is empty
    assert array[roi.mask(cam) == 0].max() == 0
    assert result["n_slices"] == result["sections"]["n"] > 0


def test_roi_in_air_is_refused():
    images, mask = blob_images(np.array([-40.0, -10.0, 0.0]))
    empty = sitk.Image(mask.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(mask)
    roi = BoxROI(lps_to_ras(mask.TransformIndexToPhysicalPoint((20, 20, 15))), np.eye(3), np.array([10.0, 10.0, 10.0]))
    with pytest.raises(InputError, match="outside the head"):
        gbm_met.roi_section_stack(images, empty, roi, input_size=32)


"""Axial diameters and matching on plain masks: oblique anisotropic grids, rotated poses, splits."""

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.followup.matching import match_lesions
from BrainTumorAILib.followup.measurement import measure_labels, measure_mask, slice_diameters
from BrainTumorAILib.image import lps_to_ras
from conftest import rotation_matrix


def grid(spacing=(0.9, 1.1, 1.7), direction=None, size=(90, 80, 50), origin=(-40.0, -45.0, -40.0)):
    image = sitk.Image(size, sitk.sitkUInt8)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(tuple(np.ravel(rotation_matrix(9, -6, 14) if direction is None else direction)))
    return image


def physical_points(image):
    k, j, i = np.indices(image.GetSize()[::-1]).reshape(3, -1)
    index = np.stack([i, j, k], axis=1).astype(float)
    direction = np.reshape(image.GetDirection(), (3, 3))
    return np.asarray(image.GetOrigin()) + (index * image.GetSpacing()) @ direction.T


def draw(image, ellipsoids):
    """Label image: each (id, centre LPS, semi-axes along x y z of `axes_frame`, axes_frame) filled."""
    points = physical_points(image)
    labels = np.zeros(len(points), np.uint8)
    for lesion_id, centre, semi_axes, frame in ellipsoids:
        local = (points - centre) @ frame
        labels[((local / semi_axes) ** 2).sum(axis=1) <= 1.0] = lesion_id
    array = labels.reshape(image.GetSize()[::-1])
    result = sitk.GetImageFromArray(array)
    result.CopyInformation(image)
    return result


def test_slice_diameters_of_a_rectangle_and_a_disc():
    pixel = 0.5
    y, x = np.mgrid[0:21, 0:41] * pixel  # centres of a 20.5 x 10.5 mm rectangle
    longest, perpendicular = slice_diameters(np.stack([x.ravel(), y.ravel()], axis=1), pixel)
    assert longest == pytest.approx(np.hypot(20.5, 10.5), abs=0.5)  # the diagonal, within a pixel
    y, x = np.mgrid[-20:21, -20:21] * pixel
    disc = np.hypot(x, y) <= 10.0
    longest, perpendicular = slice_diameters(np.stack([x[disc], y[disc]], axis=1), pixel)
    assert longest == pytest.approx(20.5, abs=0.5) and perpendicular == pytest.approx(20.5, abs=0.5)


def test_axial_diameters_on_an_oblique_anisotropic_grid_are_the_physical_ones():
    labels = draw(grid(), [(1, np.zeros(3), np.array([12.0, 6.0, 5.0]), np.eye(3))])
    size = measure_mask(labels)
    assert size.longest_diameter_mm == pytest.approx(24.0, abs=1.7)   # within one (1.7 mm) voxel
    assert size.perpendicular_diameter_mm == pytest.approx(12.0, abs=1.7)
    assert size.volume_mm3 == pytest.approx(4 / 3 * np.pi * 12 * 6 * 5, rel=0.05)
    assert np.allclose(size.centroid_ras, 0.0, atol=0.3)


def test_measurement_in_the_reference_space_undoes_the_pose():
    """The same lesion seen in a head turned by 25 degrees measures the same on the reference's axial plane."""
    frame = rotation_matrix(0, 0, 30)  # long axis in the axial plane, turned 30 degrees
    lesion = (1, np.array([5.0, -3.0, 2.0]), np.array([11.0, 6.0, 4.0]), frame)
    reference = measure_mask(draw(grid(spacing=(0.8, 0.8, 0.8)), [lesion]))
    pose = np.eye(4)
    pose[:3, :3] = rotation_matrix(25, -10, 5)
    pose[:3, 3] = [4.0, -7.0, 3.0]
    moved = (lesion[0], pose[:3, :3] @ lesion[1] + pose[:3, 3], lesion[2], pose[:3, :3] @ frame)
    seen = measure_mask(draw(grid(), [moved]), pose)  # pose: reference point -> the moved head's point
    naive = measure_mask(draw(grid(), [moved]))       # measured on the moved head's own axial plane
    assert seen.longest_diameter_mm == pytest.approx(reference.longest_diameter_mm, abs=1.0)
    assert seen.perpendicular_diameter_mm == pytest.approx(reference.perpendicular_diameter_mm, abs=1.0)
    assert np.allclose(seen.centroid_ras, reference.centroid_ras, atol=0.5)
    assert abs(naive.longest_diameter_mm - reference.longest_diameter_mm) > 2.0


def test_labels_are_measured_each_on_their_own():
    labels = draw(grid(), [(1, np.array([-15.0, 0.0, 0.0]), np.array([6.0, 6.0, 6.0]), np.eye(3)),
                           (2, np.array([15.0, 5.0, 0.0]), np.array([4.0, 4.0, 4.0]), np.eye(3))])
    sizes = measure_labels(labels)
    assert sorted(sizes) == [1, 2]
    assert sizes[1].longest_diameter_mm == pytest.approx(12.0, abs=1.7)
    assert sizes[2].longest_diameter_mm == pytest.approx(8.0, abs=1.7)
    assert sizes[1].centroid_ras[0] == pytest.approx(lps_to_ras([-15.0, 0, 0])[0], abs=0.5)


def blobs(shape, spheres):
    """Integer labels of spheres (label, centre voxel, radius) on a 1 mm grid whose voxel = mm."""
    z, y, x = np.indices(shape)
    labels = np.zeros(shape, np.int32)
    for label, (cz, cy, cx), radius in spheres:
        labels[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius ** 2] = label
    return labels


def centroids(labels):
    return {int(i): np.argwhere(labels == i).mean(axis=0) for i in np.unique(labels[labels > 0])}


def test_matching_keeps_ids_and_flags_new_resolved_split_and_merged():
    shape = (40, 60, 90)
    baseline = blobs(shape, [(1, (20, 30, 15), 6), (2, (20, 30, 45), 4), (3, (20, 22, 75), 3), (4, (20, 38, 75), 3)])
    # labels numbered differently; 1 shrank, 2 split in two, 3 and 4 grew into one, a new one
    later = blobs(shape, [(5, (20, 30, 16), 4), (7, (20, 30, 41), 2), (6, (20, 30, 49), 2),
                          (2, (20, 30, 75), 10), (1, (35, 50, 20), 2)])
    tracks = {t.id: t for t in match_lesions([baseline, later], [centroids(baseline), centroids(later)])}
    assert tracks[1].labels == {0: 1, 1: 5}
    assert tracks[2].present(1)
    fragment = next(t for t in tracks.values() if t.split_from == 2)
    assert {tracks[2].labels[1], fragment.labels[1]} == {6, 7} and fragment.status(1) == "split"
    survivor = next(t for t in (tracks[3], tracks[4]) if t.present(1))
    merged = tracks[7 - survivor.id]
    assert survivor.labels[1] == 2 and merged.merged_into == {1: survivor.id} and merged.status(1) == "merged"
    new = next(t for t in tracks.values() if t.first_study == 1 and t.split_from is None)
    assert new.labels == {1: 1} and new.status(1) == "new" and new.id > 4


def test_matching_by_distance_when_masks_do_not_overlap_and_resolved_lesions():
    shape = (30, 30, 90)
    baseline = blobs(shape, [(1, (15, 15, 15), 2), (2, (15, 15, 60), 2)])
    later = blobs(shape, [(1, (15, 15, 20), 2)])  # lesion 1 moved 5 mm (no overlap), lesion 2 gone
    tracks = {t.id: t for t in match_lesions([baseline, later], [centroids(baseline), centroids(later)])}
    assert tracks[1].labels == {0: 1, 1: 1}
    assert tracks[2].status(1) == "resolved"
    far = blobs(shape, [(1, (15, 15, 40), 2)])  # 25 mm away: another lesion
    tracks = match_lesions([baseline, far], [centroids(baseline), centroids(far)])
    assert [t.id for t in tracks if t.status(1) == "new"] == [3]


def test_a_lesion_of_the_study_before_wins_over_the_site_of_a_resolved_one():
    shape = (30, 30, 90)
    baseline = blobs(shape, [(1, (15, 15, 40), 6), (2, (15, 15, 52), 5)])
    second = blobs(shape, [(1, (15, 15, 40), 3)])                # lesion 2 resolved, lesion 1 shrank
    third = blobs(shape, [(1, (15, 15, 46), 9)])                 # one lesion over both sites
    tracks = {t.id: t for t in match_lesions([baseline, second, third],
                                             [centroids(baseline), centroids(second), centroids(third)])}
    assert tracks[1].labels == {0: 1, 1: 1, 2: 1}
    assert tracks[2].status(1) == "resolved" and tracks[2].merged_into == {}

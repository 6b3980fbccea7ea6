"""The run's findings as one Comprehensive 3D SR, TID 1500 Measurement Report (highdicom).

Measurement groups:
- per segmentation task (TID 1501): the number of lesions it found (also when none);
- per lesion of each segmentation task (TID 1411, volumetric ROI): volume, longest diameter,
  maximum probability and fold agreement, the location as finding site, the lesion's segment in
  that task's SEG and the task's algorithm (model set, version, demo flag, notice);
- gbm-met (TID 1501): the verdict (glioblastoma / metastasis) as the group's finding (DCM 121071),
  the predictive index and its cut-off, the cut-off's source among the algorithm parameters;
- tumour-type (TID 1501): the predicted class as the group's finding and each class's probability;
- notices: research use, and demo weights when a demo model set ran.
Numbers are written as result.json holds them, so the SR reads back equal to the run's own output.
"""

from __future__ import annotations

import highdicom as hd
from pydicom.sr.codedict import codes as dicom_codes
from pydicom.uid import generate_uid

from . import codes
from .product import MANUFACTURER, MODEL_NAME, algorithm_identification, is_demo, series_description
from .series import DicomSeries


def _tracking(identifier: str) -> hd.sr.TrackingIdentifier:
    return hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier)


def _measurement(name, value, unit) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit)


def lesion_groups(task: str, lesions: list[dict], model: dict | None, segmentation,
                  source: DicomSeries) -> list:
    """One volumetric measurement group per lesion, each referencing its segment of `segmentation`."""
    groups = []
    for row in lesions:
        measurements = [_measurement(codes.VOLUME, row["volume_mm3"], codes.CUBIC_MILLIMETRE),
                        _measurement(codes.LONG_AXIS, row["longest_diameter_mm"], codes.MILLIMETRE)]
        for name, key in ((codes.MAX_PROBABILITY, "max_probability"), (codes.FOLD_AGREEMENT, "fold_agreement")):
            if row.get(key) is not None:
                measurements.append(_measurement(name, row[key], codes.NO_UNITS))
        location = codes.LOCATIONS.get(row.get("location") or "")
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(f"{task} lesion {row['id']}"),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=segmentation.SOPClassUID, sop_instance_uid=segmentation.SOPInstanceUID,
                segment_number=int(row["id"]),
                source_series=hd.sr.SourceSeriesForSegmentation(source.series_uid)),
            finding_type=codes.segment_type(task), algorithm_id=algorithm_identification(task, model),
            finding_sites=[hd.sr.FindingSite(location)] if location else None, measurements=measurements))
    return groups


def lesion_count_group(task: str, answer: dict, model: dict | None) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """How many lesions a segmentation task found, so that "none found" is said, not left out."""
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(f"{task} lesion count"), finding_type=codes.segment_type(task),
        algorithm_id=algorithm_identification(task, model),
        measurements=[_measurement(codes.LESION_COUNT, len(answer["lesions"]), codes.NO_UNITS)])


def verdict_group(answer: dict, model: dict | None) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """gbm-met: the verdict, its predictive index and cut-off (and where the cut-off comes from)."""
    extra = {"cutoff_source": answer["cutoff_source"]} if answer.get("cutoff_source") else {}
    verdict = codes.VERDICTS[answer["label"]]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("gbm-met verdict"), finding_type=verdict,
        algorithm_id=algorithm_identification("gbm-met", model, **extra),
        measurements=[_measurement(codes.PREDICTIVE_INDEX, answer["predictive_index"], codes.NO_UNITS),
                      _measurement(codes.CUTOFF, answer["cutoff"], codes.NO_UNITS)])


def tumour_type_group(answer: dict, model: dict | None) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """tumour-type: the predicted class and every class's probability."""
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("tumour-type"), finding_type=codes.TUMOUR_CLASSES[answer["label"]],
        algorithm_id=algorithm_identification("tumour-type", model),
        measurements=[_measurement(codes.class_probability(name), value, codes.NO_UNITS)
                      for name, value in answer["probabilities"].items()])


def notice_group(models: list[dict | None]) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """Research use always; demo weights when any model set that ran is a demo set."""
    notices = [codes.RESEARCH_USE] + ([codes.DEMO_WEIGHTS] if any(is_demo(m) for m in models) else [])
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("notices"),
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(codes.NOTICE, notice) for notice in notices])


def write_report(result: dict, segmentations: dict, sources: dict[str, DicomSeries], evidence: list,
                 series_number: int) -> hd.sr.Comprehensive3DSR:
    """The SR of a run: `result` as in result.json, `segmentations` task -> its SEG (tasks with
    lesions), `evidence` every object the report is about (source images, SEGs, maps)."""
    models = result.get("models", {})
    groups = []
    for task, answer in result["tasks"].items():
        if "lesions" in answer:
            groups.append(lesion_count_group(task, answer, models.get(task)))
            if task in segmentations:
                groups += lesion_groups(task, answer["lesions"], models.get(task), segmentations[task],
                                        sources["t1ce"])
        elif task == "gbm-met":
            groups.append(verdict_group(answer, models.get(task)))
        elif task == "tumour-type":
            groups.append(tumour_type_group(answer, models.get(task)))
    groups.append(notice_group(list(models.values())))
    observer = hd.sr.ObserverContext(
        observer_type=dicom_codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="BrainTumorAI", manufacturer_name=MANUFACTURER, model_name=MODEL_NAME))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.PROCEDURE, imaging_measurements=groups)
    return hd.sr.Comprehensive3DSR(
        evidence=evidence, content=report[0], series_instance_uid=generate_uid(), series_number=series_number,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        series_description=series_description("report", list(models.values())))

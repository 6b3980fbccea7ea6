"""Statistics for evaluating the four tasks; every result is a dataclass with `.to_json()`.

- classification: binary metrics, ROC, Youden cut-off, bootstrap CIs (Shin 2021)
- roc_comparison: DeLong test and paired bootstrap for two correlated AUCs
- multiclass: confusion matrix, per-class sensitivity/specificity/PPV/NPV, AUC, AP (Chakrabarty 2021)
- segmentation: voxel AUC in the brain mask, Dice, precision, recall (Grøvik 2020)
- lesionwise: connected-component detection, FP per patient, lesion Dice, volume correlation
- froc: FROC curve and operating point (Jünger 2021); subgroups: lesion-count groups
- bootstrap: case-resampling engine (1000 draws of 90% of the cases); plots: PNG figures
"""

from .bootstrap import BootstrapSettings, ConfidenceInterval, bootstrap_intervals, draw_case_indices
from .classification import BinaryClassificationResult, RocCurve, YoudenPoint, evaluate_binary, roc_with_youden
from .froc import CaseCandidates, FrocResult, froc_candidates, froc_curve
from .lesionwise import (
    CaseDetection,
    Correlation,
    DetectionResult,
    LesionRecord,
    detect_lesions,
    label_lesions,
    match_lesions,
    summarize_detection,
    volume_correlation,
)
from .multiclass import ClassMetrics, MulticlassResult, PrecisionRecallCurve, evaluate_multiclass
from .roc_comparison import AucComparison, delong_covariance, delong_test, paired_bootstrap_auc_test
from .segmentation import Summary, VoxelMetrics, summarize, summarize_voxel_metrics, voxel_metrics
from .subgroups import LESION_COUNT_GROUPS, SubgroupComparison, compare_by_lesion_count

__all__ = [
    "AucComparison", "BinaryClassificationResult", "BootstrapSettings", "CaseCandidates", "CaseDetection",
    "ClassMetrics", "ConfidenceInterval", "Correlation", "DetectionResult", "FrocResult", "LESION_COUNT_GROUPS",
    "LesionRecord", "MulticlassResult", "PrecisionRecallCurve", "RocCurve", "SubgroupComparison", "Summary",
    "VoxelMetrics", "YoudenPoint", "bootstrap_intervals", "compare_by_lesion_count", "delong_covariance",
    "delong_test", "detect_lesions", "draw_case_indices", "evaluate_binary", "evaluate_multiclass",
    "froc_candidates", "froc_curve", "label_lesions", "match_lesions", "paired_bootstrap_auc_test",
    "roc_with_youden", "summarize", "summarize_detection", "summarize_voxel_metrics", "volume_correlation",
    "voxel_metrics",
]

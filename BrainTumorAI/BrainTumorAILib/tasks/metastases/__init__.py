"""What the two metastasis tasks (mets-25d, mets-3d) share; not a task itself (no SPEC).

The size rules live here, torch-free, because the verdict words read them too.
"""

MIN_LESION_MM3 = 3.0     # Jünger 2021: components under 0.003 cm^3 removed as noise
COUNT_MIN_MM3 = 10.0     # Grøvik 2020: false positives also counted for objects >= 10 mm^3 only

# Demo training phantoms meet other planes and slice profiles in turn (synthetic.acquisition.VARIANTS),
# so that the metastasis models do not learn one acquisition's look.
TRAINING_VARIANTS = [None, {"t1ce": "sagittal_3d", "flair": "coronal_2d"}, {"t1ce": "axial_2d_3mm"},
                     {"t1ce": "coronal_3d", "flair": "axial_2d_6mm"}]

"""Follow-up of one patient over two or more studies: registration to the baseline, lesion
measurement on the axial plane, matching over time, RANO-BM (Lin 2015) and RANO 2.0 (Wen 2023).

Measurement and matching work on plain SimpleITK masks (`measurement`, `matching`); the
command's pipeline (`pipeline.follow_up`) adds reading studies, running them and the writer.
"""

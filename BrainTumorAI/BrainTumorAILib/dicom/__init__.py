"""DICOM in and out: series reading and selection, DICOMweb, SEG, TID 1500 SR and Parametric Map writers."""

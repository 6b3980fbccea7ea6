"""The kinds of synthetic case and the classes they stand for."""

KINDS = ("gbm", "metastasis", "metastases", "lgg", "meningioma", "pituitary", "schwannoma", "healthy")

# Tumour-type classes of Chakrabarty 2021 (the tumour-type task's label set).
TUMOUR_TYPE_OF_KIND = {
    "gbm": "hgg",
    "metastasis": "metastasis",
    "metastases": "metastasis",
    "lgg": "lgg",
    "meningioma": "meningioma",
    "pituitary": "pituitary",
    "schwannoma": "schwannoma",
    "healthy": "healthy",
}

# The GBM-versus-solitary-metastasis question of Shin 2021 is asked only of these kinds.
GBM_MET_LABEL_OF_KIND = {"gbm": "GBM", "metastasis": "metastasis"}

"""tumour-type's answer in words: class names as a radiologist reads them, the verdict, the report's section."""

from __future__ import annotations

from ...report.markup import table

# the contract's tumour-type keys
CLASS_NAMES = {
    "hgg": "high-grade glioma", "lgg": "low-grade glioma", "metastasis": "metastasis",
    "meningioma": "meningioma", "pituitary": "pituitary adenoma", "schwannoma": "vestibular schwannoma",
    "healthy": "no tumour (healthy)",
}


def class_name(key: str) -> str:
    return CLASS_NAMES.get(key, key)


def verdict(entry: dict) -> str:
    probabilities = entry.get("probabilities") or {}
    label = entry.get("label")
    top = ", ".join(f"{class_name(k)} {v:.0%}" for k, v in
                    sorted(probabilities.items(), key=lambda kv: -kv[1])[:3])
    return f"{class_name(label) if label else '?'}" + (f" ({top})" if top else "")


def details(entry: dict) -> str:
    probabilities = entry.get("probabilities") or {}
    if not probabilities:
        return ""
    top = max(probabilities, key=probabilities.get)
    rows = [(class_name(key), f"<td class='num'>{value:.1%}</td>",
             f"<td style='width:18em'><div class='bar{' top' if key == top else ''}' "
             f"style='width:{100 * max(0.0, min(1.0, value)):.1f}%'></div></td>")
            for key, value in sorted(probabilities.items(), key=lambda kv: -kv[1])]
    return table(rows, ("Class", "Probability", ""))

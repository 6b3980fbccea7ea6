"""One package per clinical question; each package's `SPEC` (a `catalog.TaskSpec`) lists its parts.

`metastases` holds what the two metastasis tasks share and is not a task itself. The package
imports nothing heavy: `catalog.task_specs()` imports every task's `__init__` to read its spec.
"""

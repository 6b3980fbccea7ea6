"""Cohorts: `braintumorai batch` over a CSV manifest or a folder of cases, in one process or on Ray."""

from .batch import run_batch
from .manifest import CohortCase, read_cohort
from .worker import BatchSettings, CaseWorker

__all__ = ["BatchSettings", "CaseWorker", "CohortCase", "read_cohort", "run_batch"]

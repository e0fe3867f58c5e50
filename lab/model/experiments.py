"""The experiments the site offers; each is a topology document in lab/experiments/ (see lab/model/catalog.py)."""

from lab.model.catalog import DEFAULT_EXPERIMENT, EXPERIMENTS, Experiment
from lab.model.topology import Preset, ScriptStep

__all__ = ["DEFAULT_EXPERIMENT", "EXPERIMENTS", "Experiment", "Preset", "ScriptStep"]

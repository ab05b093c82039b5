"""Instance segmentation's starting point, read without torch (`foveal train --help` shows it) and by InstanceTask:
semantic segmentation's training settings."""

from foveal.tasks.segment.defaults import DEFAULTS

DEFAULT_MODEL = "maskrcnn"

__all__ = ["DEFAULTS", "DEFAULT_MODEL"]

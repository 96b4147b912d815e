"""Compatibility: the build moved to the kgpub.build package (pipeline, units of work, executor,
output transaction); `from kgpub.site import build` keeps working."""

from .build import BuildResult, build, check_output, output_error

__all__ = ["BuildResult", "build", "check_output", "output_error"]

"""The build: validated sources in, a published site out.

    pipeline      the stages in order (load, validate, index, plan, stage, render, publish)
    units         units of work (an entity's files, a listing page) and what rendering gave
    contents      the files each unit is made of, and the site-wide files
    executor      renders units here or in forked workers (context through their initializer)
    render        the render stage: every unit, or those an incremental plan names; search
    transaction   the new generation: staged, written, published in one rename
    output        which outputs a build may write; one line for a failed write
    timings       the wall time of each stage
"""

from .output import check_output, output_error
from .pipeline import BuildResult, build

__all__ = ["BuildResult", "build", "check_output", "output_error"]

"""``docner run``: the stages of ``jobs.catalog.stages.STAGES`` in pipeline order, in one
SparkSession, each on what it has not done yet."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection

from jobs.catalog.stages import STAGE_NAMES, STAGES, StageSpec, stage_spec
from jobs.config import DocnerConfig
from jobs.lake.tables import ensure_tables
from jobs.ops.progress import log_context
from jobs.stages.base import StageContext, StageResult

Runner = Callable[..., StageResult]


def runner(stage: StageSpec) -> Runner:
    """The function that runs ``stage`` (its ``runner``, ``module:function``), imported now."""
    module_name, _, function = stage.runner.partition(":")
    found: Runner = getattr(importlib.import_module(module_name), function)
    return found


def run_stage(
    ctx: StageContext, stage: StageSpec, input_location: str | None = None, *, reprocess: bool = False
) -> StageResult:
    """One stage, in its log context; ``input_location`` for the stages that read the input."""
    run = runner(stage)
    with log_context(stage=stage.name):
        if stage.needs_input:
            if input_location is None:
                raise ValueError(f"stage {stage.name} needs the input location (--input)")
            return run(ctx, input_location, reprocess=reprocess)
        return run(ctx, reprocess=reprocess)


def stages_on(config: DocnerConfig) -> tuple[str, ...]:
    """The stages ``docner run`` runs by default: all but those whose switch setting
    (``StageSpec.switch``, e.g. ``redact.enabled``) is false."""
    return tuple(stage.name for stage in STAGES if stage.switch is None or _setting(config, stage.switch))


def _setting(config: DocnerConfig, path: str) -> bool:
    value: object = config
    for name in path.split("."):
        value = getattr(value, name)
    if not isinstance(value, bool):
        raise TypeError(f"the switch {path} is not a boolean setting")
    return value


def run_pipeline(
    ctx: StageContext,
    input_location: str | None,
    reprocess: Collection[str] = (),
    stages: Collection[str] | None = None,
) -> list[StageResult]:
    """The ``stages`` named (default: every stage that is on, :func:`stages_on`), in pipeline
    order, each on what it has not done yet (``reprocess``: stages to run on every document again)."""
    if stages is None:
        stages = stages_on(ctx.config)
    unknown = sorted(set(stages) - set(STAGE_NAMES))
    if unknown:
        raise ValueError(f"unknown stages {unknown} (stages: {', '.join(STAGE_NAMES)})")
    ensure_tables(ctx.lake)
    return [
        run_stage(ctx, stage_spec(name), input_location, reprocess=name in reprocess)
        for name in STAGE_NAMES
        if name in stages
    ]

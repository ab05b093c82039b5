"""`foveal train`'s options, made from TrainConfig's fields: one option per field that has one, with the field's help,
the tasks it applies to and its default (each task's where the tasks differ, read from their defaults.py); its values
are validated by TrainConfig itself."""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import fields
from typing import Annotated, Optional

import typer

from foveal.config import TrainConfig
from foveal.tasks import TASKS, task_defaults

TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def field_type(annotation: str) -> type:
    """The Python type of a field's annotation ('float | None' -> float)."""
    return TYPES[annotation.split("|")[0].strip()]


def shown(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


FINETUNING = "classify fine-tuning"  # a classifier from pretrained weights has defaults of its own


def default_text(field, starts: dict[str, dict]) -> str:
    """'[default: 0.1]', or each task's where they differ: '[default: classify 0.1; detect 0.01; segment, instance
    0.001]'; '' where nothing is set or the help says what decides it. `starts` holds each task's defaults
    (tasks.task_defaults)."""
    if not field.metadata.get("show_default", True):
        return ""
    tasks = field.metadata.get("tasks") or tuple(k for k in starts if k != FINETUNING)
    if "classify" in tasks and FINETUNING in starts:
        tasks = (*tasks, FINETUNING)
    by_value: dict[str, list[str]] = {}
    for task in tasks:
        value = starts[task].get(field.name, field.default)
        if isinstance(value, bool):
            value = f"--{'' if value else 'no-'}{field.name.replace('_', '-')}"
        by_value.setdefault(shown(value), []).append(task)
    if list(by_value) == ["none"]:
        return ""
    if len(by_value) == 1:
        return f"[default: {next(iter(by_value))}]"
    return "[default: " + "; ".join(f"{', '.join(names)} {value}" for value, names in by_value.items()) + "]"


def config_parameters() -> list[inspect.Parameter]:
    """A keyword parameter per TrainConfig field with an option: Optional[type], default None (the config's own
    default or the task's applies), booleans as --x/--no-x."""
    params = []
    starts = {task: task_defaults(task) for task in TASKS}
    starts[FINETUNING] = task_defaults("classify", finetune=True)
    for f in fields(TrainConfig):
        if not f.metadata.get("cli", True):
            continue
        kind = field_type(str(f.type))
        flag = f"--{f.name.replace('_', '-')}"
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        tasks = f.metadata.get("tasks") or ()
        text = f.metadata.get("help", "")
        text = f"{'/'.join(tasks)}: {text[:1].lower()}{text[1:]}" if tasks else text
        option = typer.Option(*decls, help=" ".join(filter(None, [text, default_text(f, starts)])) or None)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[Optional[kind], option]))
    return params


def with_config_options(command):
    """The command with TrainConfig's options added to its own; they reach it in its **settings."""
    own = [p for p in inspect.signature(command).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    added = config_parameters()
    names = {p.name for p in own}

    @functools.wraps(command)
    def wrapper(**kwargs):
        return command(**{k: v for k, v in kwargs.items() if k in names},
                       **{k: v for k, v in kwargs.items() if k not in names})

    hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name]) for p in own]
    wrapper.__signature__ = inspect.Signature(added + own)
    wrapper.__annotations__ = {p.name: p.annotation for p in added + own}
    del wrapper.__wrapped__
    return wrapper

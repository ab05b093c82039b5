"""`foveal train`'s options, made from TrainConfig's fields: one option per field that has one, with the field's help
and the tasks it applies to; its values are validated by TrainConfig itself."""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import fields
from typing import Annotated, Optional

import typer

from foveal.config import TrainConfig

TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def field_type(annotation: str) -> type:
    """The Python type of a field's annotation ('float | None' -> float)."""
    return TYPES[annotation.split("|")[0].strip()]


def config_parameters() -> list[inspect.Parameter]:
    """A keyword parameter per TrainConfig field with an option: Optional[type], default None (the config's own
    default or the task's applies), booleans as --x/--no-x."""
    params = []
    for f in fields(TrainConfig):
        if not f.metadata.get("cli", True):
            continue
        kind = field_type(str(f.type))
        flag = f"--{f.name.replace('_', '-')}"
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        tasks = f.metadata.get("tasks") or ()
        text = f.metadata.get("help", "")
        option = typer.Option(*decls, help=f"{'/'.join(tasks)}: {text[:1].lower()}{text[1:]}" if tasks else text or None)
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

"""Ultralytics' way of giving settings, `foveal train model=fcos data=coco128/data.yaml epochs=3 imgsz=320`: each
`key=value` after `train`, `val` or `predict` becomes the option it names before the command line is parsed, with
Ultralytics' names as aliases of foveal's. A key `train` has no option for goes to `--set` (TrainConfig knows it or
refuses it), as does a value of none; other verbs refuse it, unless the argument is an existing file."""

from __future__ import annotations

from pathlib import Path

from foveal.errors import FovealError

VERBS = ("train", "val", "predict")
ALIASES = {"imgsz": "img_size", "batch": "batch_size", "lr0": "lr", "save_crop": "crop"}  # Ultralytics: foveal
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def ultralytics_value(key: str, value: str) -> tuple[str, str] | None:
    """Ultralytics settings whose value foveal takes in another form: (foveal's key, value), or None to drop it."""
    if key == "time":  # hours; foveal's --time-limit is in minutes
        return "time_limit", f"{float(value) * 60:g}"
    if key == "cos_lr":  # foveal has no linear schedule to fall back to: false leaves the task's schedule
        return ("schedule", "cosine") if flag_value(key, value) else None
    if key == "amp":
        return "amp", "auto" if flag_value(key, value) else "off"
    if key == "optimizer":  # Ultralytics writes SGD, AdamW
        return key, value.lower()
    return ALIASES.get(key, key), value


def flag_value(key: str, value: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise FovealError(f"{key} is on or off: true or false; got {value!r}")


def key_value(token: str) -> tuple[str, str] | None:
    """`imgsz=320` -> ("imgsz", "320"); None for anything else (an option, a path such as `a=b/c.jpg`)."""
    key, sep, value = token.partition("=")
    key = key.replace("-", "_")
    return (key, value) if sep and key.isidentifier() else None


def expand_key_values(command, args: list[str]) -> list[str]:
    """`args` with each `key=value` of a train, val or predict command turned into its option; `command` is the
    click group the verbs belong to."""
    verb_at = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if verb_at is None or args[verb_at] not in VERBS:
        return args
    verb = command.commands[args[verb_at]]
    options = {opt: p for p in verb.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}
    out, rest = list(args[:verb_at + 1]), iter(args[verb_at + 1:])
    for token in rest:
        if token == "--":
            out += [token, *rest]
            break
        if token.startswith("-"):
            out.append(token)
            param = options.get(token)
            if param is not None and not param.is_flag:
                out.append(next(rest, ""))  # its value, whatever it looks like (`--set lr=0.1`)
            continue
        pair = key_value(token)
        if pair is None or Path(token).exists():
            out.append(token)
            continue
        given, value = pair
        if given == "source" and verb.name == "predict":
            out.append(value)
            continue
        converted = ultralytics_value(given, value)
        if converted is None:
            continue
        key, value = converted
        flag = f"--{key.replace('_', '-')}"
        param = options.get(flag)
        if param is None or flag == "--help" or (verb.name == "train" and value.lower() in ("none", "null")):
            if verb.name != "train":
                known = sorted(o[2:].replace("-", "_") for o in options if o != "--help" and not o.startswith("--no-"))
                raise FovealError(f"foveal {verb.name} has no setting {given!r}; its settings: {', '.join(known)}")
            out += ["--set", f"{key}={value}"]
        elif param.is_flag:
            if flag_value(key, value):
                out.append(param.opts[0])
            elif param.secondary_opts:
                out.append(param.secondary_opts[0])
        else:
            out += [flag, value]
    return out

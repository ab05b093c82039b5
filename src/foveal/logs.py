"""The "foveal" logger's output: plain lines on stderr. The command line sets it up itself (cli/render.py); a Python
script or notebook gets it from `default_logging` on its first train, val or predict, unless logging is already
configured (a handler on "foveal" or on the root logger), in which case foveal leaves it alone."""

from __future__ import annotations

import logging
import sys

LOGGER = "foveal"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a message comes, not the stream of when logging was set up: a caller that
    swaps stderr (a test runner, a notebook) and closes its stream must not break foveal's logging afterwards."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def configure(level: int = logging.INFO, propagate: bool = False) -> logging.Logger:
    """foveal's own handler as the only one on its logger: each message once, as a plain line."""
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = propagate
    return logger


class _DefaultHandler(StderrHandler):
    """The handler a library user gets when they configured no logging. It steps aside once the root logger has a
    handler of its own (logging.basicConfig after the first run), so that no line is printed twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not logging.getLogger().handlers and super().filter(record)


def default_logging() -> None:
    """Epoch lines and warnings on stderr for a user of the Python API who configured no logging (as Ultralytics
    does); nothing when the command line, or the user, has set logging up."""
    logger = logging.getLogger(LOGGER)
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = _DefaultHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)

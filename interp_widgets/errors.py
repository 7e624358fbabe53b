"""Errors a researcher can act on: each names the problem and the fix."""


class InterpWidgetsError(ValueError):
    """Bad input to interp-widgets. The message says what is wrong and how to fix it."""


class Superseded(Exception):
    """A newer request of the same kind arrived while this one was computing: its result is not wanted."""

"""Errors a researcher can act on: each names the problem and the fix."""


class InterpWidgetsError(ValueError):
    """Bad input to interp-widgets. The message says what is wrong and how to fix it."""

"""Exceptions raised for bad input.

Every error is a ``ValueError`` so that callers validating arguments can catch the usual type; its
message names the argument or file and says what was wrong, in one line.
"""


class FixedRnnError(ValueError):
    """Bad argument or impossible configuration; the message names the argument."""


class InputFileError(FixedRnnError):
    """A file that cannot be used (model, WAV, golden vectors); the message starts with its path."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

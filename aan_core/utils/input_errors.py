"""The error types of bad user input: one base class, so that a command-line tool can turn
every one of them into one clear line (``aan <command>: error: ...``, exit status 2)."""

from __future__ import annotations

import os

__all__ = ["AANInputError", "UnreadableImageError"]


class AANInputError(ValueError):
    """Input a tool cannot use: a file, a field or an option, named in the message.

    Every input error of this project derives from it (box files, images, videos,
    checkpoints, configs, annotations, raw datasets); ``aan`` prints its message on one
    line and exits with status 2, never with a traceback.
    """


class UnreadableImageError(AANInputError):
    """An image file that cannot be used (missing, empty, truncated, not an image, too small
    or too large); the message starts with the path.

    Attributes:
        path: The image file.
        problem: What is wrong with it.
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # picklable across dataloader workers despite two arguments
        return type(self), (self.path, self.problem)

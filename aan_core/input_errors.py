"""Deprecated alias: this module moved to :mod:`aan_core.utils.input_errors` (import that)."""

from ._moved_module import alias_moved_module

alias_moved_module(globals())

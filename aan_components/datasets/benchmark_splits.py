"""Deprecated alias: this module moved to :mod:`aan_core.face_protocols` (import that)."""

from aan_core._moved_module import alias_moved_module

alias_moved_module(globals())

"""Collection rules for the whole repository (tests and the packages' doctests)."""

from pathlib import Path

from aan_core._moved_module import MOVED_MODULES

# The deprecation aliases at old module paths are not collected for doctests: importing one
# warns, and its module is the new one (collected at its own path).
collect_ignore = [str(Path(*old.split(".")).with_suffix(".py")) for old in MOVED_MODULES]

"""Command-line tools of aan-components (see ``aan --help``)."""

"""The package version, as a constant: reading it from the installed metadata costs start-up time
(``tests/test_cli.py`` checks that it equals the version in ``pyproject.toml``)."""

__version__ = "0.1.0"

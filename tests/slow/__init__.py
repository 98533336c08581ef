"""The slow suite: run with `python -m pytest -m slow`."""

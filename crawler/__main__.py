"""`python -m crawler` and the `newsarchive` command (pyproject.toml's `[project.scripts]`).

Every worker process of a crawl imports the script that started the crawl first
(multiprocessing prepares each child so): this module imports nothing until the command runs,
so that a worker loads neither the command line, SQLAlchemy nor the archive's models (36 MB
and about 0.5 s of CPU a worker when the command was `crawler.cli:main`).
"""

from __future__ import annotations


def main() -> None:
    from crawler.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()

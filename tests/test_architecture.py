"""The layout rules of docs/architecture.md, checked: dependencies, tests, documented settings."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.conf import build_component_list
from scrapy.utils.project import get_project_settings

from crawler import settings as project_settings
from tests.support.commands import LOCAL_SITE_OPTIONS

ROOT = Path(__file__).parent.parent
PURE_CRAWLER_MODULES = [
    "items", "extraction", "normalization", "banners", "metadata", "classification", "documents",
    "analysis", "fast_xpaths", "tree_copies",
]  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "storage").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_storage_imports_neither_crawler_nor_scrapy(path):
    forbidden = {
        m for m in imported_modules(path) if m.split(".")[0] in {"crawler", "scrapy", "twisted"}
    }
    assert not forbidden, f"{path} imports {forbidden}"


@pytest.mark.parametrize("name", PURE_CRAWLER_MODULES)
def test_stage_modules_import_no_scrapy(name):
    modules = imported_modules(ROOT / "crawler" / f"{name}.py")
    assert not {m for m in modules if m.split(".")[0] in {"scrapy", "twisted"}}


def test_worker_processes_load_neither_scrapy_nor_sqlalchemy():
    """A worker process imports crawler.workers, what analysing a page needs, and the module
    that started the crawl (multiprocessing prepares every child so: the `newsarchive` script,
    which imports its entry point's module): Scrapy, the command line or the archive's
    SQLAlchemy models would add tens of MB and half a second of CPU to each worker."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module = entry["newsarchive"].split(":")[0]
    code = (
        f"import sys, crawler.workers, crawler.analysis, {module}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'scrapy', 'sqlalchemy', 'click', 'rich'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_queries_of_the_archive_load_neither_scrapy_nor_trafilatura(tmp_path):
    """`newsarchive search`, `export`, `runs` and `stats` need the archive, not the crawler:
    without Scrapy and trafilatura a query starts in about 0.6 s instead of 1.1 s."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    code = (
        "import sys\n"
        "from crawler.cli import cli\n"
        "from storage.migrate import ensure_current\n"
        f"ensure_current({database_url!r})\n"
        "for command in (['search', 'harbour'], ['export'], ['runs'], ['stats']):\n"
        f"    cli.main([*command, '--db', {database_url!r}], standalone_mode=False)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'scrapy', 'twisted', 'trafilatura', 'redis'}), file=sys.stderr)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stderr.strip().splitlines()[-1] == "[]", loaded.stderr


def test_the_crawl_process_loads_no_trafilatura(news_site_server, tmp_path):
    """A crawl's pages are analysed by its worker processes: the crawl process itself (the
    reactor, the pipelines, the writer) needs no extraction library, which would add 0.3 s to
    each crawl's start on one core and a hundred modules to its memory."""
    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    options = [*LOCAL_SITE_OPTIONS, "--no-progress"]
    code = (
        "import sys\n"
        "from crawler.cli import cli\n"
        f"cli.main(['crawl', {news_site_server.site.base_url + '/'!r}, '--db', "
        f"{database_url!r}, *{options!r}], standalone_mode=False)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'trafilatura', 'htmldate', 'justext', 'courlan'}), file=sys.stderr)"
    )
    crawled = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "crawl 1 finished" in crawled.stderr, crawled.stderr
    assert re.search(r"\b[1-9]\d* new articles", crawled.stderr)  # the workers did extract
    assert crawled.stderr.strip().splitlines()[-1] == "[]", crawled.stderr


def test_the_storage_package_gives_each_name_it_exports():
    """`from storage import make_engine` and the rest still work, imported on first use."""
    import storage

    assert all(getattr(storage, name) is not None for name in storage.__all__)
    with pytest.raises(AttributeError):
        storage.no_such_name  # noqa: B018


def test_only_extraction_imports_trafilatura():
    """extraction.py, and fast_xpaths.py and tree_copies.py, which stand in for some of
    trafilatura's own XPath and its preparation of a tree."""
    importers = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "crawler").rglob("*.py")
        if any(m.split(".")[0] == "trafilatura" for m in imported_modules(path))
    }
    assert importers == {
        "crawler/extraction.py",
        "crawler/fast_xpaths.py",
        "crawler/tree_copies.py",
    }


def test_every_spider_has_a_test_module():
    loader = SpiderLoader.from_settings(get_project_settings())
    for name in loader.list():
        assert (ROOT / "tests" / "crawler" / "spiders" / f"test_{name}.py").is_file(), name


def test_every_archive_setting_is_documented():
    documented = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    names = [name for name in vars(project_settings) if name.startswith("ARCHIVE_")]
    assert names
    for name in names:
        assert f"`{name}`" in documented, f"{name} is missing from docs/settings.md"
        env = "NEWSARCHIVE_" + name.removeprefix("ARCHIVE_")
        assert f"`{env}`" in documented, f"{env} is missing from docs/settings.md"


def test_readme_test_command_is_the_one_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, flags=re.S)
    test_command = next(c.strip() for c in commands if "pytest" in c)
    assert test_command in ci


def test_parsers_only_get_bytes_scrapy_fetched():
    """S08, H10: no library downloads for us or opens paths (trafilatura's fetch_url, feedparser
    given a string), and no raw bytes go to trafilatura's loader, which would decompress them
    without a cap: pages are parsed from decoded text by crawler.extraction.parse_html."""
    forbidden = re.compile(r"\bfetch_url\b|\bfetch_response\b|\bfeedparser\b|\burlopen\b")
    for path in [*(ROOT / "crawler").rglob("*.py"), *(ROOT / "storage").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        assert not forbidden.search(source), f"{path.relative_to(ROOT)} fetches by itself"
    extraction = (ROOT / "crawler" / "extraction.py").read_text(encoding="utf-8")
    assert not re.search(r"\b(?:load_html|decode_file|handle_compressed_file)\(", extraction)
    assert "def parse_html(text: str)" in extraction


def test_a_crawl_serves_neither_a_console_nor_remote_control():
    """Scrapy's telnet console and its remote control (2.19: Python code sent to an HTTP port
    runs in the crawl) are off: an unattended archive crawl listens on no port."""
    extensions = build_component_list(get_project_settings().getwithbase("EXTENSIONS"))
    names = [e if isinstance(e, str) else f"{e.__module__}.{e.__qualname__}" for e in extensions]
    assert "scrapy.extensions.corestats.CoreStats" in names  # the list is Scrapy's, read whole
    assert not [name for name in names if "telnet" in name or "remote_control" in name]

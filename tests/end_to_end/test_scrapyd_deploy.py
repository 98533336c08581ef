"""Deploying to a scrapyd node as docs/scale-out.md says: `scrapyd-deploy` with a `[deploy:…]`
section in scrapy.cfg, then a crawl scheduled over scrapyd's HTTP API, on a real scrapyd
listening on loopback. scrapyd runs the project from its zipped egg: the settings are found
through the egg's entry point, the migrations are read out of the zip."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.runner import LOCAL_SITE_SETTINGS
from tests.support.commands import TIMEOUT_SECONDS, newsarchive
from tests.support.news_farm import serve_news_farm

pytestmark = pytest.mark.end_to_end

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("crawler", "storage", "pyproject.toml", "scrapy.cfg", "README.md")
ARTICLES = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[str]:
    """A scrapyd of the test's own, on a free loopback port; yields its URL."""
    folder = tmp_path / "scrapyd"
    folder.mkdir()
    port = free_port()
    (folder / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {folder / 'eggs'}\nlogs_dir = {folder / 'logs'}\n"
        f"dbs_dir = {folder / 'dbs'}\nitems_dir =\npoll_interval = 0.2\nmax_proc = 1\n"
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "scrapyd")],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # its log, until it listens
        if f"Site starting on {port}" in line:
            break
    else:
        raise AssertionError("scrapyd did not start")
    drain = threading.Thread(target=process.stdout.read, daemon=True)
    drain.start()
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=60)
    drain.join(timeout=60)
    process.stdout.close()


def call(url: str, **fields: str | list[str]) -> dict[str, object]:
    """Call a scrapyd JSON endpoint (POST when given fields); fail on its error status."""
    data = urllib.parse.urlencode(fields, doseq=True).encode() if fields else None
    with urllib.request.urlopen(url, data=data, timeout=60) as response:  # noqa: S310 - loopback
        answer: dict[str, object] = json.load(response)
    assert answer["status"] == "ok", answer
    return answer


def finished_job(scrapyd_url: str, job: str) -> dict[str, object] | None:
    jobs = call(f"{scrapyd_url}/listjobs.json?project=newsarchive")
    finished = jobs["finished"]
    assert isinstance(finished, list)
    return next((entry for entry in finished if entry["id"] == job), None)


def test_a_crawl_deployed_to_scrapyd_archives_the_site(scrapyd, tmp_path):
    project = tmp_path / "project"  # a checkout of the project, as the deploying user has
    project.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / name)
    with (project / "scrapy.cfg").open("a") as config:
        config.write(f"\n[deploy:node1]\nurl = {scrapyd}/\nproject = newsarchive\n")
    deploy = subprocess.run(
        [str(Path(sys.executable).parent / "scrapyd-deploy"), "node1"],
        cwd=project, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert call(f"{scrapyd}/listspiders.json?project=newsarchive")["spiders"] == ["news"]

    database_url = f"sqlite:///{tmp_path / 'archive.db'}"
    settings = {**LOCAL_SITE_SETTINGS, "ARCHIVE_DATABASE_URL": database_url}
    with serve_news_farm(ARTICLES) as site:
        job = call(
            f"{scrapyd}/schedule.json", project="newsarchive", spider="news",
            start_urls=f"{site.farm.base_url}/",
            setting=[f"{name}={value}" for name, value in settings.items()],
        )["jobid"]  # fmt: skip
        assert isinstance(job, str)
        done = None
        for _ in range(TIMEOUT_SECONDS * 5):  # scrapyd tells only when asked
            if (done := finished_job(scrapyd, job)) is not None:
                break
            threading.Event().wait(0.2)
    assert done is not None, "the scheduled crawl did not finish"
    log = (tmp_path / "scrapyd" / "logs" / "newsarchive" / "news" / f"{job}.log").read_text()
    assert "'finish_reason': 'finished'" in log, log[-3000:]
    assert "ERROR" not in log, log[-3000:]
    lines = newsarchive("export", "--db", database_url).stdout.splitlines()
    urls = [json.loads(line)["url"] for line in lines]
    assert len(urls) == len(set(urls)) == ARTICLES

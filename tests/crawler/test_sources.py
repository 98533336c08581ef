"""The sources file: loading, one clear error per bad file, and when each source is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.sources import (
    SourcesFileError,
    is_due,
    load_sources,
    next_run_at,
    parse_duration,
    parse_schedule,
)

ROOT = Path(__file__).parent.parent.parent
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GOOD = """
[defaults]
schedule = "every 1h"

[sources.gazette]
start_urls = ["https://news.example/"]
feeds = ["https://news.example/feed.xml"]

[sources.gazette.politeness]
download_delay = 3

[sources.nightly]
sitemaps = ["https://other.example/sitemap.xml"]
schedule = "30 2 * * *"
[sources.nightly.extraction]
date_order = "mdy"
banner_selectors = [".site-message"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_is_valid_and_names_embassypages():
    sources = load_sources(ROOT / "sources.example.toml")
    assert "embassypages" in {s.name for s in sources}
    assert all(s.start_urls for s in sources)


def test_a_good_file(tmp_path):
    gazette, nightly = load_sources(write(tmp_path, GOOD))
    assert gazette.start_urls == ("https://news.example/", "https://news.example/feed.xml")
    assert gazette.allowed_domains == ("news.example",)
    assert gazette.schedule.interval == timedelta(hours=1)
    assert gazette.settings == {"DOWNLOAD_DELAY": 3.0}
    assert gazette.revisit == timedelta(days=7)
    assert nightly.schedule.cron == "30 2 * * *"
    assert nightly.date_order == "mdy"
    assert nightly.banner_selectors == (".site-message",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sources.a]\nstart_urls = [\"https://x.example/\"\n",
         "line 2 (end of file): Unclosed"),
        ("[sources.a]\nstart_urls = \"https://x.example/\n",
         "line 2, column 33: Illegal character"),
        ("[sources.a]\nstart_urls = [\"https://x.example/\"]\nschedul = \"every 1h\"\n",
         "line 3: source 'a': unknown key 'schedul'"),
        ("[sources.a]\nstart_urls = [\"https://x.example/\"]\nschedule = \"sometimes\"\n",
         "line 3: source 'a': not a schedule: 'sometimes'"),
        ("[sources.a]\n\nstart_urls = [\"ftp://x.example/\"]\n",
         "line 3: source 'a': start_urls: not an http(s) URL: 'ftp://x.example/'"),
        ("[sources.a]\nschedule = \"every 1h\"\n", "line 1: source 'a': give at least one URL"),
        ("[defaults]\nschedule = \"every 1h\"\n", "no sources"),
        ("[sources.a]\nstart_urls = [\"https://x.example/\"]\n[sources.a.politeness]\n"
         "download_delay = \"fast\"\n", "line 4: source 'a': download_delay must be a number"),
        ("[sources.a]\nstart_urls = [\"https://x.example/\"]\nrevisit = \"forever\"\n",
         "not a duration: 'forever'"),
        ("[source.a]\nstart_urls = [\"https://x.example/\"]\n",
         "line 1: unknown table or key 'source'"),
        ("[sources.a]\nstart_urls = [\"https://x.example/\"]\n[sources.a.extraction]\n"
         "banner_selectors = [\".notice\", \"div[[role\"]\n",
         "line 4: source 'a': banner_selectors: 'div[[role' is not a CSS selector"),
    ],
    ids=["syntax-at-end", "syntax", "unknown-key", "bad-schedule", "bad-url", "no-url",
         "no-sources", "bad-politeness", "bad-duration", "misspelt-table", "bad-selector"],
)  # fmt: skip
def test_a_bad_file_gets_one_error_naming_the_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SourcesFileError) as raised:
        load_sources(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(str(path))
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourcesFileError, match="cannot read"):
        load_sources(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("6h", timedelta(hours=6)),
     ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)), (90, timedelta(seconds=90))],
)  # fmt: skip
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def source(tmp_path, schedule: str, **extra: str):
    lines = "".join(f'{key} = "{value}"\n' for key, value in extra.items())
    text = f'[sources.a]\nstart_urls = ["https://x.example/"]\nschedule = "{schedule}"\n{lines}'
    return load_sources(write(tmp_path, text))[0]


def test_a_source_never_run_is_due(tmp_path):
    assert is_due(source(tmp_path, "every 1h"), None, 0, NOW)


def test_interval_schedule_is_due_after_its_interval(tmp_path):
    hourly = source(tmp_path, "every 1h")
    assert not is_due(hourly, NOW - timedelta(minutes=59), 0, NOW)
    assert is_due(hourly, NOW - timedelta(minutes=60), 0, NOW)


def test_cron_schedule_is_due_at_its_next_time(tmp_path):
    nightly = source(tmp_path, "30 2 * * *")
    last = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert next_run_at(nightly, last, 0, NOW) == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    assert not is_due(nightly, last, 0, NOW)
    assert is_due(nightly, last, 0, datetime(2026, 11, 26, 2, 31, tzinfo=UTC))


def test_sources_that_rarely_change_are_polled_less_within_bounds(tmp_path):
    hourly = source(tmp_path, "every 1h", max_interval="6h")
    intervals = [next_run_at(hourly, NOW, idle, NOW) - NOW for idle in range(5)]
    assert intervals == [timedelta(hours=h) for h in (1, 2, 4, 6, 6)]


def test_disabled_source_is_never_due(tmp_path):
    path = write(tmp_path, '[sources.a]\nstart_urls = ["https://x.example/"]\nenabled = false\n')
    assert not is_due(load_sources(path)[0], None, 0, NOW)


def test_parse_schedule_rejects_six_field_cron():
    with pytest.raises(ValueError, match="not a schedule"):
        parse_schedule("0 0 * * * *")

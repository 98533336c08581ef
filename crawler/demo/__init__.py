"""The sample news site that `newsarchive demo` and the tests crawl."""

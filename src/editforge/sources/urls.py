"""Photos listed by URL: a text file of URLs, or a CSV such as Open Images' (`OriginalURL`, `Author`, ...).

The URLs are untrusted: they are fetched by `sources.download` under a `UrlPolicy` (http(s) only,
public addresses only unless a local mirror is allowed, every redirect hop checked, a total deadline
and a size cap). The runner fetches them concurrently in its own process and hands each worker the
bytes (`FetchedItem`); `UrlItem.read_bytes` fetches one URL by itself for any other caller.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from editforge.sources import SourceItem
from editforge.sources.download import download
from editforge.sources.urlpolicy import UrlPolicy

URL_COLUMNS = ("url", "image_url", "OriginalURL", "original_url", "open_image_input_url")


@dataclass(frozen=True)
class UrlItem(SourceItem):
    policy: UrlPolicy = field(default_factory=UrlPolicy)

    def read_bytes(self) -> bytes:
        return download(self.uri, self.policy)


@dataclass(frozen=True)
class FetchedItem(SourceItem):
    """A URL's photo already downloaded: the bytes travel to the worker that decodes them."""

    data: bytes = b""

    def read_bytes(self) -> bytes:
        return self.data


def url_items(listing: Path, policy: UrlPolicy | None = None) -> list[UrlItem]:
    """Items from a .txt (one URL a line, # comments) or a .csv with a URL column, in file order."""
    policy = policy or UrlPolicy()
    text = Path(listing).read_text(encoding="utf-8")
    if Path(listing).suffix.lower() != ".csv":
        urls = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        return [UrlItem(uri=url, policy=policy) for url in dict.fromkeys(urls)]
    rows = list(csv.DictReader(text.splitlines()))
    column = next((c for c in URL_COLUMNS if rows and c in rows[0]), None)
    if column is None:
        raise ValueError(f"{listing}: no URL column (one of {', '.join(URL_COLUMNS)})")
    items: dict[str, UrlItem] = {}
    for row in rows:
        url = (row.get(column) or "").strip()
        if url and url not in items:
            author, title = row.get("Author") or row.get("author"), row.get("Title") or row.get("title")
            attribution = " — ".join(x for x in (title, author and f"by {author}") if x) or None
            licence = row.get("License") or row.get("license") or None
            items[url] = UrlItem(uri=url, attribution=attribution, license=licence, policy=policy)
    return list(items.values())

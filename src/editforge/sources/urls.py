"""Photos listed by URL: a text file of URLs, or a CSV such as Open Images' (`OriginalURL`, `Author`, ...).

Downloads happen in the workers, one photo at a time, and are untrusted: only http(s) — a redirect to
any other scheme is refused — with a timeout and a size cap, so a hostile list cannot read local files,
hang a run or fill its memory. A failed download is that photo's failure, recorded with its reason.
"""

from __future__ import annotations

import csv
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from editforge.sources import SourceItem

ALLOWED_SCHEMES = ("http", "https")
URL_COLUMNS = ("url", "image_url", "OriginalURL", "original_url", "open_image_input_url")
DEFAULT_MAX_BYTES = 30 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if urlsplit(newurl).scheme.lower() not in ALLOWED_SCHEMES:
            raise urllib.error.URLError(f"refused redirect to {urlsplit(newurl).scheme or 'a non-http'} URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_HttpOnlyRedirects)


@dataclass(frozen=True)
class UrlItem(SourceItem):
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_s: float = DEFAULT_TIMEOUT_S

    def read_bytes(self) -> bytes:
        return download(self.uri, self.max_bytes, self.timeout_s)


def download(url: str, max_bytes: int = DEFAULT_MAX_BYTES, timeout_s: float = DEFAULT_TIMEOUT_S) -> bytes:
    """The body at an http(s) URL, or OSError naming the URL and why (scheme, status, size, timeout)."""
    if urlsplit(url).scheme.lower() not in ALLOWED_SCHEMES:
        raise OSError(f"{url}: only http and https URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "editforge (+https://github.com/editforge)"})
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise OSError(f"{url}: {int(declared)} bytes is over the {max_bytes}-byte limit")
            body = response.read(max_bytes + 1)  # never more than the cap, whatever the server claims
    except urllib.error.HTTPError as exc:
        raise OSError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise OSError(f"{url}: {exc.reason}") from None
    except TimeoutError:
        raise OSError(f"{url}: no answer within {timeout_s:.0f} s") from None
    if len(body) > max_bytes:
        raise OSError(f"{url}: more than the {max_bytes}-byte limit")
    return body


def url_items(listing: Path, max_bytes: int = DEFAULT_MAX_BYTES, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[UrlItem]:
    """Items from a .txt (one URL a line, # comments) or a .csv with a URL column, in file order."""
    text = Path(listing).read_text(encoding="utf-8")
    if Path(listing).suffix.lower() != ".csv":
        urls = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        return [UrlItem(uri=url, max_bytes=max_bytes, timeout_s=timeout_s) for url in dict.fromkeys(urls)]
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
            items[url] = UrlItem(uri=url, attribution=attribution, license=licence, max_bytes=max_bytes,
                                 timeout_s=timeout_s)  # fmt: skip
    return list(items.values())

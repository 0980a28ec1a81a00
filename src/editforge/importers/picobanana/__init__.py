"""Rebuild Pico-Banana-400K locally (`editforge import picobanana`): see docs/import.md.

manifest.py parses and checks the release's JSONL rows; openimages.py maps Flickr URLs to Open Images
files; fetch.py gets and verifies the bytes; book.py remembers what is done; records.py turns rows into
ledger records; importer.py runs the steps.
"""

from editforge.importers.picobanana.importer import ImportOptions, ImportSummary, import_picobanana

__all__ = ["ImportOptions", "ImportSummary", "import_picobanana"]

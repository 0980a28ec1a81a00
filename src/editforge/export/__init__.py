"""Out of the ledger, into the files people train from. Every row keeps its provenance."""

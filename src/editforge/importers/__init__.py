"""Importers: published image-editing datasets → editforge run directories (ledger, store, exports)."""

"""The metric judge: measures each criterion; imports nothing from the writer or the editor."""

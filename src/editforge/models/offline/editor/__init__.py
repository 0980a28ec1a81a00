"""The classical editor: each edit type as numpy/OpenCV operations on the photo."""

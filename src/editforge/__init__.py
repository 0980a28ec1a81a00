"""editforge: build instruction-based image-editing datasets the way Pico-Banana-400K was built."""

__version__ = "0.1.0"

"""systole: a TPU-class systolic-array accelerator generator."""

__version__ = "0.1.0"

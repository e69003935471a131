"""inventory: provision and operate a serverless inventory-tracking pipeline on AWS or locally."""

__version__ = "0.1.0"

"""camloft: a self-hosted camera cloud that speaks the Videoloft API (v1.0.8)."""

__version__ = "0.1.0"

"""irlab's local AWS stand-in: moto's server plus the lab's patches."""

__version__ = "0.1.0"

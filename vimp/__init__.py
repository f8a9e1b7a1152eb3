"""vimp: variable importance with honest inference."""

__version__ = "0.1.0"

"""Simulation studies: data-generating processes, a Monte Carlo runner and relative efficiency."""

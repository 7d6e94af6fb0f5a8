"""Incident simulations: the scenario catalog, the runner that drives the real service
in-process on a simulated clock, and the measurements (MTTD, MTTR, rows, false alarms)."""

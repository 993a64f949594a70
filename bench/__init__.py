"""Side-by-side speed benchmark: the stock recipes (seed tutorial, AutoTrain) against the core engine.

Run `python -m bench --quick` for a few-minute smoke run, `python -m bench` for the figures in BENCHMARKS.md.
"""

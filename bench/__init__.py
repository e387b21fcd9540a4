"""Benchmarks of PERFORMANCE.md: ratios against baselines measured in the same run.

Each ``bench/bench_*.py`` module defines ``run(quick: bool)`` returning rows (a list of dicts, or
a dict of id → dict) with keys: ``id``, ``what``, ``value`` (the measured figure), ``unit``,
optional ``baseline`` / ``ratio``, ``target`` (text) and ``ok`` (bool or None).
"""

"""Clearpane benchmarks (DESIGN §9): one module per figure, ``python -m bench.run_all``.

Each figure module (``bench.p3_pipeline``, ``bench.p4_bandwidth``, ``bench.relay`` …)
has a ``main(argv)`` that prints a table and writes ``bench/results/<figure>.json``,
comparing against a baseline measured in the same run where one exists.
"""

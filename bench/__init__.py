"""Benchmarks, run by `make bench` (bench/run_all.py) and by hand; the app never imports them."""

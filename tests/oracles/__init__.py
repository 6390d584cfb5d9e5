"""Test oracles: slow, readable implementations the compiled engine is checked against (also
imported by ``benchmarks/bench_book.py``). Not part of the product package."""

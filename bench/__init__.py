"""GaaP benchmarks: ``python -m bench [NAME ...]`` (``make bench``); see bench/README.md."""

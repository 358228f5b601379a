"""Throughput benchmarks that print ours-versus-baseline ratios measured in one run."""

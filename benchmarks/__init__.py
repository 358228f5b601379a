"""Evaluation harness, metrics, reports and speed benchmarks."""

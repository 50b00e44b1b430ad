"""Tools for tests, benchmarks and the demo (nothing here runs in production)."""

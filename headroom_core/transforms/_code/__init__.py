"""Helpers of the code outliner: where definitions start and end, and what a query names."""

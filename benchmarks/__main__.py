"""``python -m benchmarks`` runs the whole comparison (see :mod:`benchmarks.run_all`)."""

from benchmarks.run_all import main

main()

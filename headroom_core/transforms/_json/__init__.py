"""Private building blocks of the SmartCrusher: safe parsing, the compact table encoding,
statistics that find errors and anomalies, and the choice of items to keep."""

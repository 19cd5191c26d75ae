"""Private helpers of the line crusher: templates, severity, search-result parsing, rendering."""

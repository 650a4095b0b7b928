"""The operator's tools: the anonymous step events (events.py) and the reports built on them (report.py)."""

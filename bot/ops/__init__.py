"""The operator's tools: the anonymous step events (events.py) and the reports built on them
(report.py); running as a service: start-up checks (startup.py), health and readiness
(health.py), metrics (metrics.py), the log format (logs.py)."""

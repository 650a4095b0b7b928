"""Running the bot as a service: start-up checks, health and readiness, metrics, log format."""

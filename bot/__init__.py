"""A Telegram bot that walks French consumers through a complaint (see README.md)."""

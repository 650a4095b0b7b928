"""`python -m bot run --webhook`, for bench/stores.py, without the overall 30 messages/s cap.

The bot's ChatRateLimiter keeps each process under Telegram's overall quota (30 messages a
second per token); against a canned Bot API that cap is all a throughput run would measure
(about 18 updates/s per process). As bench/worker.py does in process, the benchmark lifts it:
the same command line, with the limiter's overall rate set to none (per-chat 429 handling and
the group limit stay). Nothing in bot/ changes.

    python -m bench.botproc run --webhook
"""
import sys

from bot.telegram.limits import ChatRateLimiter

defaults = list(ChatRateLimiter.__init__.__defaults__)
defaults[0] = 0  # overall_per_second: 0 = no overall limiter
ChatRateLimiter.__init__.__defaults__ = tuple(defaults)

from bot.cli import main  # noqa: E402

sys.exit(main())

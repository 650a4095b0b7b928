"""`python -m bot run --webhook`, for bench/stores.py, without the overall 30 messages/s cap.

The bot's ChatRateLimiter keeps each process under Telegram's overall quota (30 messages a
second per token); against a canned Bot API that cap is all a throughput run would measure
(about 18 updates/s per process). As bench/worker.py does in process, the benchmark lifts it:
the same command line, with the limiter's overall rate set to none (per-chat 429 handling and
the group limit stay). Nothing in bot/ changes.

    python -m bench.botproc run --webhook

With BENCH_PROFILE=<folder> in its environment (bench/stores.py passes its own on), each
process runs under cProfile and writes bot-<pid>.prof there when it exits.
"""
import os
import sys

from bot.telegram.limits import ChatRateLimiter

defaults = list(ChatRateLimiter.__init__.__defaults__)
defaults[0] = 0  # overall_per_second: 0 = no overall limiter
ChatRateLimiter.__init__.__defaults__ = tuple(defaults)

from bot.cli import main  # noqa: E402

if os.environ.get("BENCH_PROFILE"):  # a folder: each process writes its cProfile stats there at exit
    import cProfile
    profile = cProfile.Profile()
    try:
        code = profile.runcall(main)
    finally:
        profile.dump_stats(os.path.join(os.environ["BENCH_PROFILE"], f"bot-{os.getpid()}.prof"))
    sys.exit(code)
sys.exit(main())

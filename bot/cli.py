"""`python -m bot COMMAND`: check, graph, report, chat, classify, evaluate, run, post, store (the project's command line)."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from .flow.check import longest_path
from .flow.files import load_flow_file as load_flow
from .flow.files import FlowSet, flow_files
from .settings import Settings, SettingsError


def _load(settings: Settings):
    flows, problems = FlowSet.load([settings.flows], settings.default_flow)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"The flows have problems: run `python -m bot check {settings.flows}`.", file=sys.stderr)
        return None
    return flows


def cmd_check(args, settings: Settings) -> int:
    paths = args.paths or [settings.flows]
    files = flow_files(paths)
    if not files and not any(Path(p).name == "directory" for p in paths):
        print(f"{', '.join(map(str, paths))}: no flow file (*.yaml) found")
        return 1
    failed = False
    for folder in [Path(p) / "directory" for p in paths if Path(p).is_dir()] + \
            [Path(p) for p in paths if Path(p).is_dir() and Path(p).name == "directory"]:
        if folder.is_dir():
            failed |= _check_directory(folder)
    files = [f for f in files if f.parent.name != "directory"]
    for file in files:
        flow, problems = load_flow(file)
        for problem in problems:
            print(problem)
        if flow:
            taps, _ = longest_path(flow.nodes, flow.start)
            outcomes = sum(n.is_outcome for n in flow.nodes.values())
            print(f"{file}: ok — flow {flow.id!r}, version {flow.version}, {len(flow.nodes)} nodes, "
                  f"{outcomes} outcomes, at most {taps} taps to an outcome")
        failed |= any(not p.warning for p in problems)
    return 1 if failed else 0


def _check_directory(folder: Path) -> bool:
    """`check` on the directory of companies, sectors and mediators; True when it has errors."""
    from .flow.directory import load_directory
    directory, problems = load_directory(folder)
    for problem in problems:
        print(problem)
    if directory is not None:
        print(f"{folder}: ok — directory: {len(directory.companies)} companies, {len(directory.sectors)} sectors, "
              f"{len(directory.mediators)} mediators, {len(directory.problems)} kinds of problem")
    return directory is None


def _router(settings: Settings):
    """The company-sector-problem recogniser of the flows folder's directory, or None (said why)."""
    from .flow.route import load_router
    flows, _ = FlowSet.load([settings.flows], None)
    router, problems = load_router(settings.flows, flows)
    if router is None:
        for problem in problems:
            print(problem, file=sys.stderr)
    return router


def _flow_from(arg: str, settings: Settings):
    path = Path(arg)
    if path.suffix in (".yaml", ".yml") or path.exists():
        flow, problems = load_flow(path)
    else:
        flows = _load(settings)
        machine = flows and flows.get(arg)
        if machine is None:
            if flows is not None:
                print(f"no flow {arg!r}; the flows loaded from {settings.flows} are: {', '.join(flows.ids)} "
                      "(or give a flow file)", file=sys.stderr)
            return None
        return machine.flow
    for problem in problems:
        print(problem, file=sys.stderr)
    return flow


def _stats(settings: Settings, since: str, flow: str | None, flows=None):
    """The report's numbers from the configured store (BOT_DATABASE_URL or the SQLite file)."""
    from .ops.report import collect
    from .stores import open_store
    store = open_store(settings)
    try:
        return collect(store, since, flow, flows)
    finally:
        store.close()


def cmd_graph(args, settings: Settings) -> int:
    from .errors import GraphError
    from .flow.graph import draw
    flow = _flow_from(args.flow, settings)
    if flow is None:
        return 1
    stats = None
    if args.stats:
        from .flow.files import FlowSet
        stats = _stats(settings, args.since, flow.id, FlowSet([flow]))
    try:
        print(f"wrote {draw(flow, args.output, stats)}")
    except GraphError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def cmd_classify(args, settings: Settings) -> int:
    from .flow.recognise import explain, recognise
    if args.route:
        router = _router(settings)
        if router is None:
            return 1
        found = router.route(" ".join(args.text))
        print(found.line())
        if found.country != "FR":
            print(f"  country: {found.country}")
        if args.explain:
            print("why:")
            print("\n".join(f"  {line}" for line in found.why))
        return 0
    if args.flow and Path(args.flow).suffix in (".yaml", ".yml"):
        flow = _flow_from(args.flow, settings)
        if flow is None:
            return 1
    else:
        flows = _load(settings)
        if flows is None:
            return 1
        machine = flows.get(args.flow or flows.default)
        if machine is None:
            print(f"no flow {args.flow!r}; the flows loaded from {settings.flows} are: {', '.join(flows.ids)} "
                  "(or give a flow file)", file=sys.stderr)
            return 1
        flow = machine.flow
    if flow.classify_node is None:
        print(f"flow {flow.id!r} has no free-text question", file=sys.stderr)
        return 1
    node = flow.nodes[flow.classify_node]
    verdict = recognise(" ".join(args.text), node.choices)
    top = verdict.choice or (verdict.candidates[0] if verdict.candidates else None)
    print(top or "none")
    state = "sure" if verdict.choice else ("to confirm: " + ", ".join(verdict.candidates)
                                            if verdict.candidates else "no match: the list is shown")
    print(f"  question {node.id!r}: {state}")
    for hit in verdict.hits:
        print(f"  {hit.choice:<14} {hit.score:4.2f}  {', '.join(hit.matched)}")
    if args.explain:
        print("why:")
        for line in explain(" ".join(args.text), node.choices):
            print(line)
    return 0


def cmd_evaluate(args, settings: Settings) -> int:
    from .flow.evaluate import cross_validate, evaluate, read_tsv
    if args.route:
        return _evaluate_route(args, settings)
    if not args.flow:
        print("evaluate: give a flow (a file or an id), or --route with --tsv", file=sys.stderr)
        return 2
    flow = _flow_from(args.flow, settings)
    if flow is None:
        return 1
    node_id = args.node or flow.classify_node
    node = flow.nodes.get(node_id) if node_id else None
    if node is None or not node.choices:
        print(f"flow {flow.id!r} has no question {node_id!r} to evaluate", file=sys.stderr)
        return 1
    examples = sum(len(c.recogniser.examples) for c in node.choices)
    if examples >= args.folds:
        report = cross_validate(node.choices, args.folds)
        print("\n".join(report.lines(f"{args.folds}-fold cross-validation on the {examples} examples "
                                     f"of {node.id!r} (held-out accuracy)", args.show_wrong)))
    else:
        print(f"question {node.id!r} has {examples} examples: too few to cross-validate")
    for tsv in args.tsv or []:
        try:
            items = read_tsv(tsv)
        except OSError as exc:
            print(f"{tsv}: {exc}", file=sys.stderr)
            return 1
        print()
        print("\n".join(evaluate(node.choices, items).lines(f"{tsv}", args.show_wrong)))
    return 0


def _evaluate_route(args, settings: Settings) -> int:
    """Company, sector and problem against labelled lines (company, sector, problem, message)."""
    from .flow.evaluate import read_route_tsv, route_report
    router = _router(settings)
    if router is None:
        return 1
    if not args.tsv:
        print("evaluate --route: give --tsv FILE (columns company, sector, problem, message)", file=sys.stderr)
        return 2
    for tsv in args.tsv:
        try:
            rows = read_route_tsv(tsv, args.half)
        except (OSError, ValueError) as exc:
            print(f"{tsv}: {exc}", file=sys.stderr)
            return 1
        print("\n".join(route_report(router, rows, f"{tsv}" + (f" ({args.half} half)" if args.half else ""),
                                      args.show_wrong)))
    return 0


def _clock_at(text: str):
    """A clock that starts at `text` (Paris time) and runs from there."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    start = datetime.fromisoformat(text.strip().replace("T", " "))
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo("Europe/Paris"))
    began = datetime.now(timezone.utc)
    return lambda: start + (datetime.now(timezone.utc) - began)


def cmd_chat(args, settings: Settings) -> int:
    from .console import run_console
    from .engine import Engine
    from .store import ConversationKey, StoreUnavailable
    from .stores import open_store
    if args.flow and Path(args.flow).suffix in (".yaml", ".yml"):  # an author trying their own file
        flow = _flow_from(args.flow, settings)
        if flow is None:
            return 1
        flows, args.flow = FlowSet([flow], flow.id), flow.id
    else:
        flows = _load(settings)
        if flows is None:
            return 1
        if args.flow and flows.get(args.flow) is None:
            print(f"chat --flow {args.flow}: no such flow; the flows loaded from {settings.flows} are: "
                  f"{', '.join(flows.ids)} (or give a flow file: --flow path/to/flow.yaml)", file=sys.stderr)
            return 2
    store = None if args.no_store else open_store(settings)
    key = ConversationKey.console(args.user or getpass.getuser())
    if args.fresh and store is not None:
        try:
            store.delete_sync(key)
        except StoreUnavailable:
            pass  # the conversation says the progress cannot be kept
    clock = None
    if getattr(args, "at", None):
        try:
            clock = _clock_at(args.at)
        except ValueError:
            print(f"--at {args.at!r}: expected a Paris date and time like \"2027-01-12 10:00\"", file=sys.stderr)
            return 2
    try:
        resume = "`python -m bot chat" + (f" --user {args.user}" if args.user else "") + "`"
        from .flow.route import load_router
        router, _ = load_router(settings.flows, flows)  # another company named: its general route
        return run_console(Engine(flows, settings.keep_unrecognised, settings.quiet_hours, router), store, key, args.flow,
                           args.lang, resume=resume, **({"clock": clock} if clock else {}))
    except KeyboardInterrupt:
        print()
        return 0
    finally:
        if store is not None:
            store.close()


def cmd_run(args, settings: Settings) -> int:
    if not settings.token and not sys.stdin.isatty():
        print("no TELEGRAM_BOT_TOKEN and no terminal: set TELEGRAM_BOT_TOKEN (see .env.example, or "
              "--env-file) to run the Telegram bot; `python -m bot chat` runs the conversation in a terminal",
              file=sys.stderr)
        return 2
    if not settings.token:
        print("No TELEGRAM_BOT_TOKEN set (see .env.example), so no Telegram bot starts; "
              "here is the same conversation in this terminal (`python -m bot chat`).", file=sys.stderr)
        args.flow, args.lang, args.no_store, args.fresh, args.user = None, "fr", False, False, None
        return cmd_chat(args, settings)
    flows = _load(settings)
    if flows is None:
        return 1
    from .telegram.app import run_bot
    return run_bot(settings, flows, webhook=args.webhook)


def _bot_request():
    """The Bot API client of the commands that call Telegram from a terminal (tests swap it)."""
    from .telegram.request import AiohttpRequest
    return AiohttpRequest()


def cmd_post(args, settings: Settings) -> int:
    """Publish (or update in place) the entry post in a channel or group, as /publier does."""
    import asyncio

    from telegram import Bot

    from .flow.model import tr
    from .stores import open_store
    from .telegram.publish import publish
    if not settings.token:
        print("No TELEGRAM_BOT_TOKEN set (see .env.example): the bot must post as itself.", file=sys.stderr)
        return 2
    flows = _load(settings)
    if flows is None:
        return 1
    machine = flows.get(args.flow or flows.default)
    if machine is None:
        print(f"no flow {args.flow!r}; the flows loaded from {settings.flows} are: {', '.join(flows.ids)}",
              file=sys.stderr)
        return 1
    flow = machine.flow

    async def post() -> str:
        store = open_store(settings)
        try:
            async with Bot(settings.token or "", base_url=settings.base_url, request=_bot_request()) as bot:
                return await publish(bot, store, args.chat, tr(flow.title, args.lang), flow.id, args.lang,
                                     flow.directory is not None)
        finally:
            store.close()
    print(asyncio.run(post()))
    return 0


def cmd_report(args, settings: Settings) -> int:
    """The operator's report: one self-contained HTML page, and/or the same tables as CSV."""
    from .ops.report import render_html, write_csv
    from .store import StoreUnavailable
    if args.output:
        try:
            import matplotlib  # noqa: F401  (the page's charts)
        except ImportError:
            print('report: the HTML page draws its charts with matplotlib, not installed here: '
                  'pip install -e ".[report]"', file=sys.stderr)
            return 2
    where = _store_place(settings)
    if not settings.database_url and not settings.db_path.exists():
        print(f"report: no progress store at {where}: nothing to report (set BOT_DATA_DIR or "
              "BOT_DATABASE_URL to the bot's own)", file=sys.stderr)
        return 1
    flows, _ = FlowSet.load([settings.flows], None)  # labels only: a flow with problems still names its nodes
    try:
        stats = _stats(settings, args.since, args.flow, flows)
    except (StoreUnavailable, ValueError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(render_html(stats), encoding="utf-8")
        print(f"wrote {args.output}")
    if args.csv:
        print(f"wrote {len(write_csv(stats, args.csv))} CSV files in {args.csv}")
    print(f"{_count(stats.conversations, 'conversation')}, {_count(stats.events, 'event')} since "
          f"{stats.since or 'the start'}, in {where}")
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _store_place(settings: Settings) -> str:
    """Where the store is, to say so: the SQLite file, or the PostgreSQL URL without its password."""
    if not settings.database_url:
        return str(settings.db_path)
    from urllib.parse import urlsplit
    url = urlsplit(settings.database_url)
    return url._replace(netloc=url.netloc.rpartition("@")[2]).geturl() if url.password else settings.database_url


def cmd_store_copy(args, settings: Settings) -> int:
    """Copy every conversation from one store URL to another; safe to run again."""
    import asyncio

    from .store import StoreUnavailable, copy_rows
    from .stores import store_from_url

    async def copy() -> tuple[int, int]:
        source = store_from_url(args.source, pool=settings.database_pool)
        try:
            target = store_from_url(args.target, pool=settings.database_pool)
        except ValueError:
            source.close()
            raise
        try:
            return await copy_rows(source, target, args.batch)
        finally:
            for store in (source, target):
                if hasattr(store, "aclose"):
                    await store.aclose()  # PostgreSQL: close its pool on this loop, gracefully
                else:
                    store.close()
    if args.source.startswith("sqlite:///") and not Path(args.source[len("sqlite:///"):]).exists():
        print(f"store copy: {args.source}: no such file", file=sys.stderr)  # SQLite would create it empty
        return 1
    try:
        copied, skipped = asyncio.run(copy())
    except (ValueError, StoreUnavailable) as exc:
        print(f"store copy: {exc}", file=sys.stderr)
        return 1
    print(f"copied {copied} conversations, skipped {skipped} already there")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options, each with a help text (`python -m bot COMMAND --help`)."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="The complaint bot's command line. "
                                     "`python -m bot COMMAND --help` shows one command's options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--env-file", metavar="PATH",
                        help="settings file to read (default: .env in the current folder, else beside the project)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _flow_commands(sub)
    _conversation_commands(sub)
    _operator_commands(sub)
    return parser


def _flow_commands(sub) -> None:
    """check, graph, report: the flows and what people did in them."""
    p = sub.add_parser("check", help="validate flow files: `file:line: problem`, exit 1 on any")
    p.add_argument("paths", nargs="*", help="flow files or folders (default: the flows folder)")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("graph", help="draw a flow (.svg/.png with graphviz, .mmd Mermaid without)")
    p.add_argument("flow", help="a flow file or a flow id")
    p.add_argument("-o", "--output", required=True, help="picture to write: cstream.svg, cstream.mmd...")
    p.add_argument("--stats", action="store_true", help="label arrows with how many people took them and "
                                                        "questions with their drop-off (from the store's events)")
    p.add_argument("--since", default="30d", help="with --stats: 30d (default), 7d, 2026-11-01, or '' for all")
    p.set_defaults(fn=cmd_graph)
    p = sub.add_parser("report", help="the operator's report: funnel, problems, outcomes, durations (HTML, CSV)")
    p.add_argument("--since", default="30d", help="30d (default), 7d, 2026-11-01, or '' for everything")
    p.add_argument("--flow", help="one flow id (default: every flow)")
    p.add_argument("-o", "--output", help="the HTML page to write (self-contained), e.g. report.html")
    p.add_argument("--csv", metavar="DIR", help="also write the tables as CSV files in DIR")
    p.set_defaults(fn=cmd_report)


def _conversation_commands(sub) -> None:
    """chat, classify, evaluate: a conversation in the terminal and the recogniser."""
    p = sub.add_parser("chat", help="the conversation in this terminal (resumes where you left off)")
    p.add_argument("--flow", help="flow id or flow file (default: the default flow)")
    p.add_argument("--lang", default="fr", choices=["fr", "en"], help="the interface's language (default fr)")
    p.add_argument("--user", help="whose progress to use (default: your login name)")
    p.add_argument("--fresh", action="store_true", help="forget the saved progress and start anew")
    p.add_argument("--no-store", action="store_true", help="keep nothing on disk")
    p.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'", help="run as if it were then (Paris time): opening "
                   "hours, dates, and the follow-up's reminders due by then, shown first")
    p.set_defaults(fn=cmd_chat)
    p = sub.add_parser("classify", help="which choice the free-text question maps TEXT to")
    p.add_argument("--flow", help="flow id or flow file (default: the default flow)")
    p.add_argument("--explain", action="store_true",
                   help="show which words, keywords, patterns and examples weighed")
    p.add_argument("--route", action="store_true", help="any company: print company<TAB>sector<TAB>problem "
                   "on the first line (the directory's slugs, `unknown`, or `-` when it is no consumer problem); "
                   "a company outside France adds a line `  country: BE`")
    p.add_argument("text", nargs="+", help="the message, as a person would type it")
    p.set_defaults(fn=cmd_classify)
    p = sub.add_parser("evaluate", help="how well the free-text question is understood: "
                                        "cross-validated accuracy on the flow's examples, confusion matrix")
    p.add_argument("flow", nargs="?", help="a flow file or a flow id (not with --route)")
    p.add_argument("--tsv", action="append", help="also score a labelled file (label<TAB>message; with --route "
                                                  "company<TAB>sector<TAB>problem<TAB>message); repeatable")
    p.add_argument("--route", action="store_true", help="score company, sector and problem (any company) "
                                                        "on the --tsv files")
    p.add_argument("--half", choices=["dev", "held-out"], help="with --route: only the even (dev) or odd "
                                                               "(held-out) lines of each file")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--node", help="the question (default: the flow's free-text question)")
    p.add_argument("--show-wrong", type=int, default=0, metavar="N", help="list up to N misread messages")
    p.set_defaults(fn=cmd_evaluate)


def _operator_commands(sub) -> None:
    """run, post, store: the bot itself, its entry post, its store."""
    p = sub.add_parser("run", help="run the Telegram bot (long polling, or --webhook)")
    p.add_argument("--webhook", action="store_true", help="serve a webhook instead of polling")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("post", help="publish the entry post in a channel or group (as /publier)")
    p.add_argument("chat", help="@channelname or the chat's numeric id; the bot must be an administrator there")
    p.add_argument("--lang", default="fr", choices=["fr", "en"], help="the post's language")
    p.add_argument("--flow", help="flow id its button opens (default: the default flow, any company; "
                                  "`cstream` for Cstream's own post)")
    p.set_defaults(fn=cmd_post)
    p = sub.add_parser("store", help="progress store tools: `store copy SOURCE TARGET`")
    store = p.add_subparsers(dest="store_command", required=True)
    p = store.add_parser("copy", help="copy every conversation from one store to another (resumable)",
                         description="SOURCE and TARGET are store URLs: sqlite:///data/progress.sqlite3 "
                                     "or postgresql://user@host:5432/database. Conversations already in "
                                     "TARGET at the same or a later revision are skipped, so running it "
                                     "again copies nothing twice and finishes an interrupted copy.")
    p.add_argument("source", help="store URL to copy from")
    p.add_argument("target", help="store URL to copy to")
    p.add_argument("--batch", type=int, default=500, help="conversations per transaction (default 500)")
    p.set_defaults(fn=cmd_store_copy)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(args.env_file or "auto")
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"setting: {problem}", file=sys.stderr)
        return 2
    if args.command in ("check", "run"):
        for warning in settings.unknown:
            print(f"warning: {warning}", file=sys.stderr)
    try:
        return args.fn(args, settings)
    except BrokenPipeError:
        # `python -m bot evaluate cstream | head`: the reader has gone; end quietly, as `cat` does,
        # and keep Python from reporting the pipe again when it flushes stdout at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("complaint-bot")
    except PackageNotFoundError:
        return "unknown (not installed)"

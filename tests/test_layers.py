"""The layers hold: no import cycle inside bot/engine (a function-level import counts too), the
engine imports nothing of Telegram, the store or the front ends, and no function is over 60 lines."""
import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def imports_of(path: Path, package: str) -> set[str]:
    """The bot modules a file imports, anywhere in it, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("bot")}


def graph(folder: str) -> dict[str, set[str]]:
    modules = {f"bot.{folder}.{p.stem}": p for p in (BOT / folder).glob("*.py") if p.stem != "__init__"}
    return {name: {m for m in imports_of(path, f"bot.{folder}") if m in modules and m != name}
            for name, path in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return trail + [node, nxt]
            if nxt not in state and (found := visit(nxt, trail + [node])):
                return found
        state[node] = 2
        return None
    for node in sorted(edges):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_the_engine_has_no_import_cycle():
    assert cycle(graph("engine")) is None


def test_the_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None and cycle({"a": {"b"}, "b": set()}) is None


def test_the_engine_imports_nothing_of_the_front_ends_the_store_or_telegram():
    for path in (BOT / "engine").glob("*.py"):
        text = path.read_text("utf-8")
        named = imports_of(path, "bot.engine")
        assert not any(m.startswith(("bot.telegram", "bot.store", "bot.console", "bot.conversation", "bot.ops"))
                       for m in named), (path.name, named)
        assert "import telegram" not in text and "from telegram" not in text, path.name


def test_no_function_runs_past_sixty_lines():
    """A longer function does several things: each gets its own name (issue « One way through »)."""
    long = [f"{path.relative_to(BOT.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
            for path in BOT.rglob("*.py") for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60]
    assert not long, long

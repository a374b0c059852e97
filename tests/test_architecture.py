"""The house holds its design: each part of bot/ imports only the parts the README's table
allows (the core nothing but itself; bluesky and store never each other; nothing but the CLI
imports the CLI). Read from the source (every import, lazy ones and TYPE_CHECKING ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

SHARED = {"errors", "log", "settings", "net", "__init__", "__main__"}
# part -> the parts of bot/ it may import (besides itself and bot's own __init__)
ALLOWED: dict[str, set[str]] = {
    "core": {"errors", "log"},
    "bluesky": {"core", "errors", "log", "settings", "net"},
    "store": {"core", "errors", "log", "settings"},
    "feed": {"core", "errors", "log", "settings", "net"},
    "cards": {"core", "errors", "log", "settings", "net"},
    "feed_checks": {"core", "errors", "log", "settings", "feed", "net"},
    "notify": {"core", "errors", "log", "settings", "net"},
    "html": {"core", "errors", "log"},
    "service": {"core", "bluesky", "store", "feed", "feed_checks", "cards", "notify", "html",
                "errors", "log", "settings", "bots", "net"},
    "cli": {"core", "bluesky", "store", "feed", "feed_checks", "cards", "notify", "html",
            "service", "errors", "log", "settings", "bots", "net"},
    "errors": set(),
    "log": set(),
    "net": {"errors"},
    "settings": {"errors"},
    "bots": {"errors", "settings"},
    "__main__": {"cli"},
}


def _part(module: str) -> str:
    """bot.core.issue -> core; bot.feed -> feed; bot -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, module: str) -> set[str]:
    """Every bot module `path` imports (absolute or relative), anywhere in the file."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "bot")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] == "bot":
                found.add(base)
                if base == "bot":  # `from bot import feed` imports the module bot.feed
                    found.update(f"bot.{a.name}" for a in node.names if _is_module(a.name))
    return found


def _is_module(name: str) -> bool:
    return (ROOT / "bot" / f"{name}.py").exists() or (ROOT / "bot" / name).is_dir()


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def test_every_part_of_bot_is_in_the_table():
    """A new module or package of bot/ must be given its place in the table first."""
    parts = {_part(m) for m, _ in _modules()}
    assert parts - set(ALLOWED) - {"__init__"} == set()


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_follow_the_table(module, path):
    """`module` imports only from the parts its own part may use."""
    mine = _part(module)
    if mine == "__init__":
        return  # bot/__init__.py: the version and user agent, imports nothing of bot
    allowed = ALLOWED[mine] | {mine, "__init__"}
    bad = sorted(i for i in _imports(path, module) if _part(i) not in allowed)
    assert bad == [], f"{module} ({mine}) may not import {bad}"


def test_bluesky_and_store_never_import_each_other():
    """The service carries values between them (a direct check beside the table's)."""
    for module, path in _modules():
        other = {"bluesky": "store", "store": "bluesky"}.get(_part(module))
        if other:
            assert not any(_part(i) == other for i in _imports(path, module)), module


def test_a_forbidden_import_is_caught(tmp_path):
    """The checker itself sees a lazy import inside a function (so the table test can fail)."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from bot.store.api import Store\n")
    assert _imports(f, "bot.core.x") == {"bot.store.api"}


# The third-party libraries each part owns: nothing else of bot/ imports them.
THIRD_PARTY: dict[str, set[str]] = {
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "atproto": {"bluesky"},
    "atproto_client": {"bluesky"},
    "atproto_core": {"bluesky"},
    "click": {"cli"},
    "apscheduler": {"service"},
    "httpx": {"feed", "cards", "notify", "net", "bluesky"},  # the edges: the network
}


def _third_party(path: Path) -> set[str]:
    """The top-level names of every absolute import of `path`, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_checker_finds_every_part_and_module():
    """The table tests cannot pass by finding nothing to check: every part of the table has
    modules, and the modules are many."""
    modules = _modules()
    assert len(modules) >= 50, f"only {len(modules)} modules of bot/ found under {ROOT}"
    parts = {_part(m) for m, _ in modules}
    assert set(ALLOWED) - parts == set()
    assert {lib for _, p in modules for lib in _third_party(p)} >= set(THIRD_PARTY) - {
        "atproto"}  # the SDK is imported by its parts (atproto_client, atproto_core)


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_each_library_stays_in_its_part(module, path):
    """SQLAlchemy and Alembic only in bot/store, atproto only in bot/bluesky, click only in
    bot/cli, APScheduler only in bot/service, httpx only in the edges."""
    mine = _part(module)
    bad = sorted(lib for lib in _third_party(path) if lib in THIRD_PARTY
                 and mine not in THIRD_PARTY[lib])
    assert bad == [], f"{module} ({mine}) may not import {bad}"


def test_a_library_out_of_its_part_is_caught(tmp_path):
    """The checker sees a lazy third-party import (so the library test can fail)."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    import sqlalchemy.orm\n    from click import echo\n")
    assert _third_party(f) >= {"sqlalchemy", "click"}


# The lexicon's JSON is written and read in bot/bluesky only (bot.bluesky.lexicon): elsewhere the
# bot handles values. The one NSID the core needs (what collection a post's address is in) is a
# constant of bot/core/address.py; docstrings and help texts may show an at:// address.
LEXICON_NSID_ALLOWED = {"bot.core.address": {"app.bsky.feed.post"}}


def _lexicon_literals(path: Path) -> list[str]:
    """Every string literal of `path` (docstrings aside) that is a lexicon key or names one:
    '$type', or anything with 'app.bsky.'."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
        and (node.value == "$type" or "app.bsky." in node.value)
    ]


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_lexicon_json_only_in_bluesky(module, path):
    """No '$type' and no `app.bsky.*` name outside bot/bluesky: the rest of bot/ builds and reads
    values (bot.core.post, bot.core.address), and bot.bluesky.lexicon turns them into records."""
    if _part(module) == "bluesky":
        return
    found = [s for s in _lexicon_literals(path) if s not in LEXICON_NSID_ALLOWED.get(module, ())]
    assert found == [], f"{module} writes or reads the lexicon's JSON: {found}"


def test_a_lexicon_literal_is_caught(tmp_path):
    """The checker sees a record dict built outside bot/bluesky (so the lexicon test can fail),
    and leaves docstrings alone."""
    f = tmp_path / "x.py"
    f.write_text('"""at://did/app.bsky.feed.post/x"""\n'
                 'def f():\n    return {"$type": "app.bsky.embed.external"}\n')
    assert sorted(_lexicon_literals(f)) == ["$type", "app.bsky.embed.external"]


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` (module -> modules it imports), or [] when there is none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return []
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, path + [node])
            if found:
                return found
        done.add(node)
        return []

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return []


def test_the_store_has_no_import_circle():
    """bot/store's modules import each other one way only (the Store at the top, its
    repositories below it, the database beneath them): no circle, not even a lazy one."""
    store = {m: p for m, p in _modules() if m.startswith("bot.store")}
    graph = {m: {i for i in _imports(p, m) if i in store and i != m} for m, p in store.items()}
    assert len(graph) >= 8
    assert _cycle(graph) == []


def test_an_import_circle_is_caught():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []

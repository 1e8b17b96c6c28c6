"""One home per SQL rule (issue 14): the hot-rank formula, each hormone's response to an event, the
trust model, task insertion and the lock order are each written in exactly one file, and every
named query in sql/queries is used by the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "sql" / "functions"
QUERIES = ROOT / "sql" / "queries"
# the harness's statements (being moved to harness/sql/) are checked by the harness, not here
HARNESS_QUERY_FILES = {"bench.sql", "faults.sql"}


def function_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(FUNCTIONS.glob("*.sql"))}


def code(text: str) -> str:
    """SQL without its comments: a rule is where it is computed, not where it is mentioned."""
    return re.sub(r"--[^\n]*", "", text)


@pytest.mark.parametrize(("rule", "pattern", "home"), [
    ("the hot-rank formula", r"\b1\.8\b", "10_hot_rank.sql"),
    # (not k_dopamine_reward_max: the bound of a task's reward column, checked with the task's row)
    ("which event moves which hormone", r"phoenix\.k_(dopamine|oxytocin|adrenaline|cortisol)_(?!reward_max)", "12_hormones.sql"),
    ("the trust model: evidence per event", r"phoenix\.k_trust_", "14_trust.sql"),
    # r <- lambda * r + p: phoenix.trust_update, which trust_rate and agent_outcome's one update of
    # the agent row both apply
    ("the trust model: the update", r"k_trust_forgetting\(\)\s*\*", "14_trust.sql"),
    ("the trust model: the value", r"\(r \+ 1\)", "14_trust.sql"),
    ("task insertion", r"INSERT INTO phoenix\.tasks\b", "20_task_submit.sql"),
    ("a new task's defaults", r"'general'", "20_task_submit.sql"),
    ("the lock order", r"THE LOCK ORDER", "19_locking.sql"),
])
def test_each_rule_has_one_home(rule, pattern, home):
    files = function_files()
    source = {name: (text if rule == "the lock order" else code(text)) for name, text in files.items()}
    found = sorted(name for name, text in source.items() if re.search(pattern, text))
    assert found == [home], f"{rule} is written in {found}; its one home is {home}"


def test_task_locking_functions_live_in_the_locking_file():
    defined = {name: set(re.findall(r"FUNCTION phoenix\.(\w+)\(", code(text))) for name, text in function_files().items()}
    for function in ("task_lock_tree", "task_lock", "task_lock_claim", "task_fail_dependents", "task_cancel_subtrees"):
        assert [name for name, fs in defined.items() if function in fs] == ["19_locking.sql"], function


def named_queries() -> dict[str, str]:
    found = {}
    for path in sorted(QUERIES.glob("*.sql")):
        if path.name in HARNESS_QUERY_FILES:
            continue
        for name in re.findall(r"^-- name: (\w+)", path.read_text(encoding="utf-8"), re.M):
            found[name] = path.name
    return found


def python_sources() -> str:
    """Every Python file of the project but the tests (the product and the harness), as one text."""
    skip = {"tests", ".venv", "docs", "build"}
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(ROOT.rglob("*.py"))
                     if not skip & set(p.relative_to(ROOT).parts[:-1]) and not p.name.startswith("."))


def test_every_named_query_is_used_by_the_code():
    source = python_sources()
    unused = sorted(f"{file}: {name}" for name, file in named_queries().items()
                    if not re.search(rf"""["']{name}["']""", source))
    assert not unused, f"named queries no code runs (remove them): {unused}"


def test_query_files_are_not_named_for_tables():
    """Files are named for what they hold; these old per-table files mixed several concerns."""
    assert not {"tasks.sql", "votes.sql", "events.sql", "hormone_cascades.sql"} & {p.name for p in QUERIES.glob("*.sql")}

"""A task submission from the command line: the options `submit` and `queue submit` both take, and
the one function that turns them (and a task file) into the task's fields.

Both commands list the same options so that a field added to a submission is added once, here,
and both commands take it.
"""

from __future__ import annotations

import difflib

import dataclasses
from pathlib import Path
from typing import Any, Optional

import typer

from phoenix_board.board import agents, errors, ids, inputs, models
from phoenix_board.board.db import Database
from phoenix_board.cli import render, toolkit

TitleOpt = typer.Option(None, "--title")
TeamOpt = typer.Option(None, "--team", "-t")
DescriptionOpt = typer.Option(None, "--description", "-d")
CategoryOpt = typer.Option(None, "--category", "-c")
PriorityOpt = typer.Option(None, "--priority", "-p", help="1 (low) to 10 (high); default 5.")
SizeOpt = typer.Option(None, "--size", help="fibonacci_size: 1, 2, 3, 5, 8, 13 or 21.")
PayloadOpt = typer.Option(None, "--payload", help="JSON object for the handler.")
DependsOnOpt = typer.Option([], "--depends-on", help="Task id; repeat for several.")
DeadlineOpt = typer.Option(None, "--deadline", help="+30m, +2h, +1d or ISO 8601 with zone.")
RewardOpt = typer.Option(None, "--reward", help="dopamine_reward, 0 to 10.")
MaxAttemptsOpt = typer.Option(None, "--max-attempts")
ReviewQuorumOpt = typer.Option(None, "--review-quorum", help="Peer verdicts needed; 0: no review.")
CreatedByOpt = typer.Option(None, "--created-by", help="Author agent: codename or id.")
NeedsPersonOpt = typer.Option(False, "--needs-person",
                              help="Ask for a person's verdict: the review (quorum at least 1) waits for a member's.")
KeyOpt = typer.Option(None, "--key", help="Idempotency key: submitting it again returns the same task.")
FileOpt = typer.Option(None, "--file", "-f", help="JSON file with the task's fields; flags override it.")
# flow control (docs/concepts/flow-control.md)
AtOpt = typer.Option(None, "--at", help="Not claimable before this time: +30m, +2h, +1d or ISO 8601 with zone.")
ConcurrencyKeyOpt = typer.Option(None, "--concurrency-key", help="At most --concurrency-limit tasks with this key in flight.")
ConcurrencyLimitOpt = typer.Option(None, "--concurrency-limit", help="With --concurrency-key; default 1.")

# A task file may name its fields as the flags do (size, key, reward, depends-on) or as the model
# and the JSON output do (fibonacci_size, idempotency_key, dopamine_reward, depends_on).
FILE_ALIASES = {"size": "fibonacci_size", "key": "idempotency_key", "reward": "dopamine_reward"}


@dataclasses.dataclass
class Submission:
    """A submission's fields, checked as far as they can be without the board (``spec``); the
    flags' dependencies and the author are references (short ids, codenames) only the board
    resolves."""

    data: dict[str, Any]
    spec: models.TaskSubmit
    depends_on: list[str]
    author: str | None

    @property
    def needs_board(self) -> bool:
        return bool(self.depends_on) or self.author is not None

    def resolve(self, db: Database) -> models.TaskSubmit:
        """The task to submit, its references resolved on the board."""
        spec = self.spec
        if self.depends_on:  # short ids need the board; the model checks the resolved list again
            spec = models.parse(models.TaskSubmit, {**self.data, "depends_on": [ids.task(db, d, "--depends-on")
                                                                                 for d in self.depends_on]})
        if self.author is not None:
            spec = spec.model_copy(update={"created_by": agents.resolve(db, self.author)})
        return spec


def build(*, title: Optional[str], team: Optional[str], description: Optional[str], category: Optional[str],
          priority: Optional[int], size: Optional[int], payload: Optional[str], depends_on: list[str],
          deadline: Optional[str], reward: Optional[float], max_attempts: Optional[int],
          review_quorum: Optional[int], created_by: Optional[str], key: Optional[str],
          file: Optional[Path], needs_person: bool = False, at: Optional[str] = None,
          concurrency_key: Optional[str] = None, concurrency_limit: Optional[int] = None) -> Submission:
    """The submission the options describe: the task file's fields, overridden by the flags, and
    checked by the model (every check that needs no database, before anything opens it)."""
    data: dict[str, Any] = {}
    if file is not None:
        try:
            content = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.InvalidInput(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise errors.InvalidInput(f"{file} is not UTF-8: {exc.reason} at byte {exc.start}") from None
        loaded = toolkit.json_arg(content, str(file))
        if not isinstance(loaded, dict):
            raise errors.InvalidInput(f"{file} must hold one JSON object with the task's fields")
        data.update(file_fields(loaded, str(file)))
    flags = {"title": title, "team": team, "description": description, "category": category, "priority": priority,
             "fibonacci_size": size, "payload": toolkit.json_arg(payload, "--payload"), "dopamine_reward": reward,
             "max_attempts": max_attempts, "review_quorum": review_quorum, "idempotency_key": key,
             "concurrency_key": concurrency_key, "concurrency_limit": concurrency_limit}
    data.update({k: v for k, v in flags.items() if v is not None})
    if needs_person:
        data["needs_person"] = True
    if deadline is not None:
        data["deadline"] = render.parse_when(deadline)
    if at is not None:
        data["not_before"] = render.parse_when(at)
    author = created_by if created_by is not None else data.pop("created_by", None)
    data.pop("created_by", None)
    return Submission(data, models.parse(models.TaskSubmit, data), list(depends_on), author)


def file_fields(loaded: dict[str, Any], where: str) -> dict[str, Any]:
    """A task file's fields under the model's names; an unknown one is refused, listing the valid."""
    valid = [*models.TaskSubmit.model_fields]
    out: dict[str, Any] = {}
    for name, value in loaded.items():
        field = str(name).replace("-", "_")
        field = FILE_ALIASES.get(field, field)
        if field not in valid:
            # a near miss names its field; otherwise the list (the flags' names, FILE_ALIASES, work too,
            # but listing both would pass the one-line limit)
            near = difflib.get_close_matches(field, [*valid, *FILE_ALIASES], n=1)
            alias = f" ({FILE_ALIASES[near[0]]})" if near and near[0] in FILE_ALIASES else ""
            hint = f"did you mean {near[0]}{alias}?" if near else f"valid fields: {', '.join(valid)}"
            raise errors.InvalidInput(f"{where}: unknown field {render.plain(inputs.shown(name))}; {hint}")
        if field in out:
            raise errors.InvalidInput(f"{where}: field {field} is given twice ({render.plain(inputs.shown(name))})")
        out[field] = value
    return out

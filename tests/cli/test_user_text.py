"""Text a user wrote reaches the operator's terminal as inert text (issue 12, point 13): Rich
markup is shown as typed, escape sequences and bidi controls are shown as their escapes, and no
command crashes on them. Run through the real command on a pseudo-terminal."""

from __future__ import annotations

import re

from phoenix_board.board import agents, comments, lifecycle
from phoenix_board.cli import render

# the window title, clear-screen, a live hyperlink, a markup closer and a right-to-left override
NASTY = "[/] \x1b]0;pwned\x07 \x1b[2J [link=https://evil.example]click[/link] \u202etxt.exe [bold]x"
ACTIVE = ("\x1b]0;", "\x1b[2J", "\x1b]8;", "\u202e", "\x07", "pwned\x07")


def assert_inert(out: str, readable: tuple[str, ...] = ("[/]", "[link=https://evil.example]", "\\u202e", "\\x1b")) -> None:
    for seq in ACTIVE:
        assert seq not in out, f"{seq!r} reached the terminal"
    assert "Traceback" not in out and "MarkupError" not in out
    # what the user wrote is still there to read, as typed (the table may wrap it: compare without
    # Rich's own colour codes, line breaks and borders)
    flat = re.sub(r"\s|│", "", re.sub(r"\x1b\[[0-9;]*m", "", out))
    for piece in readable:
        assert piece.replace(" ", "") in flat, piece


def test_plain_and_safe_make_every_control_visible():
    assert render.plain("a\x1b[2Jb\u202ec\x9bd\td") == "a\\x1b[2Jb\\u202ec\\x9bd\\td"
    assert render.safe("[/] [link=x]y[/link]") == "\\[/] \\[link=x]y\\[/link]"
    render.console.render_str(render.safe(NASTY))  # parses as markup without an error


def test_board_show_submit_and_agents_show_user_text_as_typed(db, tty):
    author, _ = agents.register(db, {"codename": "author-1", "team": "iota"})
    critic, _ = agents.register(db, {"codename": "critic-1", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": NASTY, "team": "iota", "description": NASTY, "created_by": author.id,
                                    "category": "noop"})
    comments.add(db, task.id, critic.id, NASTY)

    assert_inert(tty("board").stdout, ("[/]", "\\x1b"))  # the listing shows the title's start
    assert_inert(tty("show", str(task.id)).stdout)
    assert_inert(tty("submit", "--title", NASTY, "--team", "iota", "--category", "noop").stdout)
    shown = tty("show", str(task.id), "--tree").stdout
    assert "\x1b]0;" not in shown and "\u202e" not in shown and "[/]" in shown

"""The progress bar that export, import, sync and check draw on a terminal (on stderr).

Drawn here rather than by ``click.progressbar``: importing click's bar cost 6-8 ms a command
that only a terminal paid, and each of its redraws went through click's output handling. A
redraw here is one write of one line."""

import contextlib
import os
import sys
import time

#: seconds between two redraws: redrawing once per job made a terminal export of 20,000
#: jobs 30-50 % slower
REDRAW_INTERVAL = 0.1
#: characters between the bar's brackets
BAR_WIDTH = 36


class _Line:
    """One line of stderr, rewritten in place (carriage return, the text, spaces over what
    a longer previous text left)."""

    def __init__(self, label, out):
        self.label = label
        self.out = out
        self.shown = 0  # characters on the line now
        try:
            columns = os.get_terminal_size(out.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        # 0: a terminal that was given no size (a pty nobody sized): a terminal's usual 80
        self.columns = max(columns - 1, 20) if columns > 0 else 79

    def draw(self, done, total, nbytes):
        label = self.label if nbytes is None else f"{self.label} ({nbytes / 1e6:.1f} MB)"
        count = f"{done}/{total}"
        # a line wider than the terminal would wrap and leave a copy per redraw: the bar
        # narrows first, then goes; the count stays
        width = min(BAR_WIDTH, self.columns - len(label) - len(count) - 6)
        if width >= 5:
            filled = width * min(done, total) // total if total > 0 else width
            text = f"{label}  [{'#' * filled}{'-' * (width - filled)}]  {count}"
        else:
            text = f"{label}  {count}"[-self.columns:]
        self.out.write("\r" + text.ljust(self.shown))
        self.out.flush()
        self.shown = len(text)

    def end(self):
        self.out.write("\n")
        self.out.flush()


@contextlib.contextmanager
def progress_bar(label, quiet=False):
    """``with progress_bar(label) as update:`` -- ``update(done, total, nbytes=None)`` draws a
    bar on stderr when it is a terminal, at most every :data:`REDRAW_INTERVAL` seconds; the
    last state is drawn when the block ends (also by an exception), then a newline. Off a
    terminal or with ``quiet``, ``update`` is None: callers skip the calls altogether."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    line = _Line(label, sys.stderr)
    state = {"drawn": None, "pending": None}  # drawn: when last drawn (None: never)

    def update(done, total, nbytes=None):
        now = time.monotonic()
        if state["drawn"] is None or now - state["drawn"] >= REDRAW_INTERVAL:
            line.draw(done, total, nbytes)
            state["drawn"], state["pending"] = now, None
        else:
            state["pending"] = (done, total, nbytes)

    try:
        yield update
    finally:
        if state["pending"] is not None:
            line.draw(*state["pending"])
        if state["drawn"] is not None:
            line.end()

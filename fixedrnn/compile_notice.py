"""A one-line notice on stderr while numba compiles a kernel.

numba compiles each kernel on its first call and caches the machine code (``__pycache__`` beside the
modules, or ``$NUMBA_CACHE_DIR``); later runs load it. A fresh install therefore pauses for a few
seconds on its first run: :func:`compile_notice` says so once, when a compilation actually starts
(numba's ``numba:compile`` event fires on a cache miss only), and stays silent when the cache is warm.
"""

import contextlib
import sys

from numba.core import event

#: The line printed (once) when the first compilation starts.
NOTICE = "fixedrnn: compiling kernels, first run only (later runs load them from numba's cache)..."


class _NoticeOnce(event.Listener):
    """Prints :data:`NOTICE` to ``stream`` at the first compilation it hears of."""

    def __init__(self, stream):
        self.stream = stream
        self.shown = False

    def on_start(self, ev):
        if not self.shown:
            self.shown = True
            print(NOTICE, file=self.stream, flush=True)

    def on_end(self, ev):
        pass


@contextlib.contextmanager
def compile_notice(stream=None):
    """Within the block, the first numba compilation prints :data:`NOTICE` on ``stream`` (default
    ``sys.stderr``)."""
    with event.install_listener("numba:compile", _NoticeOnce(sys.stderr if stream is None else stream)):
        yield

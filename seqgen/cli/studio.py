"""``seqgen studio``: serve the local web page (``seqgen.studio``) until Ctrl-C."""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import SeqgenError, UsageError, warn
from .common import SignalFlag, app, fail, friendly

# What bind says when the address is the trouble: not this machine's, or of a family it lacks.
HOST_ERRORS = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


@app.command()
@friendly
def studio(
    folder: Annotated[Path, typer.Argument(help="Folder of runs whose checkpoints the page offers.")] = Path("checkpoints"),
    host: Annotated[str, typer.Option(help="Address to listen on. Anything but this machine's own lets other machines in.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8000,
    browser: Annotated[bool, typer.Option(help="Open the page in the browser.")] = True,
    soundfont: Annotated[Optional[Path], typer.Option(help="General MIDI soundfont (.sf2) for sound. [default: one installed in the usual places]", show_default=False)] = None,
) -> None:
    """A local web page to generate from your models: text as it is written, tunes as sheet music
    you can play and download (tunes to order: meter, key, first bars)."""
    import uvicorn

    from ..music import tools
    from ..studio.app import create_app
    from ..studio.security import LOCAL_NAMES

    if not folder.is_dir():
        raise SeqgenError(f"no folder {folder}/; train a model first ('seqgen train FILE') or name the folder of runs")
    if soundfont is not None and not soundfont.is_file():
        raise UsageError(f"--soundfont {soundfont}: no such file; give a General MIDI .sf2 file")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535 (got {port})")
    sock = _bind(host, port)  # first: an address this machine does not have is the one line to say
    if host not in LOCAL_NAMES:
        warn(f"--host {host}: the studio is open to other machines on the network; anyone who can reach "
             "it can generate with your models")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{sock.getsockname()[1]}/"
    application = create_app(folder, host, soundfont)
    stopped = SignalFlag()
    server = _server(uvicorn.Config(application, log_level="warning", timeout_graceful_shutdown=2,
                                    lifespan="off"), application.state.jobs, stopped)
    opener = threading.Timer(1.0, webbrowser.open, [url])
    # Ctrl-C (or SIGTERM) asks the server to stop, whenever it comes: before uvicorn takes the
    # signals over (a KeyboardInterrupt raised then can land in an import and be swallowed), while
    # it has them, and after it hands them back (it raises them again once it has stopped).
    previous = {s: signal.signal(s, lambda signum, frame: server.stop(signum)) for s in SignalFlag.reasons}
    try:
        sys.stderr.write(f"seqgen studio: {folder}/ at {url} (Ctrl-C to stop)\n")
        if application.state.font is None:
            sys.stderr.write(f"note: no General MIDI soundfont found, so the page has no sound ("
                             f"{tools.INSTALL_HINTS['soundfont']}, or --soundfont FILE)\n")
        if browser:
            opener.start()
        server.run(sockets=[sock])
    finally:
        opener.cancel()
        application.state.archive.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stopped.signum:  # stopped cleanly, and said as any command says it was stopped
        fail(f"{stopped.reason}: seqgen studio stopped", stopped.exit_code)
    sys.stderr.write("seqgen studio: stopped\n")


def _server(config, jobs, stopped: SignalFlag):
    """uvicorn's server for the studio (uvicorn imported only when a studio starts)."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, which on Ctrl-C or SIGTERM first stops every generation, so that each
        request ends within uvicorn's grace period instead of being cancelled with a traceback;
        ``stopped`` notes the signal that stopped it."""

        def __init__(self, config, jobs):
            super().__init__(config)
            self.jobs = jobs

        def stop(self, signum: int) -> None:
            stopped.note(signum)
            self.jobs.close()
            self.should_exit = True

        def handle_exit(self, sig, frame) -> None:
            stopped.note(sig)
            self.jobs.close()
            super().handle_exit(sig, frame)

    return Server(config, jobs)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one clear line."""
    from ..studio.streaming import limit_send_buffer

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = None
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)  # a machine without IPv6 refuses here
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        limit_send_buffer(sock)
        sock.bind((host, port))
    except OSError as exc:
        if sock is not None:
            sock.close()
        why = exc.strerror or str(exc)
        if isinstance(exc, socket.gaierror) or exc.errno in HOST_ERRORS:  # the host, not the port
            raise SeqgenError(f"cannot listen on --host {host}: {why}; give an address of this machine "
                              "(127.0.0.1 for this machine alone, 0.0.0.0 for every network it is on)") from None
        raise SeqgenError(f"cannot listen on {host}:{port}: {why}; choose another --port "
                          "(or --port 0 for any free one)") from None
    sock.listen(64)
    return sock

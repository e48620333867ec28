"""The studio's work is bounded: a page that stops reading or goes away lets its model go, a
server that stops ends its jobs and leaves no temporary files, and the list of checkpoints answers while
a hostile request is in flight. A real server on a real socket: backpressure and disconnects are
what a test client cannot show."""

import json
import os
import signal
import socket
import threading
import time

import pytest
import uvicorn

from seqgen.cli.studio import _bind
from seqgen.models.rnn import RNNLM
from seqgen.studio import streaming
from seqgen.studio.app import create_app
from seqgen.studio.jobs import Limits

from .test_studio_browser import Studio

MUSIC, TEXT = "folk-music/best.pt", "prose-char/best.pt"


class Server:
    """``create_app`` served by uvicorn in a thread of this process, on a free port."""

    def __init__(self, root, limits: Limits):
        sock = _bind("127.0.0.1", 0)  # as `seqgen studio` listens
        self.port = sock.getsockname()[1]
        app = create_app(root, limits=limits)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    def send(self, body: dict) -> socket.socket:
        """A request whose answer is not read (yet): a socket with a small receive buffer."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.connect(("127.0.0.1", self.port))
        data = json.dumps(body).encode()
        s.sendall(f"POST /api/sample HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        return s

    def status(self, body: dict | None = None) -> int:
        """The status of a request, read at once (``GET /api/checkpoints`` without a body)."""
        s = socket.create_connection(("127.0.0.1", self.port))
        if body is None:
            s.sendall(f"GET /api/checkpoints HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        else:
            s.close()
            s = self.send(body)
        with s:
            return int(s.recv(64).split()[1])

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def server(studio_root, tools, tmp_path):
    served = Server(studio_root, Limits(stall_seconds=1.5))
    yield served
    served.stop()


@pytest.fixture
def slow_drawing(monkeypatch):
    """Each step of drawing takes 20 ms, so that 20 tunes take minutes; counts the steps."""
    steps = []
    real = RNNLM.next_scores

    def slow(self, x, hidden=None):
        steps.append(1)
        time.sleep(0.02)
        return real(self, x, hidden)

    monkeypatch.setattr(RNNLM, "next_scores", slow)
    return steps


STALL_LINE = "studio: a page read nothing for a while: its text stream was ended and its model freed"


@pytest.mark.slow
def test_streams_a_page_does_not_read_time_out_and_free_their_slots(studio_root, tools, tmp_path, caplog,
                                                                   monkeypatch):
    # Streams far longer than the test waits: only the stall can free their slots. A stall shows
    # once the socket's and the server's buffers are full (some 100 kB), so a short stream would
    # end, and free its slot, before any stall was seen. Each character its own piece, at most one
    # drawn ahead: the buffers fill with a sixth of the characters (a chunk's framing is 5 bytes).
    monkeypatch.setattr(streaming, "PIECE_SECONDS", 0.0)
    monkeypatch.setattr(streaming, "CHUNKS_AHEAD", 1)
    server = Server(studio_root, Limits(stall_seconds=1.5, max_length=5_000_000))
    try:
        stalled = [server.send({"checkpoint": TEXT, "length": 5_000_000, "temperature": 1.0, "seed": s})
                   for s in (1, 2)]
        time.sleep(0.5)
        assert server.status({"checkpoint": TEXT, "length": 5}) == 429  # the model is taken
        started = time.monotonic()
        while server.status({"checkpoint": TEXT, "length": 5}) == 429:
            assert time.monotonic() - started < 120, "a stream that nobody reads held its model"
            time.sleep(0.5)
        # The model is freed first; the line saying why comes when uvicorn reports the response it
        # left unfinished, a moment later on a busy machine.
        said_at = time.monotonic()
        while STALL_LINE not in [r.getMessage() for r in caplog.records] and time.monotonic() - said_at < 15:
            time.sleep(0.1)
        for s in stalled:
            s.close()
    finally:
        server.stop()
    said = [r.getMessage() for r in caplog.records]
    assert STALL_LINE in said
    assert not any("without completing response" in m for m in said)  # uvicorn's alarm, for what was meant


def test_a_page_that_goes_away_stops_its_tunes(server, slow_drawing):
    page = server.send({"checkpoint": MUSIC, "tunes": 4, "seed": 1})
    while len(slow_drawing) < 20:
        time.sleep(0.05)
    assert server.status() == 200  # the list answers while the model draws
    page.close()
    started = time.monotonic()
    while server.status({"checkpoint": MUSIC, "tunes": 1, "seed": 1, "meter": "banana"}) == 429:
        assert time.monotonic() - started < 10, "tunes went on being drawn for a page that had gone"
        time.sleep(0.2)
    drawn = len(slow_drawing)
    time.sleep(1)
    assert len(slow_drawing) == drawn  # nothing draws any more


def test_a_page_that_stops_its_tunes_may_start_again_at_once(server, slow_drawing):
    page = server.send({"checkpoint": MUSIC, "tunes": 4, "seed": 1})
    heard = b""
    while b'"event": "progress"' not in heard:  # the drawing has begun, and says so
        heard += page.recv(4096)
    assert b"application/x-ndjson" in heard.split(b"\r\n\r\n")[0]
    while len(slow_drawing) < 20:
        time.sleep(0.05)
    page.close()  # the page's Stop: its fetch aborted
    started = time.monotonic()
    # Not 429: the model is free for the next request at once (a meter refused only once it is held).
    assert server.status({"checkpoint": MUSIC, "tunes": 1, "seed": 1, "meter": "banana"}) == 400
    assert time.monotonic() - started < 5
    drawn = len(slow_drawing)
    time.sleep(1)
    assert len(slow_drawing) == drawn  # the server's thread draws no more


def test_a_hostile_meter_does_not_hold_the_list(server):
    page = server.send({"checkpoint": MUSIC, "tunes": 1, "meter": "9999/1"})
    started = time.monotonic()
    assert server.status() == 200
    assert time.monotonic() - started < 1
    with page:
        assert int(page.recv(64).split()[1]) == 400


@pytest.mark.parametrize("signum, code, said", [(signal.SIGTERM, 143, "terminated"),
                                                 (signal.SIGINT, 130, "interrupted")])
def test_stopping_the_server_ends_its_jobs_and_removes_its_files(studio_root, tmp_path, signum, code, said):
    temp = tmp_path / "temp"
    temp.mkdir()
    os.environ["TMPDIR"] = str(temp)
    try:
        studio = Studio(studio_root, cwd=tmp_path)
    finally:
        del os.environ["TMPDIR"]
    port = int(studio.url.rsplit(":", 1)[1].strip("/"))
    requests = []
    for body in ({"checkpoint": TEXT, "length": 20000}, {"checkpoint": MUSIC, "tunes": 20}):
        s = socket.create_connection(("127.0.0.1", port))
        data = json.dumps(body).encode()
        s.sendall(f"POST /api/sample HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        requests.append(s)
    time.sleep(1)
    before = len(studio.lines)
    studio.process.send_signal(signum)
    assert studio.process.wait(20) == code  # as any command stopped so
    time.sleep(1)  # a job that outlived the server would make its folder again now
    assert "Traceback" not in studio.stderr, studio.stderr
    assert studio.lines[before:] == [f"error: {said}: seqgen studio stopped\n"], studio.stderr  # one line
    assert list(temp.iterdir()) == []
    for s in requests:
        s.close()

"""Downloads into the per-user cache, against an HTTP server on loopback started by the test."""

import hashlib
import http.server
import socket
import threading

import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.models import cached_path, download

PAYLOAD = bytes(range(256)) * 400  # 100 KiB, spans several reads of the progress loop
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    # path -> (bytes sent, Content-Length announced); the "short" route lies about its length.
    routes = {
        "/fold0.safetensors": (PAYLOAD, len(PAYLOAD)),
        "/short.safetensors": (PAYLOAD[:1000], len(PAYLOAD)),
    }

    def do_GET(self):
        if self.path not in self.routes:
            self.send_error(404, "Not Found")
            return
        body, announced = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture()
def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fold0.safetensors"


class Recorder:
    def __init__(self):
        self.fractions = []

    def update(self, stage, fraction, message=""):
        self.fractions.append(fraction)


def cache_files(cache):
    folder = cache / "weights"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_names_file_by_checksum(server, tmp_path):
    progress = Recorder()
    path = download(f"{server}/fold0.safetensors", PAYLOAD_SHA, tmp_path, progress)
    assert path == tmp_path / "weights" / f"{PAYLOAD_SHA}.safetensors"
    assert path.read_bytes() == PAYLOAD
    assert progress.fractions[-1] == 1.0 and progress.fractions == sorted(progress.fractions)
    assert cache_files(tmp_path) == [path.name]


def test_cache_hit_needs_no_network(server, tmp_path, closed_port_url):
    first = download(f"{server}/fold0.safetensors", PAYLOAD_SHA, tmp_path)
    assert download(closed_port_url, PAYLOAD_SHA, tmp_path) == first


def test_corrupted_cache_entry_is_fetched_again(server, tmp_path):
    stale = cached_path(f"{server}/fold0.safetensors", PAYLOAD_SHA, tmp_path)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"bit rot")
    assert download(f"{server}/fold0.safetensors", PAYLOAD_SHA, tmp_path).read_bytes() == PAYLOAD


def test_wrong_checksum_keeps_nothing(server, tmp_path):
    wrong = "ab" * 32
    with pytest.raises(InputError, match=f"SHA-256 mismatch \\(expected {wrong}, got {PAYLOAD_SHA}\\)"):
        download(f"{server}/fold0.safetensors", wrong, tmp_path)
    assert cache_files(tmp_path) == []


def test_truncated_download_keeps_nothing(server, tmp_path):
    with pytest.raises(InputError, match=f"truncated, received 1000 of {len(PAYLOAD)} bytes"):
        download(f"{server}/short.safetensors", PAYLOAD_SHA, tmp_path)
    assert cache_files(tmp_path) == []


def test_connection_refused_says_no_network_and_where_to_put_the_file(tmp_path, closed_port_url):
    with pytest.raises(InputError, match=r"no network or server unreachable \(.*refused.*\); to work offline, put the file at .*weights"):
        download(closed_port_url, PAYLOAD_SHA, tmp_path)
    assert cache_files(tmp_path) == []


def test_http_error_and_bad_checksum_argument(server, tmp_path):
    with pytest.raises(InputError, match="HTTP 404 Not Found"):
        download(f"{server}/absent.safetensors", PAYLOAD_SHA, tmp_path)
    with pytest.raises(InputError, match="is not a lower-case hex SHA-256"):
        download(f"{server}/fold0.safetensors", "1234", tmp_path)
    assert cache_files(tmp_path) == []


def test_default_cache_is_per_user_and_overridable(server, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "user-cache"))
    path = download(f"{server}/fold0.safetensors", PAYLOAD_SHA)
    assert path.parent == tmp_path / "user-cache" / "weights"

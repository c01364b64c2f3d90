"""Shared helpers for the python-unit tests: load main.py, fake tokens and archives, a loopback
fake backend (the REST calls a unit makes) and a polling wait."""

import base64
import importlib.util
import io
import json
import os
import tarfile
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEMPLATE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN_PY = os.path.join(TEMPLATE_DIR, "main.py")
API_PREFIX = "/pepeunit/api/v1"


def load_main():
    """main.py as a module under a unique name (a module called `main` may exist elsewhere)."""
    spec = importlib.util.spec_from_file_location("pepeunit_python_unit_main", MAIN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(unit_uuid, extra=None):
    """A unit JWT shaped like the backend's: compact {"uuid":...,"type":"Unit"} payload."""
    payload = {"uuid": unit_uuid, "type": "Unit"}
    payload.update(extra or {})
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return "%s.%s.%s" % (header, body, b64url(b"not-checked-by-the-device"))


def make_schema(domain, unit_uuid, input_nodes, output_nodes, extra_base=()):
    base_in = ["update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit"]
    base_in.extend(extra_base)
    return {
        "input_base_topic": {
            name: ["%s/input_base_topic/%s/%s" % (domain, unit_uuid, name)] for name in base_in
        },
        "output_base_topic": {
            "state/pepeunit": ["%s/output_base_topic/%s/state/pepeunit" % (domain, unit_uuid)]
        },
        "input_topic": {
            name: ["%s/%s/pepeunit" % (domain, node) for node in nodes]
            for name, nodes in input_nodes.items()
        },
        "output_topic": {
            name: ["%s/%s/pepeunit" % (domain, node)] for name, node in output_nodes.items()
        },
    }


def make_env(token, http_host, mqtt_host="127.0.0.1", mqtt_port=1883, commit="a" * 40, **extra):
    env = {
        "PEPEUNIT_URL": http_host,
        "HTTP_TYPE": "http",
        "PEPEUNIT_APP_PREFIX": "/pepeunit",
        "PEPEUNIT_API_ACTUAL_PREFIX": "/api/v1",
        "MQTT_URL": mqtt_host,
        "MQTT_PORT": mqtt_port,
        "PEPEUNIT_TOKEN": token,
        "SYNC_ENCRYPT_KEY": "c3luYw==",
        "SECRET_KEY": "c2VjcmV0",
        "PING_INTERVAL": 30,
        "STATE_SEND_INTERVAL": 60,
        "DELAY_PUB_MSG": 1,
        "START_VALUE": "0",
        "COMMIT_VERSION": commit,
    }
    env.update(extra)
    return env


def write_unit_dir(directory, env, schema, version="1.0.0", main_py=True):
    with open(os.path.join(directory, "env.json"), "w") as sink:
        json.dump(env, sink, indent=4)
    with open(os.path.join(directory, "schema.json"), "w") as sink:
        json.dump(schema, sink, indent=4)
    with open(os.path.join(directory, "VERSION"), "w") as sink:
        sink.write(version + "\n")
    if main_py:
        with open(MAIN_PY, "rb") as source, open(os.path.join(directory, "main.py"), "wb") as sink:
            sink.write(source.read())


def make_tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: list of (name, bytes | None for a dir | ("symlink"|"hardlink"|"fifo", target))."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            elif isinstance(content, tuple):
                kind, target = content
                info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                             "fifo": tarfile.FIFOTYPE}[kind]
                info.linkname = target or ""
                archive.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def zlib_compress(data, wbits=9, level=9):
    """What the backend's "tgz" is: the tar through zlib.compressobj(level, DEFLATED, wbits)."""
    encoder = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return encoder.compress(data) + encoder.flush()


def firmware_archive(files, wbits=9):
    """A firmware tgz like the backend builds: `./`-prefixed members at the root."""
    entries = [("./", None)] + [("./" + name, content) for name, content in files.items()]
    return zlib_compress(make_tar(entries), wbits=wbits)


def wait_for(predicate, timeout=15.0, interval=0.05):
    """Poll until predicate() is truthy; returns its value or None at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class FakeBackend:
    """The unit-facing REST endpoints on a loopback port, with canned bodies per unit."""

    def __init__(self, token, unit_uuid):
        self.token = token
        self.unit_uuid = unit_uuid
        self.firmware = b""
        self.env_body = b'""'
        self.schema_body = b'""'
        self.requests = []
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                backend._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self):
        return "127.0.0.1:%d" % self._server.server_address[1]

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, handler):
        url = urllib.parse.urlsplit(handler.path)
        with self._lock:
            self.requests.append({"path": url.path, "query": urllib.parse.parse_qs(url.query),
                                  "token": handler.headers.get("x-auth-token")})
        if handler.headers.get("x-auth-token") != self.token:
            return self._reply(handler, 403, b'{"detail":"403: 1: No Access: Token is invalid"}')
        routes = {
            API_PREFIX + "/units/firmware/tgz/" + self.unit_uuid: lambda: self.firmware,
            API_PREFIX + "/units/env/" + self.unit_uuid: lambda: self.env_body,
            API_PREFIX + "/units/get_current_schema/" + self.unit_uuid: lambda: self.schema_body,
        }
        route = routes.get(url.path)
        if route is None:
            return self._reply(handler, 404, b'{"detail":"404: Not Found"}')
        self._reply(handler, 200, route())

    @staticmethod
    def _reply(handler, status, body):
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

#!/usr/bin/python3
"""Pepeunit Linux unit: a real device program (2024-generation env keys).

Reads env.json and schema.json from its own directory, connects to the Pepeunit broker with its
unit token as MQTT username (empty password), publishes its state and an output value, echoes
values that arrive on its inputs to its outputs, and follows the backend's commands:
Update (download the tgz firmware with its token, unpack safely, install, re-exec),
EnvUpdate, SchemaUpdate and LogSync. Uses only the standard library and Debian's
python3-paho-mqtt (1.6.x).

Run: /usr/bin/python3 main.py
"""

import base64
import datetime
import json
import os
import queue
import shutil
import signal
import socket
import struct
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zlib

try:
    import paho.mqtt.client as mqtt
except ImportError:  # keeps the pure helpers importable; main() reports the missing package
    mqtt = None

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
ENV_FILE = "env.json"
SCHEMA_FILE = "schema.json"
LOG_FILE = "log.json"
VERSION_FILE = "VERSION"

# Logical names of the reserved base topics (keys inside schema.json sections).
UPDATE_TOPIC = "update/pepeunit"
ENV_UPDATE_TOPIC = "env_update/pepeunit"
SCHEMA_UPDATE_TOPIC = "schema_update/pepeunit"
LOG_SYNC_TOPIC = "log_sync/pepeunit"
STATE_TOPIC = "state/pepeunit"
LOG_TOPIC = "log/pepeunit"

SCHEMA_SECTIONS = ("input_base_topic", "output_base_topic", "input_topic", "output_topic")
STATE_KEYS = ("millis", "mem_free", "mem_alloc", "freq", "statvfs", "ifconfig", "commit_version")

# The archive is requested as a zlib stream with a 512-byte window, as a microcontroller does,
# and decoded with that same small window: a backend that ignored wbits fails here, not on an ESP.
FIRMWARE_WBITS = 9
FIRMWARE_LEVEL = 9
MAX_FIRMWARE_BYTES = 64 * 1024 * 1024  # unpacked tar; bounds a decompression bomb
MAX_ARCHIVE_MEMBERS = 10000
MAX_BODY_BYTES = 4 * 1024 * 1024  # env/schema responses
HTTP_TIMEOUT_S = 30
LOG_FILE_MAX_BYTES = 256 * 1024
LOG_TEXT_MAX_CHARS = 256  # the UI expects short texts
LOG_SYNC_BATCH = 50
DEFAULT_APP_PREFIX = "/pepeunit"
DEFAULT_API_PREFIX = "/api/v1"
DEFAULT_STATE_INTERVAL_S = 60.0
DEFAULT_PUB_DELAY_S = 1.0
DEFAULT_KEEPALIVE_S = 60
MAX_EVENT_WAIT_S = 0.5  # how long SIGTERM may wait for the main loop to notice it


class UnitError(Exception):
    """A failure the unit reports and survives (bad config, bad body, failed download...)."""


class UnsafeArchiveError(UnitError):
    """A firmware archive that would write outside the unit directory or create links."""


# ---------------------------------------------------------------------------------------------
# Pure helpers (unit-tested without a broker or a backend)
# ---------------------------------------------------------------------------------------------


def unit_uuid_from_token(token):
    """The unit uuid from the unit JWT's payload: devices never receive it any other way."""
    if not isinstance(token, str):
        raise UnitError("token is not a string")
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        raise UnitError("token is not a JWT")
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        # urlsafe_b64decode also accepts the standard alphabet that 2024 clients used.
        payload = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except ValueError as error:  # binascii.Error, UnicodeError and JSONDecodeError included
        raise UnitError("token payload is not base64url JSON: %s" % error) from None
    unit_uuid = payload.get("uuid") if isinstance(payload, dict) else None
    if not isinstance(unit_uuid, str):
        raise UnitError("token payload has no uuid")
    try:
        uuid.UUID(unit_uuid)  # it goes into URL paths: accept nothing but a uuid
    except ValueError:
        raise UnitError("token uuid %r is not a uuid" % unit_uuid) from None
    return unit_uuid


def decode_json_body(body):
    """A REST env/schema body as a dict.

    2024-generation backends return the object JSON-encoded inside a JSON string; 2026 ones
    return the object itself. Both are accepted.
    """
    try:
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        value = json.loads(body)
        if isinstance(value, str):
            value = json.loads(value)
    except ValueError as error:
        raise UnitError("body is not JSON: %s" % error) from None
    if not isinstance(value, dict):
        raise UnitError("body is not a JSON object")
    return value


def normalize_schema(schema):
    """schema.json checked for shape: every section a dict of name -> list of topic strings."""
    if not isinstance(schema, dict):
        raise UnitError("schema is not a JSON object")
    result = dict(schema)
    for section in SCHEMA_SECTIONS:
        names = schema.get(section, {})
        if not isinstance(names, dict):
            raise UnitError("schema section %s is not an object" % section)
        clean = {}
        for name, topics in names.items():
            if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
                raise UnitError("schema %s[%r] is not a list of topics" % (section, name))
            clean[name] = list(topics)
        result[section] = clean
    return result


def _unique(items):
    seen = set()
    return [item for item in items if not (item in seen or seen.add(item))]


def subscription_topics(schema):
    """Every topic the unit subscribes to: its input base topics and its input topics."""
    topics = []
    for section in ("input_base_topic", "input_topic"):
        for physical in schema.get(section, {}).values():
            topics.extend(physical)
    return _unique(topics)


def command_topics(schema):
    """Physical input base topic -> logical command name (devices key off the topic)."""
    return {
        topic: name
        for name, physical in schema.get("input_base_topic", {}).items()
        for topic in physical
    }


def input_topics(schema):
    return set(t for physical in schema.get("input_topic", {}).values() for t in physical)


def output_topics(schema):
    """Every topic of every output name: values go to all of them."""
    return _unique(t for physical in schema.get("output_topic", {}).values() for t in physical)


def first_topic(schema, section, name):
    topics = schema.get(section, {}).get(name) or []
    return topics[0] if topics else None


def api_base_url(env):
    """{HTTP_TYPE}://{PEPEUNIT_URL}{PEPEUNIT_APP_PREFIX}{PEPEUNIT_API_ACTUAL_PREFIX}."""
    host = env.get("PEPEUNIT_URL")
    if not isinstance(host, str) or not host:
        raise UnitError("env.json has no PEPEUNIT_URL")
    scheme = env.get("HTTP_TYPE") if env.get("HTTP_TYPE") in ("http", "https") else "https"
    # The prefix keys arrived in 2025-01; older env files imply the fixed /pepeunit/api/v1.
    app_prefix = env.get("PEPEUNIT_APP_PREFIX", DEFAULT_APP_PREFIX)
    api_prefix = env.get("PEPEUNIT_API_ACTUAL_PREFIX", DEFAULT_API_PREFIX)
    return "%s://%s%s%s" % (scheme, host, app_prefix or "", api_prefix or "")


def env_number(env, key, default, minimum):
    value = env.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return default
    try:
        value = float(value)
    except ValueError:
        return default
    return max(value, minimum) if value == value else default  # NaN -> default


def load_json_file(path):
    with open(path, "r", encoding="utf-8") as source:
        value = json.load(source)
    if not isinstance(value, dict):
        raise UnitError("%s is not a JSON object" % os.path.basename(path))
    return value


def write_file_atomic(path, data):
    """Write via a temp file and rename, so a crash never leaves a half-written file."""
    directory = os.path.dirname(path) or "."
    fd, temp_path = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise


def write_json_file(path, value):
    text = json.dumps(value, indent=4, ensure_ascii=False) + "\n"
    write_file_atomic(path, text.encode("utf-8"))


def inflate_stream(chunks, sink, wbits=FIRMWARE_WBITS, limit=MAX_FIRMWARE_BYTES):
    """Decompress a zlib stream (as chosen by `wbits`) chunk by chunk into `sink`.

    Bounded in memory and in output size; a stream that stops before its end is an error.
    Returns the number of bytes written.
    """
    decoder = zlib.decompressobj(wbits)
    written = 0

    def emit(data):
        nonlocal written
        written += len(data)
        if written > limit:
            raise UnitError("firmware archive unpacks to more than %d bytes" % limit)
        sink.write(data)

    try:
        for chunk in chunks:
            pending = chunk
            while pending and not decoder.eof:
                emit(decoder.decompress(pending, 1 << 20))
                pending = decoder.unconsumed_tail
        emit(decoder.flush())
    except zlib.error as error:
        raise UnitError("firmware archive is not a wbits=%d zlib stream: %s" % (wbits, error))
    if not decoder.eof:
        raise UnitError("firmware archive is truncated")
    return written


def member_relative_path(name):
    """The archive-relative path of a tar member name; None for the root entry ("./").

    Raises UnsafeArchiveError for absolute names and names with '..' components.
    """
    if not name or "\x00" in name:
        raise UnsafeArchiveError("empty or NUL member name")
    if name.startswith("/") or name.startswith("\\"):
        raise UnsafeArchiveError("absolute member name %r" % name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError("member name %r leaves the archive root" % name)
    return "/".join(parts) or None


def safe_extract_tar(tar_path, dest_dir, limit=MAX_FIRMWARE_BYTES):
    """Extract a tar into `dest_dir` (a fresh staging directory), refusing anything unsafe.

    Absolute or '..' names, symlinks, hard links and device/fifo entries reject the whole
    archive (UnsafeArchiveError): a firmware with such members is not installed at all.
    Returns the relative paths of the regular files written.
    """
    files = []
    total = 0
    root = os.path.realpath(dest_dir)
    try:
        with tarfile.open(tar_path, mode="r:") as archive:
            for count, member in enumerate(archive, 1):
                if count > MAX_ARCHIVE_MEMBERS:
                    raise UnsafeArchiveError("more than %d members" % MAX_ARCHIVE_MEMBERS)
                relative = member_relative_path(member.name)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError("link member %r" % member.name)
                if not (member.isdir() or member.isfile()):
                    raise UnsafeArchiveError("special member %r" % member.name)
                if relative is None:
                    continue
                target = os.path.join(root, *relative.split("/"))
                if not os.path.realpath(target).startswith(root + os.sep):
                    raise UnsafeArchiveError("member %r escapes the staging dir" % member.name)
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                total += member.size
                if total > limit:
                    raise UnsafeArchiveError("archive holds more than %d bytes" % limit)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                source = archive.extractfile(member)
                with source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
                os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
                files.append(relative)
    except (tarfile.TarError, OSError) as error:
        raise UnitError("firmware archive cannot be unpacked: %s" % error) from None
    return _unique(files)


def install_tree(staging_dir, unit_dir, files):
    """Copy the staged files over the unit directory, each one replaced atomically.

    env.json goes last: it carries the version, so an install cut short leaves the old version
    in place and the backend's next Update retries instead of believing it succeeded.
    """
    ordered = sorted(files, key=lambda path: (path == ENV_FILE, path == SCHEMA_FILE, path))
    for relative in ordered:
        source = os.path.join(staging_dir, *relative.split("/"))
        target = os.path.join(unit_dir, *relative.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temp_path = target + ".pepeunit-new"
        shutil.copyfile(source, temp_path)
        shutil.copymode(source, temp_path)
        os.replace(temp_path, target)


# ---------------------------------------------------------------------------------------------
# Host facts for the state message (cheap reads; a missing source gives a neutral value)
# ---------------------------------------------------------------------------------------------


def _read_text(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as source:
            return source.read()
    except OSError:
        return ""


def memory_facts():
    """(free bytes on the host, bytes resident for this process)."""
    free = 0
    for line in _read_text("/proc/meminfo").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "MemAvailable:" and fields[1].isdigit():
            free = int(fields[1]) * 1024
    alloc = 0
    statm = _read_text("/proc/self/statm").split()
    if len(statm) >= 2 and statm[1].isdigit():
        alloc = int(statm[1]) * os.sysconf("SC_PAGE_SIZE")
    return free, alloc


def cpu_frequency_hz():
    khz = _read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq").strip()
    if khz.isdigit():
        return int(khz) * 1000
    for line in _read_text("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "cpu MHz":
            try:
                return int(float(value) * 1_000_000)
            except ValueError:
                break
    return 0  # unknown (e.g. some VMs): the key stays numeric as the backend expects


def statvfs_list(path):
    try:
        stat = os.statvfs(path)
    except OSError:
        return [0] * 10
    return [
        stat.f_bsize, stat.f_frsize, stat.f_blocks, stat.f_bfree, stat.f_bavail,
        stat.f_files, stat.f_ffree, stat.f_favail, stat.f_flag, stat.f_namemax,
    ]


def _ip_to_int(ip):
    # /proc/net/route prints addresses as native-endian integers of network-order bytes.
    return struct.unpack("=I", socket.inet_aton(ip))[0]


def _int_to_ip(value):
    return socket.inet_ntoa(struct.pack("=I", value))


def ifconfig_list(peer_host, peer_port):
    """[ip, netmask, gateway, dns] of the interface that reaches the broker."""
    ip = "0.0.0.0"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((peer_host, int(peer_port) or 1))  # UDP connect sends nothing
            ip = probe.getsockname()[0]
    except (OSError, ValueError, OverflowError):
        pass
    netmask, gateway, best = "0.0.0.0", "0.0.0.0", -1
    try:
        ip_value = _ip_to_int(ip)
        for line in _read_text("/proc/net/route").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 8:
                continue
            destination, via, mask = (int(fields[i], 16) for i in (1, 2, 7))
            if destination == 0 and mask == 0:
                gateway = _int_to_ip(via)
            elif ip_value & mask == destination and bin(mask).count("1") > best:
                netmask, best = _int_to_ip(mask), bin(mask).count("1")
    except (OSError, ValueError):
        pass
    if best < 0 and ip.startswith("127."):
        netmask = "255.0.0.0"
    dns = "0.0.0.0"
    for line in _read_text("/etc/resolv.conf").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            dns = fields[1]
            break
    return [ip, netmask, gateway, dns]


def build_state(commit_version, uptime_ms, unit_dir, ifconfig):
    """The state/pepeunit payload (2024 generation: version key `commit_version`)."""
    mem_free, mem_alloc = memory_facts()
    return {
        "millis": int(uptime_ms),
        "mem_free": mem_free,
        "mem_alloc": mem_alloc,
        "freq": cpu_frequency_hz(),
        "statvfs": statvfs_list(unit_dir),
        "ifconfig": list(ifconfig),
        "commit_version": commit_version,
    }


# ---------------------------------------------------------------------------------------------
# HTTP (urllib): x-auth-token header, no redirects (they would carry the token elsewhere)
# ---------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect)


def _open(url, token, accept):
    request = urllib.request.Request(
        url,
        headers={"x-auth-token": token, "accept": accept, "accept-encoding": "identity"},
    )
    try:
        return _OPENER.open(request, timeout=HTTP_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        detail = error.read(512).decode("utf-8", "replace").strip()
        raise UnitError("GET %s: HTTP %d %s" % (url, error.code, detail)) from None
    except (urllib.error.URLError, OSError) as error:
        raise UnitError("GET %s: %s" % (url, error)) from None


def http_get_bytes(url, token, limit=MAX_BODY_BYTES):
    with _open(url, token, "application/json") as response:
        try:
            body = response.read(limit + 1)
        except OSError as error:
            raise UnitError("GET %s: %s" % (url, error)) from None
    if len(body) > limit:
        raise UnitError("GET %s: body larger than %d bytes" % (url, limit))
    return body


def download_firmware(url, token, tar_path):
    """Stream the tgz (a zlib stream, wbits=9) from `url` and write the inflated tar."""
    with _open(url, token, "application/octet-stream") as response:
        expected = response.headers.get("Content-Length")
        received = 0

        def chunks():
            nonlocal received
            while True:
                chunk = response.read(64 * 1024)
                if not chunk:
                    return
                received += len(chunk)
                yield chunk

        try:
            with open(tar_path, "wb") as sink:
                inflate_stream(chunks(), sink)
        except OSError as error:
            raise UnitError("GET %s: %s" % (url, error)) from None
    if expected is not None and expected.isdigit() and int(expected) != received:
        raise UnitError("GET %s: got %d of %s bytes" % (url, received, expected))


# ---------------------------------------------------------------------------------------------
# The unit
# ---------------------------------------------------------------------------------------------


def _utc_now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class Unit:
    """All device behaviour; MQTT callbacks only enqueue, the main thread does the work."""

    def __init__(self, unit_dir, client_factory=None, http_get=http_get_bytes,
                 download=download_firmware, restart=None, clock=time.monotonic):
        self.unit_dir = unit_dir
        self._http_get = http_get
        self._download = download
        self._restart = restart or self._reexec
        self._clock = clock
        self._started = clock()
        self.events = queue.Queue()
        self.env = load_json_file(self._path(ENV_FILE))
        self.schema = normalize_schema(load_json_file(self._path(SCHEMA_FILE)))
        self.token = self.env.get("PEPEUNIT_TOKEN")
        self.uuid = unit_uuid_from_token(self.token)
        self.firmware_version = _read_text(self._path(VERSION_FILE)).strip() or "unknown"
        start_value = self.env.get("START_VALUE", 0)
        self.value = start_value if isinstance(start_value, str) else json.dumps(start_value)
        self.connected = False
        self.subscribed = []
        self._ifconfig = ["0.0.0.0"] * 4
        self._next_state = 0.0
        self._next_output = 0.0
        self._reload_settings()
        self._index_schema()
        self.client = client_factory(self) if client_factory else None

    # -- configuration ---------------------------------------------------------------------

    def _path(self, name):
        return os.path.join(self.unit_dir, name)

    def _reload_settings(self):
        self.mqtt_host = str(self.env.get("MQTT_URL") or "")
        self.mqtt_port = int(env_number(self.env, "MQTT_PORT", 1883, 1))
        self.keepalive = int(env_number(self.env, "PING_INTERVAL", DEFAULT_KEEPALIVE_S, 5))
        self.state_interval = env_number(
            self.env, "STATE_SEND_INTERVAL", DEFAULT_STATE_INTERVAL_S, 0.5)
        self.pub_delay = env_number(self.env, "DELAY_PUB_MSG", DEFAULT_PUB_DELAY_S, 0.05)

    def _index_schema(self):
        self._commands = command_topics(self.schema)
        self._inputs = input_topics(self.schema)

    # -- paho callbacks (network thread): enqueue only ----------------------------------------

    def on_connect(self, client, userdata, flags, rc):
        self.events.put(("connect", rc))

    def on_disconnect(self, client, userdata, rc):
        self.events.put(("disconnect", rc))

    def on_message(self, client, userdata, message):
        self.events.put(("message", message.topic, message.payload))

    # -- main loop ---------------------------------------------------------------------------

    def run(self, should_stop):
        self.log("Info", "unit %s starting: firmware %s, commit %s" % (
            self.uuid, self.firmware_version, self.env.get("COMMIT_VERSION")))
        while not should_stop():
            self.tick()
            try:
                event = self.events.get(timeout=self._wait_time())
            except queue.Empty:
                continue
            self.handle_event(event)

    def _wait_time(self):
        if not self.connected:
            return MAX_EVENT_WAIT_S
        due = min(self._next_state, self._next_output) - self._clock()
        return min(max(due, 0.0), MAX_EVENT_WAIT_S)

    def tick(self):
        """Publish whatever is due: the state and the output value."""
        if not self.connected:
            return
        now = self._clock()
        if now >= self._next_state:
            self._next_state = now + self.state_interval
            self._guard(self.publish_state)
        if now >= self._next_output:
            self._next_output = now + self.pub_delay
            self._guard(self.publish_outputs)

    def handle_event(self, event):
        kind = event[0]
        if kind == "connect":
            self._guard(self._on_connected, event[1])
        elif kind == "disconnect":
            self.connected = False
            if event[1] != 0:  # 0 is our own disconnect on the way out
                self.log("Warning", "lost the broker (rc %s), reconnecting" % event[1])
        elif kind == "message":
            self._guard(self.handle_message, event[1], event[2])

    def _guard(self, action, *args):
        # A device must survive anything that arrives over the network: log and carry on.
        try:
            action(*args)
        except UnitError as error:
            self.log("Error", str(error))
        except Exception as error:  # noqa: BLE001 - never let one message kill the unit
            self.log("Error", "%s failed: %r" % (getattr(action, "__name__", "action"), error))

    def _on_connected(self, rc):
        if rc != 0:
            self.log("Error", "broker refused the connection (rc %s)" % rc)
            return
        self.connected = True
        self._ifconfig = ifconfig_list(self.mqtt_host, self.mqtt_port)
        self.subscribed = []
        for topic in subscription_topics(self.schema):
            self._subscribe(topic)
        self.log("Info", "connected, subscribed to %d topics" % len(self.subscribed))
        now = self._clock()
        self._next_state = now  # state goes out immediately after every (re)connect
        self._next_output = now + self.pub_delay
        self.tick()

    def _subscribe(self, topic):
        result, _ = self.client.subscribe(topic, 0)
        if result != 0:
            self.log("Warning", "subscribe %s failed (%s)" % (topic, result))
        self.subscribed.append(topic)

    def _publish(self, topic, payload):
        info = self.client.publish(topic, payload, qos=0, retain=False)
        return getattr(info, "rc", 0) == 0

    # -- outgoing --------------------------------------------------------------------------

    def build_state(self):
        uptime_ms = (self._clock() - self._started) * 1000
        return build_state(self.env.get("COMMIT_VERSION"), uptime_ms, self.unit_dir,
                           self._ifconfig)

    def publish_state(self):
        topic = first_topic(self.schema, "output_base_topic", STATE_TOPIC)
        if topic:
            self._publish(topic, json.dumps(self.build_state()))

    def publish_outputs(self):
        for topic in output_topics(self.schema):
            self._publish(topic, self.value)

    def log(self, level, text):
        """One record to stdout, to log.json (one JSON object per line), and to log/pepeunit
        when the schema has that topic (2026-style schemas; 2024 ones have none)."""
        record = {"level": level, "text": text[:LOG_TEXT_MAX_CHARS],
                  "create_datetime": _utc_now_iso()}
        line = json.dumps(record, ensure_ascii=False)
        try:
            print(line, flush=True)
        except (OSError, ValueError):
            pass  # stdout closed: the file and the bus still get the record
        append_log_line(self._path(LOG_FILE), line)
        topic = first_topic(self.schema, "output_base_topic", LOG_TOPIC)
        if topic and self.connected and self.client is not None:
            try:
                self._publish(topic, line)
            except Exception:  # noqa: BLE001 - logging must never raise
                pass

    # -- incoming ----------------------------------------------------------------------------

    def handle_message(self, topic, payload):
        name = self._commands.get(topic)
        if name is not None:
            self.handle_command(name, payload)
        elif topic in self._inputs:
            self.handle_input(topic, payload)
        else:
            self.log("Warning", "message on unknown topic %s ignored" % topic)

    def handle_command(self, name, payload):
        if name == UPDATE_TOPIC:
            self.handle_update(payload)
        elif name == ENV_UPDATE_TOPIC:
            self.handle_env_update()
        elif name == SCHEMA_UPDATE_TOPIC:
            self.handle_schema_update()
        elif name == LOG_SYNC_TOPIC:
            self.handle_log_sync()
        else:
            self.log("Warning", "command topic %s is not handled" % name)

    def handle_input(self, topic, payload):
        value = payload.decode("utf-8", errors="replace")
        if value == self.value:
            return  # nothing new; also ends loops when an output feeds its own input
        self.value = value
        self.log("Info", "input %s = %s" % (topic, value))
        self.publish_outputs()  # the echo is the next output value
        self._next_output = self._clock() + self.pub_delay

    def handle_update(self, payload):
        try:
            command = json.loads(payload.decode("utf-8"))
        except ValueError:
            self.log("Warning", "Update ignored: payload is not JSON")
            return
        target = None
        if isinstance(command, dict):
            target = command.get("NEW_COMMIT_VERSION") or command.get("PU_COMMIT_VERSION")
        if not isinstance(target, str) or not target:
            self.log("Warning", "Update ignored: no NEW_COMMIT_VERSION in the payload")
            return
        current = self.env.get("COMMIT_VERSION")
        if target == current:
            self.log("Info", "Update: already at %s" % target)
            return
        self.log("Info", "Update %s -> %s: downloading firmware" % (current, target))
        self.install_update(target)
        self.log("Info", "Update to %s installed, restarting" % target)
        self._restart()

    def firmware_url(self):
        return "%s/units/firmware/tgz/%s?wbits=%d&level=%d" % (
            api_base_url(self.env), self.uuid, FIRMWARE_WBITS, FIRMWARE_LEVEL)

    def install_update(self, target):
        with tempfile.TemporaryDirectory(prefix="pepeunit-update-") as work:
            tar_path = os.path.join(work, "firmware.tar")
            self._download(self.firmware_url(), self.token, tar_path)
            staging = os.path.join(work, "staging")
            os.mkdir(staging)
            files = safe_extract_tar(tar_path, staging)
            # Never install an archive the new program could not start from.
            if ENV_FILE not in files or SCHEMA_FILE not in files:
                raise UnitError("firmware archive lacks env.json or schema.json")
            new_env = load_json_file(os.path.join(staging, ENV_FILE))
            normalize_schema(load_json_file(os.path.join(staging, SCHEMA_FILE)))
            if unit_uuid_from_token(new_env.get("PEPEUNIT_TOKEN")) != self.uuid:
                raise UnitError("firmware archive belongs to another unit")
            if new_env.get("COMMIT_VERSION") != target:
                self.log("Warning", "archive is version %s, not %s" % (
                    new_env.get("COMMIT_VERSION"), target))
            install_tree(staging, self.unit_dir, files)

    def handle_env_update(self):
        url = "%s/units/env/%s" % (api_base_url(self.env), self.uuid)
        new_env = decode_json_body(self._http_get(url, self.token))
        token = new_env.get("PEPEUNIT_TOKEN")
        if unit_uuid_from_token(token) != self.uuid:
            raise UnitError("EnvUpdate refused: the new token belongs to another unit")
        # The version names the code that is installed; only a firmware archive changes it
        # (GET env reports the target version, or none at all on older backends).
        new_env.pop("COMMIT_VERSION", None)
        if "COMMIT_VERSION" in self.env:
            new_env["COMMIT_VERSION"] = self.env["COMMIT_VERSION"]
        write_json_file(self._path(ENV_FILE), new_env)
        self.env = new_env
        self._reload_settings()
        if token != self.token:
            self.token = token
            if self.client is not None:
                self.client.username_pw_set(token, "")  # used from the next reconnect on
        self.log("Info", "env.json updated")

    def handle_schema_update(self):
        url = "%s/units/get_current_schema/%s" % (api_base_url(self.env), self.uuid)
        new_schema = normalize_schema(decode_json_body(self._http_get(url, self.token)))
        write_json_file(self._path(SCHEMA_FILE), new_schema)
        self.schema = new_schema
        self._index_schema()
        wanted = subscription_topics(new_schema)
        removed = [t for t in self.subscribed if t not in wanted]
        added = [t for t in wanted if t not in self.subscribed]
        if self.connected:
            for topic in removed:
                self.client.unsubscribe(topic)
            self.subscribed = [t for t in self.subscribed if t in wanted]
            for topic in added:
                self._subscribe(topic)
        self.log("Info", "schema.json updated: %d topics added, %d removed" % (
            len(added), len(removed)))

    def handle_log_sync(self):
        topic = first_topic(self.schema, "output_base_topic", LOG_TOPIC)
        if not topic:
            self.log("Info", "LogSync ignored: the schema has no log/pepeunit topic")
            return
        records = read_log_records(self._path(LOG_FILE))
        for start in range(0, len(records), LOG_SYNC_BATCH):
            self._publish(topic, json.dumps(records[start:start + LOG_SYNC_BATCH]))

    # -- lifecycle ---------------------------------------------------------------------------

    def shutdown(self):
        if self.client is None:
            return
        try:
            self.client.disconnect()
            self.client.loop_stop()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self.connected = False

    def _reexec(self):
        """Replace this process with the freshly installed main.py (same pid, same flags)."""
        self.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        orig_argv = getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv
        interpreter_flags = orig_argv[1:len(orig_argv) - len(sys.argv)]
        argv = [sys.executable] + interpreter_flags + [self._path("main.py")] + sys.argv[1:]
        os.execv(sys.executable, argv)


def append_log_line(path, line):
    """Append one record; past LOG_FILE_MAX_BYTES keep only the newest half."""
    try:
        with open(path, "a", encoding="utf-8") as sink:
            sink.write(line + "\n")
        if os.path.getsize(path) > LOG_FILE_MAX_BYTES:
            with open(path, "r", encoding="utf-8", errors="replace") as source:
                lines = source.readlines()
            keep = "".join(lines[len(lines) // 2:])
            write_file_atomic(path, keep.encode("utf-8"))
    except OSError:
        pass  # a full disk must not stop the unit


def read_log_records(path):
    records = []
    for line in _read_text(path).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def make_paho_client(unit):
    """MQTT 3.1.1, random client id (duplicates may coexist), token as username, empty
    password, clean session, automatic reconnect with backoff."""
    kwargs = {"client_id": str(uuid.uuid4()), "clean_session": True,
              "protocol": mqtt.MQTTv311}
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho >= 2.0 needs the callback API chosen
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs)
    else:
        client = mqtt.Client(**kwargs)
    client.username_pw_set(unit.token, "")
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.on_connect = unit.on_connect
    client.on_disconnect = unit.on_disconnect
    client.on_message = unit.on_message
    return client


def main():
    if mqtt is None:
        print("python3-paho-mqtt is required (run with /usr/bin/python3)", file=sys.stderr)
        return 2
    try:
        unit = Unit(UNIT_DIR, client_factory=make_paho_client)
    except (OSError, ValueError, UnitError) as error:
        print("cannot start: %s" % error, file=sys.stderr)
        return 2
    if not unit.mqtt_host:
        print("cannot start: env.json has no MQTT_URL", file=sys.stderr)
        return 2

    stop = []

    def request_stop(signum, _frame):
        stop.append(signum)  # only a list append: safe inside a signal handler

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # connect_async + loop_start: the network thread retries the first connection too.
    unit.client.connect_async(unit.mqtt_host, unit.mqtt_port, unit.keepalive)
    unit.client.loop_start()
    try:
        unit.run(lambda: bool(stop))
    finally:
        unit.log("Info", "stopping")
        unit.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

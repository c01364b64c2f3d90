"""Behaviour of the MicroPython unit's main.py under CPython, with small fakes of the board
modules it imports (machine, network, ubinascii, umqtt.simple, urequests, deflate, tarfile,
MicroPython's time and gc). The tarfile fake reads plain ustar headers like micropython-lib's
tarfile (no PAX support), and the deflate fake inflates with the requested 512-byte window, so
archive handling is checked the way a board would do it.

Run from the repo root:
/usr/bin/python3 -B -m unittest discover -b -s firmware-templates/micropython-unit/tests
"""

import base64
import binascii
import importlib.util
import io
import json
import os
import shutil
import sys
import tarfile as cpython_tarfile
import tempfile
import time as cpython_time
import types
import unittest
import uuid
import zlib
from unittest import mock

TEMPLATE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOMAIN = "unit.example.com"


class ResetCalled(BaseException):
    """machine.reset() never returns on a board; here it unwinds the test's call."""


# -- board module fakes -------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.ms = 100000

    def module(self):
        fake = types.ModuleType("time")
        fake.ticks_ms = lambda: self.ms
        fake.ticks_diff = lambda a, b: a - b
        fake.ticks_add = lambda a, b: a + b
        fake.sleep_ms = self.sleep_ms
        fake.time = cpython_time.time
        fake.gmtime = cpython_time.gmtime
        return fake

    def sleep_ms(self, ms):
        self.ms += ms


class FakeMQTTClient:
    instances = []

    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0):
        self.args = {"client_id": client_id, "server": server, "port": port, "user": user,
                     "password": password, "keepalive": keepalive}
        self.subscribed = []
        self.published = []
        self.inbox = []
        self.pings = 0
        self.closed = False
        self.callback = None
        FakeMQTTClient.instances.append(self)

    def set_callback(self, callback):
        self.callback = callback

    def connect(self, clean_session=True):
        return 0

    def subscribe(self, topic, qos=0):
        assert isinstance(topic, bytes)
        self.subscribed.append(topic.decode())

    def publish(self, topic, msg, retain=False, qos=0):
        assert isinstance(topic, bytes) and isinstance(msg, bytes)
        if self.closed:
            raise OSError("socket closed")
        self.published.append((topic.decode(), msg.decode()))

    def check_msg(self):
        if self.inbox:
            topic, payload = self.inbox.pop(0)
            self.callback(topic.encode(), payload)

    def ping(self):
        self.pings += 1

    def disconnect(self):
        self.closed = True

    def payloads(self, topic):
        return [payload for t, payload in self.published if t == topic]


class FakeResponse:
    def __init__(self, status_code, body):
        self.status_code = status_code
        self.raw = io.BytesIO(body)
        self.closed = False

    def close(self):
        self.closed = True


class FakeHttp:
    def __init__(self):
        self.routes = {}
        self.requests = []

    def get(self, url, headers=None):
        self.requests.append((url, dict(headers or {})))
        status, body = self.routes.get(url, (404, b'{"detail":"not found"}'))
        return FakeResponse(status, body)


def fake_deflate_module():
    module = types.ModuleType("deflate")
    module.AUTO = 3

    def deflate_io(stream, fmt, wbits):
        assert fmt == module.AUTO and wbits == 9
        decoder = zlib.decompressobj(wbits)  # zlib framing, 512-byte window, like the board
        data = decoder.decompress(stream.read()) + decoder.flush()
        if not decoder.eof:
            raise OSError("truncated stream")
        return io.BytesIO(data)

    module.DeflateIO = deflate_io
    return module


def fake_tarfile_module():
    """The micropython-lib tarfile API: iterate TarInfo(name, size, type), extractfile()."""
    module = types.ModuleType("tarfile")
    module.DIRTYPE = "dir"
    module.REGTYPE = "file"

    class TarInfo:
        pass

    class TarFile:
        def __init__(self, name=None, mode="r", fileobj=None):
            self.f = fileobj
            self.remaining = 0

        def __iter__(self):
            return self

        def __next__(self):
            self.f.read(self.remaining)
            header = self.f.read(512)
            if len(header) < 512 or header == b"\0" * 512:
                raise StopIteration
            info = TarInfo()
            info.name = header[:100].split(b"\0")[0].decode()
            info.size = int(header[124:136].split(b"\0")[0].strip() or b"0", 8)
            info.type = module.DIRTYPE if info.name.endswith("/") else module.REGTYPE
            self.remaining = (info.size + 511) // 512 * 512
            self.section = io.BytesIO(self.f.read(info.size))
            self.remaining -= info.size
            return info

        def extractfile(self, info):
            return self.section

    module.TarFile = TarFile
    return module


def board_modules(clock, http):
    machine = types.ModuleType("machine")
    machine.freq = lambda: 240000000

    def reset():
        raise ResetCalled()

    machine.reset = reset
    network = types.ModuleType("network")
    network.STA_IF = 0

    class WLAN:
        def __init__(self, interface):
            pass

        def isconnected(self):
            return True

        def active(self, *args):
            return True

        def ifconfig(self):
            return ("10.0.0.2", "255.255.255.0", "10.0.0.1", "10.0.0.1")

    network.WLAN = WLAN
    ubinascii = types.ModuleType("ubinascii")
    ubinascii.a2b_base64 = binascii.a2b_base64
    umqtt = types.ModuleType("umqtt")
    simple = types.ModuleType("umqtt.simple")
    simple.MQTTClient = FakeMQTTClient
    umqtt.simple = simple
    gc = types.ModuleType("gc")
    gc.collect = lambda: None
    gc.mem_free = lambda: 111000
    gc.mem_alloc = lambda: 22000
    urequests = types.ModuleType("urequests")
    urequests.get = http.get
    return {"machine": machine, "network": network, "ubinascii": ubinascii, "umqtt": umqtt,
            "umqtt.simple": simple, "gc": gc, "time": clock.module(), "urequests": urequests}


def load_main(modules):
    with mock.patch.dict(sys.modules, modules):
        spec = importlib.util.spec_from_file_location(
            "pepeunit_micropython_main", os.path.join(TEMPLATE_DIR, "main.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


# -- fixtures -----------------------------------------------------------------------------------


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(unit_uuid):
    payload = json.dumps({"uuid": unit_uuid, "type": "Unit"}, separators=(",", ":")).encode()
    return "%s.%s.%s" % (b64url(b'{"alg":"HS256","typ":"JWT"}'), b64url(payload), b64url(b"s"))


def make_schema(unit_uuid, inputs):
    def base(destination, name):
        return ["%s/%s/%s/%s" % (DOMAIN, destination, unit_uuid, name)]

    return {
        "input_base_topic": {name: base("input_base_topic", name) for name in
                             ("update/pepeunit", "env_update/pepeunit",
                              "schema_update/pepeunit", "log_sync/pepeunit")},
        "output_base_topic": {name: base("output_base_topic", name)
                              for name in ("state/pepeunit", "log/pepeunit")},
        "input_topic": {"input/pepeunit": ["%s/%s/pepeunit" % (DOMAIN, n) for n in inputs]},
        "output_topic": {"output/pepeunit": ["%s/out-node/pepeunit" % DOMAIN]},
    }


def make_env(token, commit="a" * 40, **extra):
    env = {
        "PU_DOMAIN": DOMAIN, "PU_HTTP_TYPE": "http", "PU_APP_PREFIX": "/pepeunit",
        "PU_API_ACTUAL_PREFIX": "/api/v1", "PU_MQTT_HOST": "mqtt.example.com",
        "PU_MQTT_PORT": 1884, "PU_MQTT_PING_INTERVAL": 20, "PU_MQTT_KEEPALIVE": 60,
        "PU_AUTH_TOKEN": token, "PU_SECRET_KEY": "k", "PU_ENCRYPT_KEY": "e",
        "PU_STATE_SEND_INTERVAL": 60, "PU_MIN_LOG_LEVEL": "Debug", "PU_MAX_LOG_LENGTH": 8,
        "PUC_WIFI_SSID": "ssid", "PUC_WIFI_PASS": "pass", "DELAY_PUB_MSG": 1,
        "START_VALUE": "0", "PU_COMMIT_VERSION": commit,
    }
    env.update(extra)
    return env


def firmware(files, extra_entries=()):
    """The backend's "tgz": a PAX tar with ./-prefixed members, through zlib wbits=9."""
    buffer = io.BytesIO()
    with cpython_tarfile.open(fileobj=buffer, mode="w",
                              format=cpython_tarfile.PAX_FORMAT) as archive:
        root = cpython_tarfile.TarInfo("./")
        root.type = cpython_tarfile.DIRTYPE
        archive.addfile(root)
        for name, content in list(files.items()) + list(extra_entries):
            info = cpython_tarfile.TarInfo(name if name.startswith(("/", ".")) else "./" + name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    encoder = zlib.compressobj(9, zlib.DEFLATED, 9)
    return encoder.compress(buffer.getvalue()) + encoder.flush()


class MicroPythonUnitTests(unittest.TestCase):
    def setUp(self):
        FakeMQTTClient.instances = []
        self.clock = FakeClock()
        self.http = FakeHttp()
        modules = board_modules(self.clock, self.http)
        self.main = load_main(modules)
        lazy = {"urequests": modules["urequests"], "deflate": fake_deflate_module(),
                "tarfile": fake_tarfile_module()}
        patcher = mock.patch.dict(sys.modules, lazy)  # imported inside functions on the board
        patcher.start()
        self.addCleanup(patcher.stop)
        self.work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.work, True)
        self.root = os.path.join(self.work, "flash")
        os.mkdir(self.root)
        self.main.ROOT = self.root
        self.unit_uuid = str(uuid.uuid4())
        self.token = make_token(self.unit_uuid)
        self.env = make_env(self.token)
        self.schema = make_schema(self.unit_uuid, ["in-node"])
        self.write("env.json", self.env)
        self.write("schema.json", self.schema)
        self.api = "http://%s/pepeunit/api/v1" % DOMAIN
        self.stdout = io.StringIO()
        patcher = mock.patch("sys.stdout", self.stdout)  # the unit prints every log record
        patcher.start()
        self.addCleanup(patcher.stop)

    def write(self, name, value):
        with open(os.path.join(self.root, name), "w") as sink:
            json.dump(value, sink)

    def read(self, name):
        with open(os.path.join(self.root, name)) as source:
            return json.load(source)

    def started_unit(self):
        unit = self.main.Unit()
        unit.connect()
        unit.step()
        return unit

    @property
    def client(self):
        return FakeMQTTClient.instances[-1]

    def base(self, destination, name):
        return self.schema[destination][name][0]

    def receive(self, unit, topic, payload):
        self.client.inbox.append((topic, payload))
        unit.step()

    def log_texts(self):
        return [json.loads(line)["text"] for line in self.stdout.getvalue().splitlines()]

    # -- helpers ------------------------------------------------------------------------------

    def test_token_uuid(self):
        self.assertEqual(self.main.unit_uuid_from_token(self.token), self.unit_uuid)
        for bad in ["", "a.b", None, "%s.%s.x" % (b64url(b"{}"), b64url(b'{"uuid":"../x"}'))]:
            with self.subTest(token=bad):
                with self.assertRaises(Exception):
                    self.main.unit_uuid_from_token(bad)

    def test_body_encodings(self):
        self.assertEqual(self.main.decode_body('{"A": 1}'), {"A": 1})
        self.assertEqual(self.main.decode_body(json.dumps(json.dumps({"A": 1}))), {"A": 1})
        with self.assertRaises(ValueError):
            self.main.decode_body("[1]")

    def test_member_names(self):
        self.assertIsNone(self.main.safe_relative_path("./"))
        self.assertEqual(self.main.safe_relative_path("./lib/x.py"), "lib/x.py")
        for bad in ["../x", "/x", "a/../../x", ""]:
            with self.subTest(name=bad):
                with self.assertRaises(ValueError):
                    self.main.safe_relative_path(bad)

    # -- behaviour ----------------------------------------------------------------------------

    def test_connect_and_state(self):
        self.started_unit()
        self.assertEqual(self.client.args, {
            "client_id": self.unit_uuid, "server": "mqtt.example.com", "port": 1884,
            "user": self.token, "password": "", "keepalive": 60})
        self.assertEqual(self.client.subscribed, self.main.subscription_topics(self.schema))
        self.assertEqual(len(self.client.subscribed), 5)
        state = json.loads(self.client.payloads(
            self.base("output_base_topic", "state/pepeunit"))[0])
        self.assertEqual(set(state), {"millis", "mem_free", "mem_alloc", "freq", "statvfs",
                                      "ifconfig", "pu_commit_version"})
        self.assertEqual(state["pu_commit_version"], "a" * 40)
        self.assertEqual(len(state["statvfs"]), 10)
        self.assertEqual(state["ifconfig"][0], "10.0.0.2")
        log = json.loads(self.client.payloads(self.base("output_base_topic", "log/pepeunit"))[0])
        self.assertEqual(log["level"], "Info")
        self.assertIsInstance(log["create_datetime"], int)  # epoch ms

    def test_periodic_output_and_ping(self):
        unit = self.started_unit()
        output = "%s/out-node/pepeunit" % DOMAIN
        self.assertEqual(self.client.payloads(output), [])
        self.clock.ms += 1000
        unit.step()
        self.assertEqual(self.client.payloads(output), ["0"])
        self.clock.ms += 20000
        unit.step()
        self.assertEqual(self.client.pings, 1)

    def test_input_is_echoed(self):
        unit = self.started_unit()
        self.receive(unit, "%s/in-node/pepeunit" % DOMAIN, b"42")
        self.assertEqual(self.client.payloads("%s/out-node/pepeunit" % DOMAIN), ["42"])
        self.assertIn("input %s/in-node/pepeunit = 42" % DOMAIN, self.log_texts())

    def test_malformed_messages_are_survived(self):
        unit = self.started_unit()
        for topic, payload in [("nowhere", b"x"),
                               (self.base("input_base_topic", "update/pepeunit"), b"{bad"),
                               (self.base("input_base_topic", "update/pepeunit"), b"[]"),
                               ("%s/in-node/pepeunit" % DOMAIN, b"\xff\xfe")]:
            self.receive(unit, topic, payload)
        self.assertEqual(self.http.requests, [])
        self.assertEqual(unit.value, "0")

    def test_update_same_version_does_nothing(self):
        unit = self.started_unit()
        self.receive(unit, self.base("input_base_topic", "update/pepeunit"),
                     json.dumps({"COMMAND": "Update", "PU_COMMIT_VERSION": "a" * 40}).encode())
        self.assertEqual(self.http.requests, [])

    def firmware_url(self):
        return "%s/units/firmware/tgz/%s?wbits=9&level=9" % (self.api, self.unit_uuid)

    def test_update_installs_and_resets(self):
        unit = self.started_unit()
        new_env = dict(self.env, PU_COMMIT_VERSION="b" * 40)
        self.http.routes[self.firmware_url()] = (200, firmware({
            "main.py": b"# v2\n", "boot.py": b"# boot v2\n", "lib/extra.py": b"X = 1\n",
            "lib/" + "n" * 120 + ".py": b"# a long name travels in a PAX header\n",
            "env.json": json.dumps(new_env).encode(),
            "schema.json": json.dumps(self.schema).encode()}))
        with self.assertRaises(ResetCalled):
            self.receive(unit, self.base("input_base_topic", "update/pepeunit"), json.dumps(
                {"COMMAND": "Update", "PU_COMMIT_VERSION": "b" * 40}).encode())
        url, headers = self.http.requests[0]
        self.assertEqual(url, self.firmware_url())
        self.assertEqual(headers["x-auth-token"], self.token)
        self.assertEqual(self.read("env.json")["PU_COMMIT_VERSION"], "b" * 40)
        with open(os.path.join(self.root, "main.py")) as source:
            self.assertEqual(source.read(), "# v2\n")
        with open(os.path.join(self.root, "lib", "extra.py")) as source:
            self.assertEqual(source.read(), "X = 1\n")
        self.assertEqual(sorted(os.listdir(self.root)),
                         ["boot.py", "env.json", "lib", "log.json", "main.py", "schema.json"])

    def test_2024_update_key_is_understood(self):
        unit = self.started_unit()
        self.http.routes[self.firmware_url()] = (200, firmware({
            "env.json": json.dumps(dict(self.env, PU_COMMIT_VERSION="c" * 40)).encode(),
            "schema.json": json.dumps(self.schema).encode()}))
        with self.assertRaises(ResetCalled):
            self.receive(unit, self.base("input_base_topic", "update/pepeunit"),
                         json.dumps({"NEW_COMMIT_VERSION": "c" * 40}).encode())

    def assert_update_refused(self, archive):
        unit = self.started_unit()
        self.http.routes[self.firmware_url()] = archive
        clients_before = len(FakeMQTTClient.instances)
        self.receive(unit, self.base("input_base_topic", "update/pepeunit"),
                     json.dumps({"PU_COMMIT_VERSION": "d" * 40}).encode())
        self.assertEqual(self.read("env.json"), self.env)
        self.assertEqual(sorted(os.listdir(self.root)), ["env.json", "log.json", "schema.json"])
        self.assertFalse(os.path.exists(os.path.join(self.work, "evil.py")))
        self.assertEqual(len(FakeMQTTClient.instances), clients_before + 1)  # back online
        self.assertTrue(unit.connected)
        self.assertTrue(any(t.startswith("Update failed") for t in self.log_texts()))

    def test_unsafe_archive_installs_nothing(self):
        good = {"env.json": json.dumps(dict(self.env, PU_COMMIT_VERSION="d" * 40)).encode(),
                "schema.json": json.dumps(self.schema).encode()}
        self.assert_update_refused((200, firmware(good, [("../evil.py", b"x")])))

    def test_archive_of_another_unit_installs_nothing(self):
        other = dict(self.env, PU_AUTH_TOKEN=make_token(str(uuid.uuid4())))
        self.assert_update_refused((200, firmware({
            "main.py": b"# other\n", "env.json": json.dumps(other).encode(),
            "schema.json": json.dumps(self.schema).encode()})))

    def test_http_error_installs_nothing(self):
        self.assert_update_refused((403, b'{"detail":"403: No Access"}'))

    def test_truncated_archive_installs_nothing(self):
        data = firmware({"env.json": json.dumps(self.env).encode()})
        self.assert_update_refused((200, data[:len(data) // 2]))

    def test_env_update_both_encodings(self):
        unit = self.started_unit()
        url = "%s/units/env/%s" % (self.api, self.unit_uuid)
        fresh = dict(self.env, DELAY_PUB_MSG=5, PU_COMMIT_VERSION="f" * 40)
        del fresh["PUC_WIFI_PASS"]
        for body in (json.dumps(fresh), json.dumps(json.dumps(fresh))):
            self.http.routes[url] = (200, body.encode())
            self.receive(unit, self.base("input_base_topic", "env_update/pepeunit"),
                         b'{"COMMAND":"EnvUpdate"}')
            written = self.read("env.json")
            self.assertEqual(written["DELAY_PUB_MSG"], 5)
            self.assertEqual(written["PU_COMMIT_VERSION"], "a" * 40)  # the installed code's
            self.assertEqual(written["PUC_WIFI_PASS"], "pass")
            self.assertEqual(unit.pub_delay_ms, 5000)
            self.write("env.json", self.env)

    def test_schema_update_reconnects_with_the_new_topics(self):
        unit = self.started_unit()
        new_schema = make_schema(self.unit_uuid, ["in-node", "linked-node"])
        self.http.routes["%s/units/get_current_schema/%s" % (self.api, self.unit_uuid)] = (
            200, json.dumps(new_schema).encode())
        old_client = self.client
        self.receive(unit, self.base("input_base_topic", "schema_update/pepeunit"),
                     b'{"COMMAND":"SchemaUpdate"}')
        self.assertTrue(old_client.closed)
        self.assertIn("%s/linked-node/pepeunit" % DOMAIN, self.client.subscribed)
        self.assertEqual(self.read("schema.json"), new_schema)
        self.receive(unit, "%s/linked-node/pepeunit" % DOMAIN, b"from-linked")
        self.assertEqual(self.client.payloads("%s/out-node/pepeunit" % DOMAIN), ["from-linked"])

    def test_log_sync_replays_the_newest_lines(self):
        unit = self.started_unit()
        for i in range(20):
            unit.log("Debug", "record %d" % i)
        log_topic = self.base("output_base_topic", "log/pepeunit")
        before = len(self.client.payloads(log_topic))
        self.receive(unit, self.base("input_base_topic", "log_sync/pepeunit"), b"{}")
        replayed = [json.loads(p)["text"] for p in self.client.payloads(log_topic)[before:]]
        self.assertEqual(len(replayed), 8)  # PU_MAX_LOG_LENGTH
        self.assertEqual(replayed[-1], "record 19")
        with open(os.path.join(self.root, "log.json")) as source:
            self.assertLess(len(source.read().splitlines()), 16)

    def test_min_log_level(self):
        self.write("env.json", dict(self.env, PU_MIN_LOG_LEVEL="Warning"))
        unit = self.started_unit()
        unit.log("Info", "quiet")
        unit.log("Error", "loud")
        self.assertEqual(self.log_texts(), ["loud"])


if __name__ == "__main__":
    unittest.main()

"""Unit tests of the python-unit device program, without a broker or a real backend.

Run from the repo root:
/usr/bin/python3 -B -m unittest discover -b -s firmware-templates/python-unit/tests
"""

import json
import os
import shutil
import sys
import tempfile
import types
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

main = support.load_main()

DOMAIN = "unit.example.com"


class FakeClient:
    """Records what the unit asks of paho."""

    def __init__(self):
        self.published = []
        self.subscribed = []
        self.unsubscribed = []
        self.credentials = None
        self.disconnected = False

    def subscribe(self, topic, qos=0):
        self.subscribed.append((topic, qos))
        return 0, len(self.subscribed)

    def unsubscribe(self, topic):
        self.unsubscribed.append(topic)
        return 0, 1

    def publish(self, topic, payload=None, qos=0, retain=False):
        self.published.append((topic, payload, qos, retain))
        return types.SimpleNamespace(rc=0)

    def username_pw_set(self, username, password=None):
        self.credentials = (username, password)

    def disconnect(self):
        self.disconnected = True

    def loop_stop(self):
        pass

    def payloads(self, topic):
        return [payload for t, payload, _, _ in self.published if t == topic]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class TokenTests(unittest.TestCase):
    def test_uuid_from_backend_shaped_token(self):
        unit_uuid = str(uuid.uuid4())
        self.assertEqual(main.unit_uuid_from_token(support.make_token(unit_uuid)), unit_uuid)

    def test_unpadded_urlsafe_and_standard_alphabets(self):
        unit_uuid = str(uuid.uuid4())
        # Find a payload whose encoding needs padding and uses the url-safe characters.
        for filler in range(200):
            token = support.make_token(unit_uuid, {"x": "?>" * filler})
            segment = token.split(".")[1]
            if len(segment) % 4 and ("-" in segment or "_" in segment):
                break
        else:
            self.fail("no url-safe test payload found")
        self.assertEqual(main.unit_uuid_from_token(token), unit_uuid)
        header, segment, signature = token.split(".")
        standard = segment.replace("-", "+").replace("_", "/")
        self.assertEqual(main.unit_uuid_from_token(".".join([header, standard, signature])),
                         unit_uuid)

    def test_rejects_non_tokens(self):
        unit_uuid = str(uuid.uuid4())
        good = support.make_token(unit_uuid).split(".")
        bad = [
            None,
            42,
            "",
            "abc",
            "a.b",
            "a..c",
            "a.b.c.d",
            "%s.%s.%s" % (good[0], support.b64url(b"not json"), good[2]),
            "%s.%s.%s" % (good[0], support.b64url(b'["uuid"]'), good[2]),
            "%s.%s.%s" % (good[0], support.b64url(b'{"type":"Unit"}'), good[2]),
            "%s.%s.%s" % (good[0], support.b64url(b'{"uuid":"../../etc"}'), good[2]),
            "%s.%s.%s" % (good[0], support.b64url(b'{"uuid":7}'), good[2]),
            "%s.%s.%s" % (good[0], support.b64url(b"\xff\xfe"), good[2]),
        ]
        for token in bad:
            with self.subTest(token=token):
                with self.assertRaises(main.UnitError):
                    main.unit_uuid_from_token(token)


class BodyTests(unittest.TestCase):
    def test_plain_object(self):
        self.assertEqual(main.decode_json_body(b'{"A": 1}'), {"A": 1})

    def test_double_encoded_string(self):
        body = json.dumps(json.dumps({"PEPEUNIT_URL": "x", "PING_INTERVAL": 30})).encode()
        self.assertEqual(main.decode_json_body(body), {"PEPEUNIT_URL": "x", "PING_INTERVAL": 30})

    def test_text_input(self):
        self.assertEqual(main.decode_json_body('"{\\"A\\": \\"b\\"}"'), {"A": "b"})

    def test_rejects_non_objects(self):
        for body in [b"[1, 2]", b"42", b"null", b'"[1]"', b'"not json"', b"{", b"", b"\xff"]:
            with self.subTest(body=body):
                with self.assertRaises(main.UnitError):
                    main.decode_json_body(body)


class SchemaTests(unittest.TestCase):
    def setUp(self):
        self.unit_uuid = str(uuid.uuid4())
        self.schema = support.make_schema(
            DOMAIN, self.unit_uuid, {"input/pepeunit": ["in-own", "linked-out"]},
            {"output/pepeunit": "out-own", "raw": "out-raw"})

    def test_subscriptions_are_input_base_then_input_topics(self):
        topics = main.subscription_topics(self.schema)
        self.assertEqual(topics, [
            "%s/input_base_topic/%s/update/pepeunit" % (DOMAIN, self.unit_uuid),
            "%s/input_base_topic/%s/env_update/pepeunit" % (DOMAIN, self.unit_uuid),
            "%s/input_base_topic/%s/schema_update/pepeunit" % (DOMAIN, self.unit_uuid),
            DOMAIN + "/in-own/pepeunit",
            DOMAIN + "/linked-out/pepeunit",
        ])

    def test_commands_keyed_by_physical_topic(self):
        commands = main.command_topics(self.schema)
        self.assertEqual(
            commands["%s/input_base_topic/%s/update/pepeunit" % (DOMAIN, self.unit_uuid)],
            "update/pepeunit")
        self.assertEqual(len(commands), 3)

    def test_outputs(self):
        self.assertEqual(main.output_topics(self.schema),
                         [DOMAIN + "/out-own/pepeunit", DOMAIN + "/out-raw/pepeunit"])

    def test_normalize_fills_missing_sections_and_rejects_bad_shapes(self):
        self.assertEqual(main.normalize_schema({})["input_topic"], {})
        for bad in [[], {"input_topic": []}, {"input_topic": {"a": "t"}},
                    {"output_topic": {"a": [1]}}, {"input_base_topic": {"a": [""]}}]:
            with self.subTest(schema=bad):
                with self.assertRaises(main.UnitError):
                    main.normalize_schema(bad)

    def test_api_base_url(self):
        env = {"PEPEUNIT_URL": "h:8080", "HTTP_TYPE": "http",
               "PEPEUNIT_APP_PREFIX": "/p", "PEPEUNIT_API_ACTUAL_PREFIX": "/api/v9"}
        self.assertEqual(main.api_base_url(env), "http://h:8080/p/api/v9")
        # env files from before 2025-01 have no prefix keys and no port
        self.assertEqual(main.api_base_url({"PEPEUNIT_URL": "h", "HTTP_TYPE": "https"}),
                         "https://h/pepeunit/api/v1")
        with self.assertRaises(main.UnitError):
            main.api_base_url({})


class InflateTests(unittest.TestCase):
    def inflate(self, data, chunk=7, **kwargs):
        sink = __import__("io").BytesIO()
        chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
        main.inflate_stream(chunks, sink, **kwargs)
        return sink.getvalue()

    def test_round_trip_of_a_wbits_9_stream(self):
        payload = os.urandom(3000) + b"x" * 50000
        self.assertEqual(self.inflate(support.zlib_compress(payload)), payload)

    def test_truncated_stream(self):
        data = support.zlib_compress(b"y" * 10000 + os.urandom(2000))
        with self.assertRaisesRegex(main.UnitError, "truncated"):
            self.inflate(data[:-10])

    def test_other_framings_are_rejected(self):
        for wbits in (31, -9, 15):  # gzip, raw deflate, a 32 KiB window
            with self.subTest(wbits=wbits):
                with self.assertRaises(main.UnitError):
                    self.inflate(support.zlib_compress(os.urandom(5000) * 4, wbits=wbits))

    def test_output_limit(self):
        with self.assertRaisesRegex(main.UnitError, "more than"):
            self.inflate(support.zlib_compress(b"\0" * 100000), limit=50000)


class SafeTarTests(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp()
        self.staging = os.path.join(self.work, "staging")
        os.mkdir(self.staging)

    def tearDown(self):
        shutil.rmtree(self.work)

    def extract(self, entries, **kwargs):
        tar_path = os.path.join(self.work, "a.tar")
        with open(tar_path, "wb") as sink:
            sink.write(support.make_tar(entries))
        return main.safe_extract_tar(tar_path, self.staging, **kwargs)

    def test_backend_shaped_archive(self):
        long_name = "lib/" + "n" * 150 + ".py"  # needs a PAX header
        files = self.extract([("./", None), ("./main.py", b"print(1)"), ("./lib/", None),
                              ("./" + long_name, b"x"), ("./env.json", b"{}")])
        self.assertEqual(sorted(files), sorted(["main.py", long_name, "env.json"]))
        with open(os.path.join(self.staging, "main.py"), "rb") as source:
            self.assertEqual(source.read(), b"print(1)")

    def test_unsafe_members_reject_the_archive(self):
        cases = {
            "parent": [("./ok.py", b"1"), ("../evil", b"x")],
            "nested parent": [("lib/../../evil", b"x")],
            "absolute": [("/tmp/evil-%s" % uuid.uuid4(), b"x")],
            "symlink": [("./link", ("symlink", "/etc/passwd"))],
            "relative symlink": [("./link", ("symlink", "../evil"))],
            "hardlink": [("./ok.py", b"1"), ("./hard", ("hardlink", "ok.py"))],
            "fifo": [("./pipe", ("fifo", None))],
        }
        for label, entries in cases.items():
            with self.subTest(case=label):
                with self.assertRaises(main.UnsafeArchiveError):
                    self.extract(entries)
                self.assertFalse(os.path.exists(os.path.join(self.work, "evil")))
                self.assertFalse(os.path.lexists(os.path.join(self.staging, "link")))
        self.assertFalse(os.path.exists(cases["absolute"][0][0]))

    def test_size_limit(self):
        with self.assertRaises(main.UnsafeArchiveError):
            self.extract([("a", b"1" * 600), ("b", b"2" * 600)], limit=1000)

    def test_not_a_tar(self):
        tar_path = os.path.join(self.work, "junk.tar")
        with open(tar_path, "wb") as sink:
            sink.write(os.urandom(2048))
        with self.assertRaises(main.UnitError):
            main.safe_extract_tar(tar_path, self.staging)

    def test_member_names(self):
        self.assertIsNone(main.member_relative_path("."))
        self.assertIsNone(main.member_relative_path("./"))
        self.assertEqual(main.member_relative_path("./a//b/./c"), "a/b/c")
        for name in ["", "/x", "\\x", "..", "a/..", "a/../b", "a\x00"]:
            with self.subTest(name=name):
                with self.assertRaises(main.UnsafeArchiveError):
                    main.member_relative_path(name)


class StateTests(unittest.TestCase):
    def test_state_payload_shape(self):
        state = main.build_state("c" * 40, 1234.5, tempfile.gettempdir(),
                                 main.ifconfig_list("127.0.0.1", 1883))
        self.assertEqual(set(state), set(main.STATE_KEYS))
        self.assertEqual(state["commit_version"], "c" * 40)
        self.assertEqual(state["millis"], 1234)
        for key in ("mem_free", "mem_alloc", "freq"):
            self.assertIsInstance(state[key], int)
            self.assertGreaterEqual(state[key], 0)
        self.assertGreater(state["mem_free"], 0)
        self.assertEqual(len(state["statvfs"]), 10)
        self.assertTrue(all(isinstance(v, int) for v in state["statvfs"]))
        self.assertEqual(len(state["ifconfig"]), 4)
        self.assertTrue(all(isinstance(v, str) for v in state["ifconfig"]))
        self.assertEqual(state["ifconfig"][0], "127.0.0.1")
        json.dumps(state)  # must serialise as is


class UnitBehaviourTests(unittest.TestCase):
    """The Unit class driven directly with a fake paho client and a fake clock."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.unit_uuid = str(uuid.uuid4())
        self.token = support.make_token(self.unit_uuid)
        self.schema = support.make_schema(
            DOMAIN, self.unit_uuid, {"input/pepeunit": ["in-own", "linked-out"]},
            {"output/pepeunit": "out-own", "raw": "out-raw"})
        self.env = support.make_env(self.token, "backend.invalid", DELAY_PUB_MSG=2,
                                    STATE_SEND_INTERVAL=10, START_VALUE=5)
        support.write_unit_dir(self.dir, self.env, self.schema, main_py=False)
        self.client = FakeClient()
        self.clock = FakeClock()
        self.restarts = []
        self.downloads = []
        self.http_bodies = {}
        self.unit = main.Unit(self.dir, client_factory=lambda unit: self.client,
                              http_get=self.fake_get, download=self.fake_download,
                              restart=lambda: self.restarts.append(True), clock=self.clock)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def fake_get(self, url, token):
        self.assertEqual(token, self.token)
        return self.http_bodies[url]

    def fake_download(self, url, token, tar_path):
        self.downloads.append(url)
        self.assertEqual(token, self.token)
        with open(tar_path, "wb") as sink:
            sink.write(self.archive)

    def base(self, name):
        return self.schema["input_base_topic"][name][0]

    def connect(self):
        self.unit.handle_event(("connect", 0))

    def log_records(self):
        return main.read_log_records(os.path.join(self.dir, "log.json"))

    def state_topic(self):
        return self.schema["output_base_topic"]["state/pepeunit"][0]

    def test_connect_subscribes_inputs_and_publishes_state(self):
        self.connect()
        self.assertEqual(self.client.subscribed,
                         [(t, 0) for t in main.subscription_topics(self.schema)])
        self.assertEqual(self.client.published[0][0], self.state_topic())
        state = json.loads(self.client.published[0][1])
        self.assertEqual(state["commit_version"], self.env["COMMIT_VERSION"])
        self.assertEqual(self.client.published[0][2:], (0, False))  # QoS 0, never retained

    def test_refused_connection_subscribes_nothing(self):
        self.unit.handle_event(("connect", 5))
        self.assertFalse(self.unit.connected)
        self.assertEqual(self.client.subscribed, [])
        self.assertEqual(self.log_records()[-1]["level"], "Error")

    def test_periodic_state_and_output(self):
        self.connect()
        outputs = main.output_topics(self.schema)
        self.clock.now += 2
        self.unit.tick()
        for topic in outputs:
            self.assertEqual(self.client.payloads(topic), ["5"])  # START_VALUE as text
        self.clock.now += 8
        self.unit.tick()
        self.assertEqual(len(self.client.payloads(self.state_topic())), 2)
        self.assertEqual(len(self.client.payloads(outputs[0])), 2)  # missed ticks don't pile up
        self.clock.now += 0.5
        self.unit.tick()
        self.assertEqual(len(self.client.payloads(outputs[0])), 2)

    def test_input_is_echoed_to_every_output(self):
        self.connect()
        self.unit.handle_event(("message", DOMAIN + "/linked-out/pepeunit", b"42"))
        for topic in main.output_topics(self.schema):
            self.assertEqual(self.client.payloads(topic), ["42"])
        self.assertEqual(self.unit.value, "42")
        self.assertIn("42", self.log_records()[-1]["text"])
        # the same value again is not news and is not re-published at once
        self.unit.handle_event(("message", DOMAIN + "/in-own/pepeunit", b"42"))
        self.assertEqual(self.client.payloads(DOMAIN + "/out-own/pepeunit"), ["42"])

    def test_malformed_input_never_raises(self):
        self.connect()
        before = len(self.log_records())
        for topic, payload in [
            ("elsewhere/topic", b"x"),
            (self.base("update/pepeunit"), b"\xff\xfe not json"),
            (self.base("update/pepeunit"), b"[1,2]"),
            (self.base("update/pepeunit"), b'{"COMMAND":"Update"}'),
            (self.base("update/pepeunit"), b'{"NEW_COMMIT_VERSION": 7}'),
            (DOMAIN + "/in-own/pepeunit", b"\xff\xfe"),
        ]:
            self.unit.handle_event(("message", topic, payload))
        self.assertEqual(self.downloads, [])
        self.assertEqual(self.restarts, [])
        self.assertGreaterEqual(len(self.log_records()) - before, 6)
        self.assertEqual(self.unit.value, "\ufffd\ufffd")

    def test_update_to_the_running_version_is_a_no_op(self):
        self.connect()
        payload = json.dumps({"COMMAND": "Update", "NEW_COMMIT_VERSION": "a" * 40}).encode()
        self.unit.handle_event(("message", self.base("update/pepeunit"), payload))
        self.assertEqual(self.downloads, [])
        self.assertEqual(self.restarts, [])

    def new_firmware(self, commit, token=None, extra=None):
        env = dict(self.env, COMMIT_VERSION=commit, PEPEUNIT_TOKEN=token or self.token)
        files = {"main.py": b"print('v2')\n", "VERSION": b"2.0.0\n", "lib/util.py": b"X = 1\n",
                 "env.json": json.dumps(env, indent=4).encode(),
                 "schema.json": json.dumps(self.schema, indent=4).encode()}
        files.update(extra or {})
        return support.make_tar([("./", None)] + [("./" + k, v) for k, v in files.items()])

    def test_update_downloads_installs_and_restarts(self):
        self.connect()
        self.archive = self.new_firmware("b" * 40)
        payload = json.dumps({"COMMAND": "Update", "NEW_COMMIT_VERSION": "b" * 40,
                              "PU_COMMIT_VERSION": "b" * 40}).encode()
        self.unit.handle_event(("message", self.base("update/pepeunit"), payload))
        self.assertEqual(self.downloads, [
            "http://backend.invalid/pepeunit/api/v1/units/firmware/tgz/%s?wbits=9&level=9"
            % self.unit_uuid])
        self.assertEqual(self.restarts, [True])
        with open(os.path.join(self.dir, "VERSION")) as source:
            self.assertEqual(source.read(), "2.0.0\n")
        with open(os.path.join(self.dir, "lib", "util.py")) as source:
            self.assertEqual(source.read(), "X = 1\n")
        self.assertEqual(main.load_json_file(os.path.join(self.dir, "env.json"))
                         ["COMMIT_VERSION"], "b" * 40)

    def test_2026_update_key_is_understood(self):
        self.connect()
        self.archive = self.new_firmware("d" * 40)
        payload = json.dumps({"COMMAND": "Update", "PU_COMMIT_VERSION": "d" * 40}).encode()
        self.unit.handle_event(("message", self.base("update/pepeunit"), payload))
        self.assertEqual(len(self.downloads), 1)
        self.assertEqual(self.restarts, [True])

    def assert_update_refused(self, archive):
        self.connect()
        self.archive = archive
        payload = json.dumps({"NEW_COMMIT_VERSION": "e" * 40}).encode()
        self.unit.handle_event(("message", self.base("update/pepeunit"), payload))
        self.assertEqual(self.restarts, [])
        with open(os.path.join(self.dir, "VERSION")) as source:
            self.assertEqual(source.read(), "1.0.0\n")
        self.assertEqual(main.load_json_file(os.path.join(self.dir, "env.json")), self.env)
        self.assertEqual(self.log_records()[-1]["level"], "Error")

    def test_unsafe_update_installs_nothing(self):
        self.assert_update_refused(self.new_firmware("e" * 40, extra={"../escape.py": b"x"}))
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.dir), "escape.py")))

    def test_update_for_another_unit_installs_nothing(self):
        other = support.make_token(str(uuid.uuid4()))
        self.assert_update_refused(self.new_firmware("e" * 40, token=other))

    def test_update_without_env_installs_nothing(self):
        self.assert_update_refused(support.make_tar([("./main.py", b"print(3)")]))

    def test_env_update_double_encoded_keeps_running_version(self):
        self.connect()
        new_env = dict(self.env, DELAY_PUB_MSG=7, COMMIT_VERSION="f" * 40)
        url = "http://backend.invalid/pepeunit/api/v1/units/env/" + self.unit_uuid
        self.http_bodies[url] = json.dumps(json.dumps(new_env)).encode()
        self.unit.handle_event(("message", self.base("env_update/pepeunit"), b"{}"))
        written = main.load_json_file(os.path.join(self.dir, "env.json"))
        self.assertEqual(written["DELAY_PUB_MSG"], 7)
        self.assertEqual(written["COMMIT_VERSION"], "a" * 40)  # the installed code's version
        self.assertEqual(self.unit.pub_delay, 7)

    def test_env_update_plain_object_without_version(self):
        self.connect()
        new_env = dict(self.env, START_VALUE="9")
        del new_env["COMMIT_VERSION"]
        url = "http://backend.invalid/pepeunit/api/v1/units/env/" + self.unit_uuid
        self.http_bodies[url] = json.dumps(new_env).encode()
        self.unit.handle_event(("message", self.base("env_update/pepeunit"), b"{}"))
        written = main.load_json_file(os.path.join(self.dir, "env.json"))
        self.assertEqual(written["START_VALUE"], "9")
        self.assertEqual(written["COMMIT_VERSION"], "a" * 40)

    def test_bad_env_body_keeps_env(self):
        self.connect()
        url = "http://backend.invalid/pepeunit/api/v1/units/env/" + self.unit_uuid
        for body in [b"[]", b"oops", json.dumps({"PEPEUNIT_TOKEN": "x.y.z"}).encode()]:
            self.http_bodies[url] = body
            self.unit.handle_event(("message", self.base("env_update/pepeunit"), b"{}"))
            self.assertEqual(main.load_json_file(os.path.join(self.dir, "env.json")), self.env)

    def test_schema_update_resubscribes(self):
        self.connect()
        new_schema = support.make_schema(
            DOMAIN, self.unit_uuid, {"input/pepeunit": ["in-own", "other-linked"]},
            {"output/pepeunit": "out-own"})
        url = "http://backend.invalid/pepeunit/api/v1/units/get_current_schema/" + self.unit_uuid
        self.http_bodies[url] = json.dumps(json.dumps(new_schema)).encode()
        self.client.subscribed.clear()
        self.unit.handle_event(("message", self.base("schema_update/pepeunit"), b"{}"))
        self.assertEqual(self.client.unsubscribed, [DOMAIN + "/linked-out/pepeunit"])
        self.assertEqual(self.client.subscribed, [(DOMAIN + "/other-linked/pepeunit", 0)])
        self.assertEqual(main.load_json_file(os.path.join(self.dir, "schema.json")), new_schema)
        self.unit.handle_event(("message", DOMAIN + "/other-linked/pepeunit", b"77"))
        self.assertEqual(self.client.payloads(DOMAIN + "/out-own/pepeunit"), ["77"])
        self.assertEqual(self.client.payloads(DOMAIN + "/out-raw/pepeunit"), [])

    def test_log_sync_replays_the_log(self):
        self.schema["output_base_topic"]["log/pepeunit"] = [
            "%s/output_base_topic/%s/log/pepeunit" % (DOMAIN, self.unit_uuid)]
        self.schema["input_base_topic"]["log_sync/pepeunit"] = [
            "%s/input_base_topic/%s/log_sync/pepeunit" % (DOMAIN, self.unit_uuid)]
        support.write_unit_dir(self.dir, self.env, self.schema, main_py=False)
        unit = main.Unit(self.dir, client_factory=lambda unit: self.client, clock=self.clock)
        unit.handle_event(("connect", 0))
        log_topic = self.schema["output_base_topic"]["log/pepeunit"][0]
        live = self.client.payloads(log_topic)
        self.assertTrue(live)
        self.assertEqual(set(json.loads(live[-1])), {"level", "text", "create_datetime"})
        unit.handle_event(("message", self.schema["input_base_topic"]["log_sync/pepeunit"][0],
                           b'{"COMMAND":"LogSync"}'))
        batch = json.loads(self.client.payloads(log_topic)[-1])
        self.assertIsInstance(batch, list)
        self.assertTrue(any("connected" in record["text"] for record in batch))

    def test_log_sync_without_log_topic_publishes_nothing(self):
        self.schema["input_base_topic"]["log_sync/pepeunit"] = ["t/log_sync"]
        support.write_unit_dir(self.dir, self.env, self.schema, main_py=False)
        unit = main.Unit(self.dir, client_factory=lambda unit: self.client, clock=self.clock)
        unit.handle_event(("connect", 0))
        count = len(self.client.published)
        unit.handle_event(("message", "t/log_sync", b"{}"))
        self.assertEqual(len(self.client.published), count)

    def test_log_file_is_bounded(self):
        for i in range(4000):
            self.unit.log("Debug", "line %d %s" % (i, "z" * 100))
        self.assertLessEqual(os.path.getsize(os.path.join(self.dir, "log.json")),
                             main.LOG_FILE_MAX_BYTES + 1024)
        self.assertIn("line 3999", self.log_records()[-1]["text"])


class HttpTests(unittest.TestCase):
    """The real urllib paths against a loopback fake backend."""

    def setUp(self):
        self.unit_uuid = str(uuid.uuid4())
        self.token = support.make_token(self.unit_uuid)
        self.backend = support.FakeBackend(self.token, self.unit_uuid)
        self.base = "http://%s%s" % (self.backend.host, support.API_PREFIX)
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        self.backend.close()
        shutil.rmtree(self.dir)

    def test_get_sends_the_token_header(self):
        self.backend.env_body = b'"{\\"A\\": 1}"'
        body = main.http_get_bytes(self.base + "/units/env/" + self.unit_uuid, self.token)
        self.assertEqual(main.decode_json_body(body), {"A": 1})
        self.assertEqual(self.backend.requests[-1]["token"], self.token)

    def test_http_errors_are_unit_errors(self):
        with self.assertRaisesRegex(main.UnitError, "403"):
            main.http_get_bytes(self.base + "/units/env/" + self.unit_uuid, "wrong")
        with self.assertRaisesRegex(main.UnitError, "404"):
            main.http_get_bytes(self.base + "/units/nothing", self.token)

    def test_download_firmware(self):
        tar = support.make_tar([("./main.py", b"print(2)")])
        self.backend.firmware = support.zlib_compress(tar)
        tar_path = os.path.join(self.dir, "f.tar")
        main.download_firmware(
            self.base + "/units/firmware/tgz/%s?wbits=9&level=9" % self.unit_uuid,
            self.token, tar_path)
        with open(tar_path, "rb") as source:
            self.assertEqual(source.read(), tar)
        self.assertEqual(self.backend.requests[-1]["query"], {"wbits": ["9"], "level": ["9"]})

    def test_full_update_over_http(self):
        schema = support.make_schema(DOMAIN, self.unit_uuid, {"input/pepeunit": ["i"]},
                                     {"output/pepeunit": "o"})
        env = support.make_env(self.token, self.backend.host)
        support.write_unit_dir(self.dir, env, schema, main_py=False)
        new_env = dict(env, COMMIT_VERSION="9" * 40)
        self.backend.firmware = support.firmware_archive({
            "main.py": b"# v2\n", "VERSION": b"2.0.0\n",
            "env.json": json.dumps(new_env, indent=4).encode(),
            "schema.json": json.dumps(schema, indent=4).encode()})
        restarts = []
        unit = main.Unit(self.dir, client_factory=lambda unit: FakeClient(),
                         restart=lambda: restarts.append(True))
        unit.handle_event(("connect", 0))
        unit.handle_event(("message", schema["input_base_topic"]["update/pepeunit"][0],
                           json.dumps({"NEW_COMMIT_VERSION": "9" * 40}).encode()))
        self.assertEqual(restarts, [True])
        self.assertEqual(main.load_json_file(os.path.join(self.dir, "env.json")), new_env)
        with open(os.path.join(self.dir, "main.py")) as source:
            self.assertEqual(source.read(), "# v2\n")


if __name__ == "__main__":
    unittest.main()

"""The python-unit as a real process: a real Mosquitto broker on a free loopback port, a
loopback fake of the backend's unit-facing REST endpoints, and paho as the observer.

Covers what the backend's e2e tests rely on: connect with the token as username, state on
connect, input echo, Update (download, unpack, install, re-exec in the same pid, new version in
the state), EnvUpdate, SchemaUpdate (a new input topic starts working) and SIGTERM.
Skipped when /usr/sbin/mosquitto or paho is missing.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

try:
    import paho.mqtt.client as mqtt
except ImportError:
    mqtt = None

MOSQUITTO = "/usr/sbin/mosquitto"
PYTHON = "/usr/bin/python3"
DOMAIN = "127.0.0.1"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_json(path):
    with open(path) as source:
        return json.load(source)


def read_text(path):
    with open(path, errors="replace") as source:
        return source.read()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    def __init__(self, work_dir):
        self.port = free_port()
        conf = os.path.join(work_dir, "mosquitto.conf")
        with open(conf, "w") as sink:
            sink.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                       % self.port)
            if os.geteuid() == 0:
                sink.write("user root\n")  # else mosquitto drops to a user that may not exist
        self.log = open(os.path.join(work_dir, "mosquitto.log"), "wb")
        self.process = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        if not support.wait_for(lambda: port_open(self.port), timeout=10):
            self.stop()
            raise RuntimeError("mosquitto did not start")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Observer:
    """A paho client that records every message on the topics it watches."""

    def __init__(self, port, topics):
        self.messages = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(client_id="observer-%s" % uuid.uuid4(), clean_session=True)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.connect("127.0.0.1", port, 30)
        self.client.subscribe([(topic, 0) for topic in topics])
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("observer did not subscribe")

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append((message.topic, message.payload.decode("utf-8", "replace")))

    def payloads(self, topic):
        with self._lock:
            return [payload for t, payload in self.messages if t == topic]

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=0).wait_for_publish(5)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@unittest.skipUnless(os.path.exists(MOSQUITTO) and mqtt is not None, "needs mosquitto and paho")
class DeviceTests(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp()
        self.unit_dir = os.path.join(self.work, "unit")
        os.mkdir(self.unit_dir)
        self.broker = Broker(self.work)
        self.addCleanup(self.broker.stop)
        self.unit_uuid = str(uuid.uuid4())
        self.token = support.make_token(self.unit_uuid)
        self.backend = support.FakeBackend(self.token, self.unit_uuid)
        self.addCleanup(self.backend.close)
        self.schema = support.make_schema(DOMAIN, self.unit_uuid, {"input/pepeunit": ["in1"]},
                                          {"output/pepeunit": "out1"})
        self.env = support.make_env(self.token, self.backend.host, mqtt_port=self.broker.port,
                                    STATE_SEND_INTERVAL=3600, DELAY_PUB_MSG=0.2)
        support.write_unit_dir(self.unit_dir, self.env, self.schema)
        self.state_topic = self.schema["output_base_topic"]["state/pepeunit"][0]
        self.output_topic = DOMAIN + "/out1/pepeunit"
        self.observer = Observer(self.broker.port, [self.state_topic, self.output_topic])
        self.addCleanup(self.observer.close)
        self.stdout_path = os.path.join(self.work, "unit.out")
        self.addCleanup(shutil.rmtree, self.work, True)

    def start_unit(self):
        self.stdout = open(self.stdout_path, "wb")
        self.process = subprocess.Popen([PYTHON, "main.py"], cwd=self.unit_dir,
                                        stdout=self.stdout, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_unit)

    def stop_unit(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stdout.close()

    def output(self):
        return read_text(self.stdout_path)

    def states(self):
        return [json.loads(payload) for payload in self.observer.payloads(self.state_topic)]

    def wait_for(self, predicate, what, timeout=15):
        if not support.wait_for(predicate, timeout=timeout):
            self.fail("timed out waiting for %s; unit output:\n%s" % (what, self.output()))

    def test_device_lifecycle(self):
        self.start_unit()
        self.wait_for(lambda: self.states(), "the first state")
        state = self.states()[0]
        self.assertEqual(state["commit_version"], self.env["COMMIT_VERSION"])
        self.assertEqual(len(state["statvfs"]), 10)
        self.wait_for(lambda: "0" in self.observer.payloads(self.output_topic), "START_VALUE")

        # A user sets the Input: the unit echoes it to its Output.
        self.observer.publish(DOMAIN + "/in1/pepeunit", "42")
        self.wait_for(lambda: "42" in self.observer.payloads(self.output_topic), "the echo")

        # Bad input on every topic it listens to does not kill it.
        for name in ("update/pepeunit", "env_update/pepeunit"):
            self.observer.publish(self.schema["input_base_topic"][name][0], b"\xff{not json")
        self.backend.env_body = b"not json"
        self.observer.publish(DOMAIN + "/in1/pepeunit", "43")
        self.wait_for(lambda: "43" in self.observer.payloads(self.output_topic), "a later echo")
        self.assertIsNone(self.process.poll())

        # EnvUpdate with a 2024 double-encoded body.
        new_env = dict(self.env, START_VALUE="env-updated")
        self.backend.env_body = json.dumps(json.dumps(new_env)).encode()
        self.observer.publish(self.schema["input_base_topic"]["env_update/pepeunit"][0],
                              '{"COMMAND":"EnvUpdate"}')
        env_path = os.path.join(self.unit_dir, "env.json")
        self.wait_for(lambda: read_json(env_path).get("START_VALUE") == "env-updated",
                      "env.json rewritten")

        # SchemaUpdate: a second input topic (a linked Output of another unit) starts working.
        new_schema = support.make_schema(DOMAIN, self.unit_uuid,
                                         {"input/pepeunit": ["in1", "linked"]},
                                         {"output/pepeunit": "out1"})
        self.backend.schema_body = json.dumps(new_schema).encode()
        self.observer.publish(self.schema["input_base_topic"]["schema_update/pepeunit"][0],
                              '{"COMMAND":"SchemaUpdate"}')
        self.wait_for(lambda: "schema.json updated" in self.output(), "the schema update")
        self.observer.publish(DOMAIN + "/linked/pepeunit", "from-linked")
        self.wait_for(lambda: "from-linked" in self.observer.payloads(self.output_topic),
                      "a value through the new subscription")

        # Update: the unit downloads the archive, installs it and re-execs in place.
        new_commit = "b" * 40
        with open(support.MAIN_PY, "rb") as source:
            main_py = source.read()
        self.backend.firmware = support.firmware_archive({
            "main.py": main_py,
            "VERSION": b"2.0.0\n",
            "env.json": json.dumps(dict(new_env, COMMIT_VERSION=new_commit), indent=4).encode(),
            "schema.json": json.dumps(new_schema, indent=4).encode(),
        })
        pid = self.process.pid
        self.observer.publish(self.schema["input_base_topic"]["update/pepeunit"][0],
                              json.dumps({"COMMAND": "Update", "NEW_COMMIT_VERSION": new_commit,
                                          "PU_COMMIT_VERSION": new_commit}))
        self.wait_for(lambda: any(s["commit_version"] == new_commit for s in self.states()),
                      "a state with the new version")
        self.assertIsNone(self.process.poll())
        self.assertEqual(self.process.pid, pid)
        self.assertIn("firmware 2.0.0", self.output())
        firmware_requests = [r for r in self.backend.requests if "/firmware/tgz/" in r["path"]]
        self.assertEqual(len(firmware_requests), 1)
        self.assertEqual(firmware_requests[0]["token"], self.token)
        self.assertEqual(firmware_requests[0]["query"], {"wbits": ["9"], "level": ["9"]})

        # SIGTERM: a clean exit.
        self.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.process.wait(10), 0)


class ProcessTests(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.work, True)
        self.unit_uuid = str(uuid.uuid4())
        self.token = support.make_token(self.unit_uuid)

    def run_unit(self, env, schema):
        support.write_unit_dir(self.work, env, schema)
        out_path = os.path.join(self.work, "out")
        out = open(out_path, "wb")
        self.addCleanup(out.close)
        process = subprocess.Popen([PYTHON, "main.py"], cwd=self.work, stdout=out,
                                   stderr=subprocess.STDOUT)
        self.addCleanup(lambda: process.poll() is None and (process.kill(), process.wait()))
        return process, out_path

    @unittest.skipUnless(mqtt is not None, "needs paho")
    def test_sigterm_while_the_broker_is_unreachable(self):
        env = support.make_env(self.token, "127.0.0.1:9", mqtt_port=free_port())
        schema = support.make_schema(DOMAIN, self.unit_uuid, {}, {})
        process, out_path = self.run_unit(env, schema)
        self.assertTrue(support.wait_for(lambda: "starting" in read_text(out_path)))
        self.assertIsNone(process.poll())  # retrying, not crashed
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(10), 0)

    def test_bad_env_exits_with_a_message(self):
        env = {"PEPEUNIT_TOKEN": "not-a-jwt"}
        process, out_path = self.run_unit(env, {})
        self.assertEqual(process.wait(10), 2)
        self.assertIn("cannot start", read_text(out_path))


if __name__ == "__main__":
    unittest.main()

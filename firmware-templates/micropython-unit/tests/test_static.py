"""Static checks of the MicroPython unit's files (it cannot run here): JSON files parse, the
schema and env examples follow the 2026 contract, every .py file compiles, and main.py handles
every input base topic its schema declares.

Run from the repo root:
/usr/bin/python3 -B -m unittest discover -b -s firmware-templates/micropython-unit/tests
"""

import json
import os
import re
import unittest

TEMPLATE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Reserved 2026-generation keys the backend fills because env_example.json declares them.
# PU_COMMIT_VERSION is reserved too but is never declared: the backend injects it into the
# archive's env.json and never stores it (the upstream docs' example leaves it out as well).
RESERVED_2026 = {
    "PU_DOMAIN", "PU_HTTP_TYPE", "PU_APP_PREFIX", "PU_API_ACTUAL_PREFIX", "PU_MQTT_HOST",
    "PU_MQTT_PORT", "PU_MQTT_PING_INTERVAL", "PU_MQTT_KEEPALIVE", "PU_AUTH_TOKEN",
    "PU_SECRET_KEY", "PU_ENCRYPT_KEY", "PU_STATE_SEND_INTERVAL", "PU_MIN_LOG_LEVEL",
    "PU_MAX_LOG_LENGTH",
}
VERSION_KEYS = {"PU_COMMIT_VERSION", "COMMIT_VERSION"}
RESERVED_2024 = {
    "PEPEUNIT_URL", "HTTP_TYPE", "PEPEUNIT_APP_PREFIX", "PEPEUNIT_API_ACTUAL_PREFIX",
    "MQTT_URL", "MQTT_PORT", "PEPEUNIT_TOKEN", "SYNC_ENCRYPT_KEY", "SECRET_KEY",
    "PING_INTERVAL", "STATE_SEND_INTERVAL",
}
DEVELOPER_KEYS = {"PUC_WIFI_SSID", "PUC_WIFI_PASS", "DELAY_PUB_MSG", "START_VALUE"}
NUMERIC_KEYS = {"PU_MQTT_PORT", "PU_MQTT_PING_INTERVAL", "PU_MQTT_KEEPALIVE",
                "PU_STATE_SEND_INTERVAL", "PU_MAX_LOG_LENGTH"}
SCHEMA_KEYS = {"input_base_topic", "output_base_topic", "input_topic", "output_topic"}
BASE_INPUTS = {"update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit",
               "log_sync/pepeunit"}
BASE_OUTPUTS = {"state/pepeunit", "log/pepeunit"}
TOPIC_CHARS = re.compile(r"^[A-Za-z0-9/_-]+$")


def read(name):
    with open(os.path.join(TEMPLATE_DIR, name), encoding="utf-8") as source:
        return source.read()


def template_files(suffix):
    found = []
    for directory, _, names in os.walk(TEMPLATE_DIR):
        found.extend(os.path.join(directory, n) for n in names if n.endswith(suffix))
    return sorted(found)


class JsonFilesTests(unittest.TestCase):
    def test_every_json_file_parses(self):
        files = template_files(".json")
        self.assertTrue(files)
        for file_path in files:
            with self.subTest(file=os.path.relpath(file_path, TEMPLATE_DIR)):
                with open(file_path, encoding="utf-8") as source:
                    json.load(source)


class SchemaExampleTests(unittest.TestCase):
    def setUp(self):
        self.schema = json.loads(read("schema_example.json"))

    def test_exactly_the_four_sections_each_a_list(self):
        self.assertEqual(set(self.schema), SCHEMA_KEYS)
        for section, topics in self.schema.items():
            self.assertIsInstance(topics, list, section)
            self.assertEqual(len(topics), len(set(topics)), "%s has duplicates" % section)

    def test_topic_names_use_only_valid_characters(self):
        for section, topics in self.schema.items():
            for topic in topics:
                with self.subTest(topic=topic):
                    self.assertRegex(topic, TOPIC_CHARS)
                    self.assertLess(len(topic), 65435)

    def test_base_topics_are_the_2026_reserved_names(self):
        self.assertEqual(set(self.schema["input_base_topic"]), BASE_INPUTS)
        self.assertEqual(set(self.schema["output_base_topic"]), BASE_OUTPUTS)

    def test_developer_topics(self):
        self.assertEqual(self.schema["input_topic"], ["input/pepeunit"])
        self.assertEqual(self.schema["output_topic"], ["output/pepeunit"])


class EnvExampleTests(unittest.TestCase):
    def setUp(self):
        self.env = json.loads(read("env_example.json"))

    def test_exactly_the_2026_reserved_keys_plus_developer_keys(self):
        self.assertEqual(set(self.env), RESERVED_2026 | DEVELOPER_KEYS)
        self.assertFalse(set(self.env) & VERSION_KEYS)
        self.assertFalse(set(self.env) & RESERVED_2024, "2024 keys would mix generations")

    def test_value_types(self):
        for key in NUMERIC_KEYS:
            with self.subTest(key=key):
                self.assertIsInstance(self.env[key], int)
        self.assertIn(self.env["PU_HTTP_TYPE"], ("http", "https"))
        self.assertIn(self.env["PU_MIN_LOG_LEVEL"],
                      ("Debug", "Info", "Warning", "Error", "Critical"))
        self.assertNotIn(".", self.env["PU_AUTH_TOKEN"], "examples must not hold a real token")


class SourceTests(unittest.TestCase):
    def test_every_python_file_compiles(self):
        files = template_files(".py")
        self.assertIn(os.path.join(TEMPLATE_DIR, "main.py"), files)
        self.assertIn(os.path.join(TEMPLATE_DIR, "boot.py"), files)
        for file_path in files:
            with self.subTest(file=os.path.relpath(file_path, TEMPLATE_DIR)):
                with open(file_path, encoding="utf-8") as source:
                    compile(source.read(), file_path, "exec")

    def test_main_handles_every_base_topic(self):
        main_py = read("main.py")
        for topic in sorted(BASE_INPUTS | BASE_OUTPUTS):
            with self.subTest(topic=topic):
                self.assertIn("'%s'" % topic, main_py)

    def test_main_uses_the_2026_protocol_names(self):
        main_py = read("main.py")
        for needle in ["from umqtt.simple import MQTTClient", "deflate.DeflateIO(",
                       "deflate.AUTO", "'pu_commit_version'", "'PU_COMMIT_VERSION'",
                       "'PU_AUTH_TOKEN'", "'x-auth-token'", "password=''",
                       "/units/firmware/tgz/", "/units/env/", "/units/get_current_schema/"]:
            with self.subTest(needle=needle):
                self.assertIn(needle, main_py)
        for key in RESERVED_2026 - {"PU_SECRET_KEY", "PU_ENCRYPT_KEY"}:
            with self.subTest(key=key):
                self.assertIn("'%s'" % key, main_py)  # every setting it is given is used

    def test_boot_reads_the_wifi_keys(self):
        boot_py = read("boot.py")
        self.assertIn("'PUC_WIFI_SSID'", boot_py)
        self.assertIn("'PUC_WIFI_PASS'", boot_py)

    def test_pepeignore_keeps_what_the_device_needs(self):
        patterns = [line.strip() for line in read(".pepeignore").splitlines()
                    if line.strip() and not line.startswith("#")]
        for needed in ("main.py", "boot.py", "env.json", "schema.json"):
            self.assertNotIn(needed, patterns)
        for dropped in ("env_example.json", "schema_example.json", "tests/", "*.md"):
            self.assertIn(dropped, patterns)


if __name__ == "__main__":
    unittest.main()

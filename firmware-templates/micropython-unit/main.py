# Pepeunit MicroPython unit for ESP32 (2026-generation PU_* env keys).
#
# Reads /env.json and /schema.json, connects to the broker with umqtt.simple (client id = unit
# uuid, username = PU_AUTH_TOKEN, empty password), subscribes to its input base and input
# topics, publishes its state every PU_STATE_SEND_INTERVAL s, its value to every output topic
# every DELAY_PUB_MSG s and its log records to log/pepeunit, echoes values that arrive on its
# inputs to its outputs, and follows the backend's commands: Update (download the tgz with its
# token, inflate with a 512-byte window, unpack safely, install, reset), EnvUpdate,
# SchemaUpdate and LogSync. Needs on the board: umqtt.simple, urequests (or requests),
# deflate (MicroPython >= 1.21) and tarfile (`mip.install('tarfile')`).
import gc
import json
import os
import time

import machine
import network
import ubinascii
from umqtt.simple import MQTTClient

# The unit directory: '' is the flash root. Tests point it at a temporary directory.
ROOT = ''

UPDATE_TOPIC = 'update/pepeunit'
ENV_UPDATE_TOPIC = 'env_update/pepeunit'
SCHEMA_UPDATE_TOPIC = 'schema_update/pepeunit'
LOG_SYNC_TOPIC = 'log_sync/pepeunit'
STATE_TOPIC = 'state/pepeunit'
LOG_TOPIC = 'log/pepeunit'
SECTIONS = ('input_base_topic', 'output_base_topic', 'input_topic', 'output_topic')

LEVELS = ('Debug', 'Info', 'Warning', 'Error', 'Critical')
FIRMWARE_WBITS = 9  # a 512-byte inflate window: what this RAM can afford
FIRMWARE_LEVEL = 9
COPY_CHUNK = 512
HTTP_BODY_LIMIT = 64000
LOG_TEXT_LIMIT = 256
LOG_SYNC_GAP_MS = 50
MAX_PENDING = 8
LOOP_SLEEP_MS = 10
MAX_BACKOFF_MS = 30000
# ESP32 time.time() counts from 2000-01-01; the backend wants Unix epoch milliseconds.
EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0
SYNCED_AFTER_S = 1700000000  # a clock before 2023 was never set by NTP


def path(name):
    return ROOT + '/' + name


def read_json(file_path):
    with open(file_path) as source:
        return json.load(source)


def replace_file(source, target):
    try:
        os.rename(source, target)
    except OSError:  # FAT refuses to rename over an existing file
        os.remove(target)
        os.rename(source, target)


def write_json(file_path, data):
    temp_path = file_path + '.tmp'
    with open(temp_path, 'w') as sink:
        json.dump(data, sink)
    replace_file(temp_path, file_path)


def is_dir(file_path):
    try:
        return os.stat(file_path)[0] & 0x4000 != 0
    except OSError:
        return False


def exists(file_path):
    try:
        os.stat(file_path)
        return True
    except OSError:
        return False


def make_dirs(dir_path):
    current = ''
    for part in dir_path.split('/'):
        if not part:
            continue
        current = current + '/' + part if current or dir_path.startswith('/') else part
        if not is_dir(current):
            os.mkdir(current)


def remove_tree(file_path):
    if is_dir(file_path):
        for name in os.listdir(file_path):
            remove_tree(file_path + '/' + name)
        os.rmdir(file_path)
    elif exists(file_path):
        os.remove(file_path)


def to_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def number(env, key, default, minimum):
    try:
        value = float(env.get(key, default))
    except (TypeError, ValueError):
        return default
    return value if value >= minimum else minimum


def epoch_s():
    return time.time() + EPOCH_OFFSET_S


def clock_synced():
    return epoch_s() > SYNCED_AFTER_S


def b64url_decode(text):
    text = text.replace('-', '+').replace('_', '/')
    return ubinascii.a2b_base64(text + '=' * (-len(text) % 4))


def unit_uuid_from_token(token):
    # Devices never get their uuid any other way than from the token's payload.
    parts = token.split('.') if isinstance(token, str) else ()
    if len(parts) != 3:
        raise ValueError('token is not a JWT')
    payload = json.loads(b64url_decode(parts[1]).decode())
    unit_uuid = payload.get('uuid') if isinstance(payload, dict) else None
    if not isinstance(unit_uuid, str) or len(unit_uuid) != 36:
        raise ValueError('token has no uuid')
    for char in unit_uuid:
        if char not in '0123456789abcdefABCDEF-':
            raise ValueError('token uuid is not a uuid')
    return unit_uuid


def decode_body(text):
    # 2026 backends send the object; 2024 ones JSON-encode it into a string first.
    value = json.loads(text)
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError('body is not a JSON object')
    return value


def normalize_schema(schema):
    if not isinstance(schema, dict):
        raise ValueError('schema is not an object')
    for section in SECTIONS:
        names = schema.get(section, {})
        if not isinstance(names, dict):
            raise ValueError('schema section %s is not an object' % section)
        for topics in names.values():
            if not isinstance(topics, list):
                raise ValueError('schema section %s has a non-list entry' % section)
            for topic in topics:
                if not isinstance(topic, str) or not topic:
                    raise ValueError('schema section %s has a bad topic' % section)
        schema[section] = names
    return schema


def subscription_topics(schema):
    topics = []
    for section in ('input_base_topic', 'input_topic'):
        for physical in schema[section].values():
            for topic in physical:
                if topic not in topics:
                    topics.append(topic)
    return topics


def output_topics(schema):
    topics = []
    for physical in schema['output_topic'].values():
        for topic in physical:
            if topic not in topics:
                topics.append(topic)
    return topics


def first_topic(schema, section, name):
    topics = schema[section].get(name) or []
    return topics[0] if topics else None


def safe_relative_path(name):
    # None for the archive root; ValueError for names that would leave the unit directory.
    if not name or name.startswith('/') or name.startswith('\\') or '\x00' in name:
        raise ValueError('unsafe archive member %r' % name)
    parts = []
    for part in name.split('/'):
        if part == '..':
            raise ValueError('unsafe archive member %r' % name)
        if part and part != '.':
            parts.append(part)
    return '/'.join(parts) or None


def level_index(level):
    return LEVELS.index(level) if level in LEVELS else 0


def http_request(url, token):
    try:
        import urequests as requests
    except ImportError:
        import requests
    response = requests.get(url, headers={'x-auth-token': token,
                                          'Accept': 'application/json'})
    if response.status_code != 200:
        response.close()
        raise OSError('GET %s: HTTP %d' % (url, response.status_code))
    return response


class Unit:
    def __init__(self):
        self.env = read_json(path('env.json'))
        self.schema = normalize_schema(read_json(path('schema.json')))
        self.token = self.env.get('PU_AUTH_TOKEN')
        self.uuid = unit_uuid_from_token(self.token)
        self.value = to_text(self.env.get('START_VALUE', '0'))
        self.client = None
        self.connected = False
        self.pending = []
        self.started = time.ticks_ms()
        self.next_state = self.started
        self.next_output = self.started
        self.last_ping = self.started
        self.log_lines = len(self.read_log_lines())
        self.load_settings()
        self.index_schema()

    # -- configuration -------------------------------------------------------------------

    def load_settings(self):
        env = self.env
        self.min_level = level_index(env.get('PU_MIN_LOG_LEVEL', 'Debug'))
        self.max_log_lines = int(number(env, 'PU_MAX_LOG_LENGTH', 64, 1))
        self.state_interval_ms = int(number(env, 'PU_STATE_SEND_INTERVAL', 60, 1) * 1000)
        self.ping_interval_ms = int(number(env, 'PU_MQTT_PING_INTERVAL', 20, 1) * 1000)
        self.keepalive = int(number(env, 'PU_MQTT_KEEPALIVE', 60, 0))
        self.mqtt_port = int(number(env, 'PU_MQTT_PORT', 1883, 1))
        self.pub_delay_ms = int(number(env, 'DELAY_PUB_MSG', 1, 0.05) * 1000)

    def index_schema(self):
        self.commands = {}
        for name, topics in self.schema['input_base_topic'].items():
            for topic in topics:
                self.commands[topic] = name
        self.inputs = []
        for topics in self.schema['input_topic'].values():
            self.inputs.extend(topics)

    def api_url(self, tail):
        env = self.env
        return '%s://%s%s%s%s' % (env.get('PU_HTTP_TYPE', 'https'), env['PU_DOMAIN'],
                                  env.get('PU_APP_PREFIX', '/pepeunit'),
                                  env.get('PU_API_ACTUAL_PREFIX', '/api/v1'), tail)

    # -- logging ---------------------------------------------------------------------------

    def log(self, level, text):
        if level_index(level) < self.min_level:
            return
        record = {'level': level, 'text': text[:LOG_TEXT_LIMIT]}
        if clock_synced():  # without NTP the backend stamps the record itself
            record['create_datetime'] = int(epoch_s() * 1000)
        line = json.dumps(record)
        print(line)
        self.append_log_line(line)
        topic = first_topic(self.schema, 'output_base_topic', LOG_TOPIC)
        if topic and self.connected:
            try:
                self.client.publish(topic.encode(), line.encode())
            except OSError:
                self.connected = False  # the main loop reconnects

    def read_log_lines(self):
        try:
            with open(path('log.json')) as source:
                return [line.strip() for line in source if line.strip()]
        except OSError:
            return []

    def append_log_line(self, line):
        # One JSON object per line; trimmed to the newest PU_MAX_LOG_LENGTH lines once it
        # doubles, so flash is rewritten rarely.
        try:
            with open(path('log.json'), 'a') as sink:
                sink.write(line + '\n')
            self.log_lines += 1
            if self.log_lines >= 2 * self.max_log_lines:
                keep = self.read_log_lines()[-self.max_log_lines:]
                with open(path('log.json.tmp'), 'w') as sink:
                    for kept in keep:
                        sink.write(kept + '\n')
                replace_file(path('log.json.tmp'), path('log.json'))
                self.log_lines = len(keep)
        except OSError:
            pass  # a full flash must not stop the unit

    # -- network ---------------------------------------------------------------------------

    def ensure_wifi(self):
        wlan = network.WLAN(network.STA_IF)
        if wlan.isconnected():
            return
        wlan.active(True)
        wlan.connect(self.env.get('PUC_WIFI_SSID', ''), self.env.get('PUC_WIFI_PASS', ''))
        started = time.ticks_ms()
        while not wlan.isconnected():
            if time.ticks_diff(time.ticks_ms(), started) > 20000:
                raise OSError('Wi-Fi did not come up')
            time.sleep_ms(200)

    def connect(self):
        # Client id = unit uuid: a second connection with this token takes the session over.
        client = MQTTClient(self.uuid, self.env['PU_MQTT_HOST'], port=self.mqtt_port,
                            user=self.token, password='', keepalive=self.keepalive)
        client.set_callback(self.on_message)
        client.connect()
        self.client = client
        self.connected = True
        topics = subscription_topics(self.schema)
        for topic in topics:
            client.subscribe(topic.encode())
        now = time.ticks_ms()
        self.last_ping = now
        self.next_state = now  # the state goes out right after every (re)connect
        self.next_output = time.ticks_add(now, self.pub_delay_ms)
        self.log('Info', 'connected, subscribed to %d topics' % len(topics))

    def connect_forever(self):
        delay = 500
        while True:
            try:
                self.ensure_wifi()
                self.connect()
                return
            except Exception as error:  # OSError or umqtt's MQTTException
                self.close_client()
                self.log('Warning', 'connect failed: %r' % (error,))
                time.sleep_ms(delay)
                delay = min(delay * 2, MAX_BACKOFF_MS)

    def close_client(self):
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:  # the socket may already be dead
                pass
        self.client = None
        self.connected = False

    def publish(self, topic, payload):
        self.client.publish(topic.encode(), payload.encode())

    # -- main loop -------------------------------------------------------------------------

    def run(self):
        self.log('Info', 'unit %s starting, commit %s' % (
            self.uuid, self.env.get('PU_COMMIT_VERSION')))
        self.connect_forever()
        while True:
            try:
                self.step()
            except OSError as error:
                self.log('Warning', 'connection lost: %r' % (error,))
                self.close_client()
                self.connect_forever()
            except Exception as error:  # a device keeps running whatever arrives
                self.log('Error', 'loop: %r' % (error,))
            time.sleep_ms(LOOP_SLEEP_MS)

    def step(self):
        if not self.connected:
            self.connect_forever()
        self.client.check_msg()
        self.run_pending()
        if not self.connected:
            return
        now = time.ticks_ms()
        if time.ticks_diff(now, self.next_state) >= 0:
            self.next_state = time.ticks_add(now, self.state_interval_ms)
            self.publish_state()
        if time.ticks_diff(now, self.next_output) >= 0:
            self.next_output = time.ticks_add(now, self.pub_delay_ms)
            self.publish_outputs()
        if time.ticks_diff(now, self.last_ping) >= self.ping_interval_ms:
            self.last_ping = now
            self.client.ping()

    def on_message(self, topic, payload):
        # Runs inside umqtt's read: only record the message; work happens in step().
        try:
            topic = topic.decode()
        except Exception:
            return
        name = self.commands.get(topic)
        if name is not None:
            if len(self.pending) < MAX_PENDING:
                self.pending.append((name, payload))
        elif topic in self.inputs:
            self.handle_input(topic, payload)
        else:
            self.log('Warning', 'message on unknown topic %s ignored' % topic)

    def run_pending(self):
        while self.pending:
            name, payload = self.pending.pop(0)
            try:
                self.handle_command(name, payload)
            except OSError as error:
                self.log('Error', '%s failed: %r' % (name, error))
                if not self.connected:
                    self.connect_forever()
            except Exception as error:
                self.log('Error', '%s failed: %r' % (name, error))

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
            self.log('Warning', 'command %s is not handled' % name)

    # -- outgoing --------------------------------------------------------------------------

    def build_state(self):
        if clock_synced():
            millis = int(epoch_s() * 1000)
        else:
            millis = time.ticks_diff(time.ticks_ms(), self.started)
        return {
            'millis': millis,
            'mem_free': gc.mem_free(),
            'mem_alloc': gc.mem_alloc(),
            'freq': machine.freq(),
            'statvfs': list(os.statvfs('/')),
            'ifconfig': list(network.WLAN(network.STA_IF).ifconfig()),
            'pu_commit_version': self.env.get('PU_COMMIT_VERSION'),
        }

    def publish_state(self):
        topic = first_topic(self.schema, 'output_base_topic', STATE_TOPIC)
        if topic:
            self.publish(topic, json.dumps(self.build_state()))

    def publish_outputs(self):
        for topic in output_topics(self.schema):
            self.publish(topic, self.value)

    # -- incoming --------------------------------------------------------------------------

    def handle_input(self, topic, payload):
        try:
            value = payload.decode()
        except Exception:
            self.log('Warning', 'input on %s is not UTF-8' % topic)
            return
        if value == self.value:
            return  # no news; also ends loops when an output feeds its own input
        self.value = value
        self.log('Info', 'input %s = %s' % (topic, value))
        self.next_output = time.ticks_ms()  # the echo is the next output value

    def handle_update(self, payload):
        try:
            command = json.loads(payload)
        except Exception:
            self.log('Warning', 'Update ignored: payload is not JSON')
            return
        target = None
        if isinstance(command, dict):
            target = command.get('PU_COMMIT_VERSION') or command.get('NEW_COMMIT_VERSION')
        if not isinstance(target, str) or not target:
            self.log('Warning', 'Update ignored: no PU_COMMIT_VERSION')
            return
        current = self.env.get('PU_COMMIT_VERSION')
        if target == current:
            self.log('Info', 'Update: already at %s' % target)
            return
        self.log('Info', 'Update %s -> %s' % (current, target))
        self.close_client()  # frees the socket and RAM for the download
        gc.collect()
        archive = path('update.tgz')
        staging = path('.update')
        try:
            self.download(self.api_url('/units/firmware/tgz/%s?wbits=%d&level=%d' % (
                self.uuid, FIRMWARE_WBITS, FIRMWARE_LEVEL)), archive)
            remove_tree(staging)
            files = self.extract(archive, staging)
            self.install(staging, files, target)
        except Exception as error:
            self.log('Error', 'Update failed: %r' % (error,))
            self.connect_forever()
            return
        finally:
            remove_tree(archive)
            remove_tree(staging)
        self.log('Info', 'Update to %s installed, rebooting' % target)
        machine.reset()

    def download(self, url, file_path):
        response = http_request(url, self.token)
        try:
            with open(file_path, 'wb') as sink:
                while True:
                    chunk = response.raw.read(COPY_CHUNK)
                    if not chunk:
                        break
                    sink.write(chunk)
        finally:
            response.close()

    def extract(self, archive_path, staging):
        import deflate
        import tarfile
        files = []
        make_dirs(staging)
        with open(archive_path, 'rb') as raw:
            archive = tarfile.TarFile(fileobj=deflate.DeflateIO(raw, deflate.AUTO,
                                                                 FIRMWARE_WBITS))
            for entry in archive:
                if 'PaxHeader' in entry.name:
                    continue  # extended headers: this tarfile reads plain ustar names
                relative = safe_relative_path(entry.name)
                if relative is None:
                    continue
                target = staging + '/' + relative
                if entry.type == tarfile.DIRTYPE:
                    make_dirs(target)
                    continue
                make_dirs(target.rsplit('/', 1)[0])
                source = archive.extractfile(entry)
                with open(target, 'wb') as sink:
                    while True:
                        chunk = source.read(COPY_CHUNK)
                        if not chunk:
                            break
                        sink.write(chunk)
                if relative not in files:
                    files.append(relative)
                gc.collect()
        return files

    def install(self, staging, files, target):
        # Refuse an archive the new program could not boot from, then move the files over
        # the unit directory with env.json last: it carries the version, so an install cut
        # short keeps the old version and the backend's next Update retries.
        if 'env.json' not in files or 'schema.json' not in files:
            raise ValueError('archive lacks env.json or schema.json')
        new_env = read_json(staging + '/env.json')
        normalize_schema(read_json(staging + '/schema.json'))
        if unit_uuid_from_token(new_env.get('PU_AUTH_TOKEN')) != self.uuid:
            raise ValueError('archive belongs to another unit')
        if new_env.get('PU_COMMIT_VERSION') != target:
            self.log('Warning', 'archive is version %s' % new_env.get('PU_COMMIT_VERSION'))
        ordered = [name for name in files if name not in ('env.json', 'schema.json')]
        for relative in ordered + ['schema.json', 'env.json']:
            target_path = path(relative)
            parent = target_path.rsplit('/', 1)[0]
            if parent:
                make_dirs(parent)
            replace_file(staging + '/' + relative, target_path)

    def http_get_text(self, url):
        response = http_request(url, self.token)
        try:
            chunks = []
            size = 0
            while True:
                chunk = response.raw.read(COPY_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > HTTP_BODY_LIMIT:
                    raise ValueError('body over %d bytes' % HTTP_BODY_LIMIT)
                chunks.append(chunk)
            return b''.join(chunks).decode()
        finally:
            response.close()

    def handle_env_update(self):
        new_env = decode_body(self.http_get_text(self.api_url('/units/env/%s' % self.uuid)))
        if unit_uuid_from_token(new_env.get('PU_AUTH_TOKEN')) != self.uuid:
            raise ValueError('EnvUpdate refused: token of another unit')
        # The version names the installed code; only a firmware archive changes it.
        if 'PU_COMMIT_VERSION' in self.env:
            new_env['PU_COMMIT_VERSION'] = self.env['PU_COMMIT_VERSION']
        for key in ('PUC_WIFI_SSID', 'PUC_WIFI_PASS'):  # never lose the way back online
            if key not in new_env and key in self.env:
                new_env[key] = self.env[key]
        write_json(path('env.json'), new_env)
        self.env = new_env
        self.load_settings()
        self.log('Info', 'env.json updated')

    def handle_schema_update(self):
        new_schema = normalize_schema(decode_body(self.http_get_text(
            self.api_url('/units/get_current_schema/%s' % self.uuid))))
        write_json(path('schema.json'), new_schema)
        self.schema = new_schema
        self.index_schema()
        # umqtt.simple cannot unsubscribe: a fresh clean session holds exactly the new topics.
        self.close_client()
        self.connect_forever()
        self.log('Info', 'schema.json updated')

    def handle_log_sync(self):
        topic = first_topic(self.schema, 'output_base_topic', LOG_TOPIC)
        if not topic:
            return
        for line in self.read_log_lines()[-self.max_log_lines:]:
            self.publish(topic, line)
            time.sleep_ms(LOG_SYNC_GAP_MS)


def main():
    try:
        unit = Unit()
    except Exception as error:
        # Without a valid env/schema there is nothing to connect with; stay at the REPL so
        # the files can be fixed over USB.
        print('pepeunit: cannot start: %r' % (error,))
        return
    unit.run()


if __name__ == '__main__':
    main()

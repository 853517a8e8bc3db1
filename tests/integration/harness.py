"""Integration harness: real PostgreSQL, real mosquitto, real keryud.

Each test gets its own database (on the PostgreSQL that scripts/test
started, KERYU_TEST_DATABASE_URL), its own mosquitto on a free port, and
starts keryud and the fake providers as child processes. Nothing is mocked.
Uses only the Python standard library plus the psql and mosquitto_* tools.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

BUILD = os.environ.get("KERYU_BUILD_DIR", "")
ADMIN_URL = os.environ.get("KERYU_TEST_DATABASE_URL", "")
SCRATCH = os.environ.get("KERYU_TEST_SCRATCH", tempfile.gettempdir())
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Polls pred() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def http_get(url, headers=None, method="GET", data=None, timeout=10):
    """Returns (status, headers, body bytes); never raises on HTTP errors."""
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Browser:
    """A client with a cookie jar of one cookie (the session) and no
    automatic redirects, for driving the pages without a browser."""

    def __init__(self, port):
        self.port = port
        self.cookie = None  # "keryu_session=..."
        self.set_cookies = []  # every Set-Cookie seen, newest last

    def request(self, method, path, fields=None, cookie=True, raw=False):
        """Returns (status, response, body text or bytes with raw)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        headers = {}
        body = None
        if cookie and self.cookie:
            headers["Cookie"] = self.cookie
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        sc = r.getheader("Set-Cookie")
        if sc and cookie:
            self.set_cookies.append(sc)
            value = sc.split(";", 1)[0]
            self.cookie = None if value == "keryu_session=" else value
        conn.close()
        return r.status, r, data if raw else data.decode()

    def get(self, path, raw=False):
        return self.request("GET", path, raw=raw)

    def csrf(self, path="/account/"):
        """The CSRF token in the first form of the page at path."""
        status, _, text = self.get(path)
        assert status == 200, (path, status, text)
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', text)
        assert m, text
        return m.group(1)

    def submit(self, page, action, fields):
        """Loads page for its CSRF token, then posts fields to action."""
        return self.request("POST", action, dict(fields, csrf=self.csrf(page)))

    def post(self, path, fields=None, csrf_page="/account/"):
        """POSTs fields with the session's CSRF token, read from csrf_page."""
        return self.submit(csrf_page, path, fields or {})


class Postgres:
    """A database of its own on the shared test server."""

    def __init__(self, name):
        if not ADMIN_URL:
            raise RuntimeError("KERYU_TEST_DATABASE_URL is not set: run scripts/test")
        self.name = f"t_{name}_{uuid.uuid4().hex[:8]}"
        self.admin(f'CREATE DATABASE "{self.name}"')
        self.url = re.sub(r"/[^/]*$", "/" + self.name, ADMIN_URL)

    def admin(self, sql):
        subprocess.run(["psql", ADMIN_URL, "-qAtc", sql], check=True,
                       capture_output=True, text=True)

    def query(self, sql, *args):
        """Runs sql with psql variables :'a1', :'a2'... bound to args; returns
        rows as lists of strings (NULL as None)."""
        cmd = ["psql", self.url, "-qAt", "-F", "\x1f", "-P", "null=\x1e",
               "-v", "ON_ERROR_STOP=1"]
        for i, a in enumerate(args, 1):
            cmd += ["-v", f"a{i}={a}"]
        r = subprocess.run(cmd, input=sql, check=True, capture_output=True, text=True)
        rows = []
        # not splitlines(): it also splits on the \x1e NULL marker
        for line in r.stdout.split("\n")[:-1]:
            rows.append([None if c == "\x1e" else c for c in line.split("\x1f")])
        return rows

    def scalar(self, sql, *args):
        rows = self.query(sql, *args)
        return rows[0][0] if rows else None

    def drop(self):
        subprocess.run(["psql", ADMIN_URL, "-qAtc",
                        f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'],
                       capture_output=True)


class Mosquitto:
    """A private broker on a free loopback port."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "mosquitto")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nset_tcp_nodelay true\n"
                    f"allow_anonymous true\n"
                    f"user root\npersistence true\n"
                    f"persistence_location {self.dir}/\n"
                    f"log_dest file {self.dir}/mosquitto.log\n")
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self):
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._listening, 10, what="mosquitto to listen")

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def publish(self, topic, payload, qos=1):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port),
                        "-V", "mqttv5", "-q", str(qos), "-t", topic, "-m", payload],
                       check=True, timeout=10)

    def watch(self, topic="keryu/#"):
        return BusWatch(self, topic)


class BusWatch:
    """Records every message on a topic filter from now on."""

    def __init__(self, broker, topic):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5",
             "-q", "1", "-t", topic, "-F", "%t\t%p", "--id", "watch-" + uuid.uuid4().hex[:8]],
            stdout=subprocess.PIPE)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.messages = []  # (topic, payload text)
        time.sleep(0.3)  # let the subscription settle

    def poll(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            t, _, p = line.decode().partition("\t")
            self.messages.append((t, p))
        return self.messages

    def on(self, prefix):
        return [(t, json.loads(p)) for t, p in self.poll() if t.startswith(prefix)]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


class Process:
    """A child process whose stderr+stdout go to a log file we can search."""

    def __init__(self, argv, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=os.path.dirname(log_path))

    def text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=15):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.text()) or (self.proc.poll() is not None and
                        self._died(pattern)), timeout, what=f"log line /{pattern}/")

    def _died(self, pattern):
        raise AssertionError(f"process exited ({self.proc.returncode}) before /{pattern}/:\n"
                             + self.text()[-3000:])

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode


def _start_fake(exe, args, what):
    """Starts a fake provider that prints "listening <port>"; returns
    (Popen, port)."""
    proc = subprocess.Popen([os.path.join(BUILD, "bin", exe), *args],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.match(r"listening (\d+)", line)
    if not m:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"{what} did not start: {line!r}")
    return proc, int(m.group(1))


def _read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout:
        proc.stdout.close()


class FakeWhatsApp:
    """tests/fakes/fake_whatsapp on a free port, recording every request.

    Extra positional args go to the fake as they are; the keyword
    arguments are the same flags (see the top of fake_whatsapp.c):
      mode="seq:error:131000,error:131000,ok"  (ok | error:<code> |
          http:<status> | drop | timeout, or seq:<step>,... walked per
          notification id; the last step repeats)
      delay_ms, token, timeout_hold_ms,
      webhook_url + app_secret (signed status webhooks after each send),
      webhook_statuses="sent,delivered,read" (or a list), webhook_delay_ms.
    Record lines (requests()) carry method, path, headers, body, at, and for
    message requests notification_id, to, template, ack_param, outcome
    ("ok", "error:131000", "http:503", "drop", "timeout"), sent (true for
    ok and timeout: the message went out), wamid, answered_at."""

    def __init__(self, workdir, *args, mode=None, delay_ms=None, token=None,
                 timeout_hold_ms=None, webhook_url=None, app_secret=None,
                 webhook_statuses=None, webhook_delay_ms=None):
        self.record = os.path.join(workdir, f"fake-wa-{uuid.uuid4().hex[:6]}.jsonl")
        flags = []
        if isinstance(webhook_statuses, (list, tuple)):
            webhook_statuses = ",".join(webhook_statuses)
        for flag, value in (("--mode", mode), ("--delay-ms", delay_ms),
                            ("--token", token), ("--timeout-hold-ms", timeout_hold_ms),
                            ("--webhook-url", webhook_url), ("--app-secret", app_secret),
                            ("--webhook-statuses", webhook_statuses),
                            ("--webhook-delay-ms", webhook_delay_ms)):
            if value is not None:
                flags += [flag, str(value)]
        self.proc, self.port = _start_fake(
            "fake_whatsapp", ["--port", "0", "--record", self.record, *flags, *args],
            "fake_whatsapp")
        self.base = f"http://127.0.0.1:{self.port}"

    def requests(self):
        """Every recorded request (message or not), in answer order."""
        return _read_jsonl(self.record)

    def messages(self, notification_id=None):
        """Recorded message requests, optionally for one notification."""
        return [r for r in self.requests() if "outcome" in r and
                (notification_id is None or r["notification_id"] == notification_id)]

    def sends(self, notification_id=None):
        """Message requests that went out (outcome ok or timeout)."""
        return [r for r in self.messages(notification_id) if r["sent"]]

    def sends_per_notification(self):
        """{notification id: number of sends that went out}."""
        counts = {}
        for r in self.sends():
            counts[r["notification_id"]] = counts.get(r["notification_id"], 0) + 1
        return counts

    def count(self):
        """Message requests received so far (including ones still held)."""
        return int(self._control("GET", "/_control/count").strip())

    def set_mode(self, mode):
        """Switches the mode and restarts every notification's cursor."""
        self._control("POST", "/_control/mode", mode.encode())

    def webhook(self, wamid, status, error_code=None, notification_id=None):
        """Queues one signed status webhook for a wamid this fake gave (or any
        wamid when notification_id is given). Needs webhook_url."""
        body = {"wamid": wamid, "status": status}
        if error_code is not None:
            body["error_code"] = int(error_code)
        if notification_id is not None:
            body["notification_id"] = notification_id
        self._control("POST", "/_control/webhook", json.dumps(body).encode())

    def webhook_stats(self):
        """{"queued", "posted", "given_up", "failed_posts"} status counts."""
        return json.loads(self._control("GET", "/_control/webhooks"))

    def wait_webhooks(self, timeout=15):
        """Waits until every queued status was accepted (or given up)."""
        return wait_for(lambda: (lambda s: s if s["queued"] == 0 else None)(
            self.webhook_stats()), timeout, what="the fake's webhooks to be posted")

    def _control(self, method, path, data=None):
        status, _, body = http_get(self.base + path, method=method, data=data)
        if status != 200:
            raise AssertionError(f"fake_whatsapp {path}: {status} {body!r}")
        return body.decode()

    def stop(self):
        _stop(self.proc)


class FakeTwilio:
    """tests/fakes/fake_twilio on a free port, recording every message
    request and every status callback it posts.

    Extra positional args go to the fake as they are; the keyword
    arguments are the same flags (see the top of fake_twilio.c):
      mode="seq:error:20429,ok"  (ok | error:<code> | http:<status> | drop |
          timeout, or seq:<step>,... walked per notification: the n= of the
          request's StatusCallback; the last step repeats)
      delay_ms, timeout_hold_ms, account_sid + auth_token (Basic auth, and
      the key of the callbacks' X-Twilio-Signature),
      callback_statuses="sent,delivered" (or a list; "none" posts nothing),
      callback_delay_ms, callback_retry_ms.
    Callbacks go to each request's StatusCallback URL.
    requests() lines: to, from, channel ("whatsapp"|"sms"), content_sid,
    variables, body, status_callback, notification_id, auth_ok, outcome
    ("sent", "timeout", "error:<code>", "http:<status>", "drop"), sid,
    sent (true for sent and timeout), at. callbacks() lines: url, status,
    sid, http (0: no answer), at."""

    def __init__(self, workdir, *args, mode=None, delay_ms=None, timeout_hold_ms=None,
                 account_sid=None, auth_token=None, callback_statuses=None,
                 callback_delay_ms=None, callback_retry_ms=None):
        tag = uuid.uuid4().hex[:6]
        self.record = os.path.join(workdir, f"fake-tw-{tag}.jsonl")
        self.callback_record = os.path.join(workdir, f"fake-tw-callbacks-{tag}.jsonl")
        if isinstance(callback_statuses, (list, tuple)):
            callback_statuses = ",".join(callback_statuses)
        flags = []
        for flag, value in (("--mode", mode), ("--delay-ms", delay_ms),
                            ("--timeout-hold-ms", timeout_hold_ms),
                            ("--account-sid", account_sid), ("--auth-token", auth_token),
                            ("--callback-statuses", callback_statuses),
                            ("--callback-delay-ms", callback_delay_ms),
                            ("--callback-retry-ms", callback_retry_ms)):
            if value is not None:
                flags += [flag, str(value)]
        self.proc, self.port = _start_fake(
            "fake_twilio", ["--port", "0", "--record", self.record,
                            "--callback-record", self.callback_record, *flags, *args],
            "fake_twilio")
        self.base = f"http://127.0.0.1:{self.port}"

    def requests(self, notification_id=None):
        """Recorded message requests, optionally for one notification."""
        return [r for r in _read_jsonl(self.record)
                if notification_id is None or r.get("notification_id") == notification_id]

    def sends(self, notification_id=None):
        """Message requests that went out (outcome sent or timeout)."""
        return [r for r in self.requests(notification_id) if r.get("sent")]

    def sends_per_notification(self):
        """{notification id: number of sends that went out}."""
        counts = {}
        for r in self.sends():
            counts[r["notification_id"]] = counts.get(r["notification_id"], 0) + 1
        return counts

    def callbacks(self):
        """Every status callback POST made so far (one line per try)."""
        return _read_jsonl(self.callback_record)

    def count(self):
        """Message requests received so far (including ones still held)."""
        return int(self._control("GET", "/_control/count").strip())

    def set_mode(self, mode):
        """Switches the mode and restarts every notification's cursor."""
        self._control("POST", "/_control/mode", mode.encode())

    def set_callbacks(self, statuses):
        """Statuses posted after each later send ("none" for nothing)."""
        if isinstance(statuses, (list, tuple)):
            statuses = ",".join(statuses)
        self._control("POST", "/_control/callbacks", statuses.encode())

    def callback_stats(self):
        """{"running", "posted", "failed_posts", "given_up"}."""
        return json.loads(self._control("GET", "/_control/callbacks"))

    def wait_callbacks(self, timeout=15):
        """Waits until every message's callbacks were posted (or given up)."""
        return wait_for(lambda: (lambda s: s if s["running"] == 0 else None)(
            self.callback_stats()), timeout, what="the fake's callbacks to be posted")

    def _control(self, method, path, data=None):
        status, _, body = http_get(self.base + path, method=method, data=data)
        if status != 200:
            raise AssertionError(f"fake_twilio {path}: {status} {body!r}")
        return body.decode()

    def stop(self):
        _stop(self.proc)


class TestChan:
    """Settings for the test-only channel module tests/channels/testchan
    (the build's lib/keryu/testchan.so; add "testchan" to --modules).

    outcome: "delivered" (sent then delivered), "sent", "silent" (no
    result at all), "failed:<code>" (final) or "error:<code>" (retry_in_ms
    -1). Every request it gets is recorded: requests() returns dicts with
    event_id, notification_id, attempt, channel, to, template, language,
    params, ack_url.

        chan = TestChan(self.work, outcome="sent")
        self.keryud("--modules", "storage,qr,http,alarms,testchan",
                    env=self.env(KERYU_ALARMS_CHANNEL="testchan", **chan.env()))
    """

    __test__ = False  # not a test case, whatever its name says

    def __init__(self, workdir, outcome="delivered", channel=None, group=None):
        self.record = os.path.join(workdir, f"testchan-{uuid.uuid4().hex[:6]}.jsonl")
        self.outcome = outcome
        self.channel = channel
        self.group = group

    def env(self):
        """KERYU_TESTCHAN_* variables for KeryuTest.env(**...)."""
        e = {"KERYU_TESTCHAN_RECORD": self.record, "KERYU_TESTCHAN_OUTCOME": self.outcome}
        if self.channel is not None:
            e["KERYU_TESTCHAN_CHANNEL"] = self.channel
        if self.group is not None:
            e["KERYU_TESTCHAN_GROUP"] = self.group
        return e

    def requests(self, notification_id=None):
        return [r for r in _read_jsonl(self.record)
                if notification_id is None or r["notification_id"] == notification_id]

    def attempts(self, notification_id):
        """The attempt numbers requested for a notification, in order."""
        return [r["attempt"] for r in self.requests(notification_id)]


class KeryuTest(unittest.TestCase):
    """Base class: a database, a broker, and helpers to run keryud."""

    def setUp(self):
        if not BUILD or not os.path.exists(os.path.join(BUILD, "bin", "keryud")):
            self.fail("KERYU_BUILD_DIR must point at a build with bin/keryud")
        self.work = tempfile.mkdtemp(prefix=self.id().split(".")[-1] + ".", dir=SCRATCH)
        os.chmod(self.work, 0o755)
        self.pg = Postgres(self.id().split(".")[-1][:20].lower())
        self.broker = Mosquitto(self.work)
        self.http_port = free_port()
        self.instance = "t" + uuid.uuid4().hex[:8]
        self.procs = []
        self.addCleanup(self._teardown)

    def _teardown(self):
        for p in self.procs:
            try:
                p.stop()
            except Exception:
                p.proc.kill()
        self.broker.stop()
        self.pg.drop()

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items() if not k.startswith("KERYU_")}
        e.update({
            "DATABASE_URL": self.pg.url,
            "MQTT_URL": self.broker.url,
            "KERYU_KERNEL_INSTANCE": self.instance,
            "KERYU_HTTP_PORT": str(self.http_port),
            "KERYU_HTTP_PUBLIC_URL": f"http://127.0.0.1:{self.http_port}",
            "KERYU_KERNEL_SHUTDOWN_TIMEOUT_S": "10",
        })
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def keryu(self, *args, env=None, check=True):
        r = subprocess.run([os.path.join(BUILD, "bin", "keryu"), *args], env=env or self.env(),
                           capture_output=True, text=True, cwd=self.work, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"keryu {' '.join(args)} failed: {r.stderr}")
        return r

    def keryud(self, *args, env=None, wait=True, log="keryud.log"):
        p = Process([os.path.join(BUILD, "bin", "keryud"), *args], env or self.env(),
                    os.path.join(self.work, log))
        self.procs.append(p)
        if wait:
            p.wait_log(r"kernel\.started", 30)
        return p

    def migrate(self):
        self.keryu("migrate")

    def seed(self, phone="+16505551234", name="Ana María Pérez", active=True):
        """A custodian with a subject and a tag; returns the tag's uuid."""
        cust, subj, tag = (str(uuid.uuid4()) for _ in range(3))
        self.pg.query(
            "INSERT INTO custodians (id, email, name, phone_e164, phone_verified_at)"
            " VALUES (:'a1', :'a2', 'Test Custodian', :'a3', now());"
            "INSERT INTO subjects (id, custodian_id, name, date_of_birth, gender)"
            " VALUES (:'a4', :'a1', :'a5', '2015-01-02', 'F');"
            "INSERT INTO subject_qr_codes (uuid, subject_id, is_active, activated_at)"
            " VALUES (:'a6', :'a4', :'a7', now());",
            cust, f"{cust}@example.org", phone, subj, name, tag, "true" if active else "false")
        return tag

    def scan_url(self, tag):
        return f"http://127.0.0.1:{self.http_port}/subjects/qr/{tag}/scan/"

    def scan_event(self, tag, event_id=None):
        return json.dumps({"v": 1, "event_id": event_id or str(uuid.uuid4()),
                           "at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                           "qr_uuid": tag})


def main():
    unittest.main(verbosity=2)

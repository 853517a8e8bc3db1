"""docs/schemas/ against what keryud really publishes: a scan, its alarm,
the notify request, the log channel's delivery, a finder's location report,
an audit event (a failed login) and the modules' retained status are captured from a real broker and each
payload is validated against its topic's JSON Schema. The C encoders
(kernel/events/events.c, the status in kernel/src/bus.c) are read too, so
that a field they emit cannot go undeclared. examples/bus_monitor runs
against the same broker and must print the alarm."""
import json
import os
import re
import urllib.parse

from harness import BUILD, ROOT, Browser, KeryuTest, Process, http_get, main, wait_for

MODULES = "storage,qr,http,alarms,log"
SECRET = "integration-schemas-secret"
SCHEMAS = os.path.join(ROOT, "docs", "schemas")
TOPICS = ("scan", "alarm", "notify", "delivery", "report", "audit", "system")


# ---- a small JSON Schema validator, exactly the keywords the schemas use ----

ANNOTATIONS = {"$schema", "title", "description"}
KEYWORDS = {"type", "required", "properties", "const", "enum", "pattern", "maxLength",
            "minimum", "maximum", "items", "maxItems", "additionalProperties", "format"}
FORMATS = {
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "date-time": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$",
}


class Unsupported(Exception):
    pass


def check_keywords(schema, path="#"):
    """Raises Unsupported for any keyword, type or format the validator does
    not implement, anywhere in schema, so nothing is silently skipped."""
    if not isinstance(schema, dict):
        raise Unsupported(f"{path}: a schema must be an object")
    for k, v in schema.items():
        if k not in KEYWORDS | ANNOTATIONS:
            raise Unsupported(f"{path}: keyword {k!r}")
        if k == "type" and v not in TYPES:
            raise Unsupported(f"{path}: type {v!r}")
        if k == "format" and v not in FORMATS:
            raise Unsupported(f"{path}: format {v!r}")
        if k == "properties":
            for name, sub in v.items():
                check_keywords(sub, f"{path}/properties/{name}")
        if k == "items" or (k == "additionalProperties" and not isinstance(v, bool)):
            check_keywords(v, f"{path}/{k}")


def _integer(x):
    return (isinstance(x, int) and not isinstance(x, bool)) or \
        (isinstance(x, float) and x.is_integer())


TYPES = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": _integer,
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
}


def _matches(pattern, s):
    """ECMA-262 semantics for the anchored patterns used: Python's "$" also
    matches before a final newline, ECMA's does not."""
    m = re.search(pattern, s)
    return bool(m) and not (pattern.endswith("$") and m.end() != len(s))


def _same(a, b):
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) \
        else a == b


def validate(schema, x, path="$"):
    """Returns a list of error strings (empty when x is valid)."""
    check_keywords(schema)
    errs = []
    t = schema.get("type")
    if t is not None and not TYPES[t](x):
        return [f"{path}: not of type {t}: {x!r}"]
    if "const" in schema and not _same(schema["const"], x):
        errs.append(f"{path}: {x!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_same(e, x) for e in schema["enum"]):
        errs.append(f"{path}: {x!r} is not one of {schema['enum']}")
    if isinstance(x, str):
        if "maxLength" in schema and len(x) > schema["maxLength"]:
            errs.append(f"{path}: longer than {schema['maxLength']}")
        if "pattern" in schema and not _matches(schema["pattern"], x):
            errs.append(f"{path}: {x!r} does not match {schema['pattern']}")
        if "format" in schema and not _matches(FORMATS[schema["format"]], x):
            errs.append(f"{path}: {x!r} is not a {schema['format']}")
    if TYPES["number"](x):
        if "minimum" in schema and x < schema["minimum"]:
            errs.append(f"{path}: {x} < {schema['minimum']}")
        if "maximum" in schema and x > schema["maximum"]:
            errs.append(f"{path}: {x} > {schema['maximum']}")
    if isinstance(x, list):
        if "maxItems" in schema and len(x) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(x):
                errs += validate(schema["items"], item, f"{path}[{i}]")
    if isinstance(x, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in x:
                errs.append(f"{path}: missing {name}")
        for name, value in x.items():
            if name in props:
                errs += validate(props[name], value, f"{path}.{name}")
            elif schema.get("additionalProperties", True) is False:
                errs.append(f"{path}: unexpected {name}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(schema["additionalProperties"], value, f"{path}.{name}")
    return errs


def load_schemas():
    out = {}
    for t in TOPICS:
        with open(os.path.join(SCHEMAS, f"{t}.schema.json")) as f:
            out[t] = json.load(f)
    return out


# ---- the fields the C encoders emit ----

def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def _body(src, head):
    i = src.index(head)
    return src[i:src.index("\n}\n", i)]


def encoder_fields():
    """{topic: {"": set of top-level names, "location": nested names}}, read
    from events.c's field tables and encode functions and bus.c's status."""
    src = _read("kernel", "events", "events.c")
    envelope = set(re.findall(r'cJSON_Add\w+ToObject\(o, "(\w+)"',
                              _body(src, "static cJSON *encode_fields(")))
    out = {}
    for t in ("scan", "alarm", "notify", "delivery", "report", "audit"):
        table = _body(src.replace("\n};\n", "\n}\n"), f"static const struct field {t}_fields[]")
        names = set(re.findall(r'(?:STR|UUID|INT)\(struct keryu_\w+_event, (\w+)', table))
        names |= set(re.findall(r'\{"(\w+)", F_', table))
        enc = _body(src, f"char *keryu_{t}_event_encode(")
        nested = {}
        for var, name in re.findall(r'cJSON_Add\w+ToObject\((\w+),\s*"(\w+)"', enc):
            (names if var == "o" else nested.setdefault(var, set())).add(name)
        out[t] = {"": envelope | names}
        if nested:
            assert set(nested) == {"loc"}, nested
            out[t]["location"] = nested["loc"]
    status = _body(_read("kernel", "src", "bus.c"), "static int status_json(")
    out["system"] = {"": set(re.findall(r'\\"(\w+)\\":', status))}
    return out


class BusSchemas(KeryuTest):
    def test_validator_and_schemas_agree_with_the_encoders(self):
        schemas = load_schemas()
        found = encoder_fields()
        # the parsing above must have found something real
        self.assertEqual(found["system"][""], {"v", "state", "instance", "module", "at"})
        self.assertTrue({"v", "event_id", "at", "qr_uuid", "user_agent", "ip_hash",
                         "location"} <= found["scan"][""], found["scan"])
        self.assertEqual(found["scan"]["location"], {"lat", "lng", "accuracy_m"})
        self.assertIn("retry_in_ms", found["delivery"][""])
        self.assertIn("params", found["notify"][""])
        for t in TOPICS:
            s = schemas[t]
            check_keywords(s)
            self.assertEqual(s["$schema"], "https://json-schema.org/draft/2020-12/schema")
            self.assertIs(s["additionalProperties"], True, t)
            self.assertEqual(s["properties"]["v"]["const"], 1, t)
            props = set(s["properties"])
            self.assertFalse(found[t][""] - props, f"{t}: emitted but not in the schema")
            self.assertFalse(set(s["required"]) - found[t][""], f"{t}: required, never emitted")
            if "location" in found[t]:
                self.assertFalse(found[t]["location"] -
                                 set(s["properties"]["location"]["properties"]))
        # the validator refuses what it cannot check ...
        with self.assertRaises(Unsupported):
            validate({"type": "string", "minLength": 1}, "x")
        with self.assertRaises(Unsupported):
            validate({"properties": {"a": {"oneOf": []}}}, {})
        # ... and catches what it checks
        good = {"v": 1, "event_id": "6f1c0c52-8a53-4b4e-9a5b-1f6bb0f1d2a3",
                "at": "2026-11-25T12:34:56.789Z", "alarm_id": "6f1c0c52-8a53-4b4e-9a5b-1f6bb0f1d2a4",
                "state": "created", "extra": [1]}
        self.assertEqual(validate(schemas["alarm"], good), [])
        for bad in ({"v": 2}, {"v": True}, {"state": "opened"}, {"alarm_id": "x"},
                    {"at": "2026-11-25 12:34:56Z"}, {"at": "2026-11-25T12:34:56Z\n"},
                    {"event_id": 7}):
            self.assertTrue(validate(schemas["alarm"], dict(good, **bad)), bad)
        self.assertTrue(validate(schemas["alarm"], {k: v for k, v in good.items()
                                                    if k != "state"}))
        n = {"v": 1, "event_id": good["event_id"], "at": good["at"], "attempt": 1,
             "notification_id": good["alarm_id"], "channel": "log", "to": "+16505551234",
             "template": "t", "language": "en_US", "params": ["a"]}
        self.assertEqual(validate(schemas["notify"], n), [])
        for bad in ({"to": "16505551234"}, {"to": "+0650555123"}, {"attempt": 0},
                    {"params": ["p"] * 9}, {"params": ["x" * 512]}, {"attempt": 1.5},
                    {"template": "t" * 128}):
            self.assertTrue(validate(schemas["notify"], dict(n, **bad)), bad)

    def test_every_published_payload_matches_its_schema(self):
        schemas = load_schemas()
        self.migrate()
        tag = self.seed()
        watch = self.broker.watch()
        self.addCleanup(watch.stop)
        monitor = Process([os.path.join(BUILD, "bin", "bus_monitor"), "-h", "127.0.0.1",
                           "-p", str(self.broker.port)],
                          {"PATH": os.environ.get("PATH", "")},
                          os.path.join(self.work, "monitor.log"))
        self.procs.append(monitor)
        k = self.keryud("--modules", MODULES, env=self.env(KERYU_KERNEL_SECRET_KEY=SECRET))
        # subscribed (it prints the status) before anything is scanned
        monitor.wait_log(r"system +online +instance=\S+ module=alarms", 10)

        base = self.scan_url(tag)
        status, _, body = http_get(base)
        page = body.decode(errors="replace")
        self.assertEqual(status, 200, page)
        m = re.search(r'name="t"[^>]*value="([^"]+)"', page) or \
            re.search(r'value="([^"]+)"[^>]*name="t"', page)
        self.assertTrue(m, "the scan page carries the finder token in a field named t")
        data = urllib.parse.urlencode({"t": m.group(1), "lat": "-34.6037", "lng": "-58.3816",
                                       "accuracy": "12.5"}).encode()

        def post():  # 404 until the alarm, written just after the page, exists
            r = http_get(base + "location", method="POST", data=data,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            return r if r[0] != 404 else None
        st, _, body = wait_for(post, 5, interval=0.1, what="the scan's alarm")
        self.assertEqual(st, 200, body)

        # a failed login is audited, and announced on keryu/v1/audit
        b = Browser(self.http_port)
        st, _, _ = b.submit("/account/login", "/account/login",
                            {"email": "nobody@example.org", "password": "wrong password 1"})
        self.assertIn(st, (200, 400, 401), "the login form answers a wrong password")

        wanted = ["keryu/v1/scan/", "keryu/v1/alarm/", "keryu/v1/notify/",
                  "keryu/v1/delivery/", "keryu/v1/report/", "keryu/v1/audit"]
        wait_for(lambda: all(watch.on(p) for p in wanted), 10, what="one event per topic")
        wait_for(lambda: any(json.loads(p).get("status") == "delivered"
                             for t, p in watch.poll() if t.startswith("keryu/v1/delivery/")),
                 10, what="the log channel's delivery")
        k.stop()  # and the status goes offline
        wait_for(lambda: any(json.loads(p).get("state") == "offline"
                             for t, p in watch.poll() if t.startswith("keryu/v1/system/")),
                 10, what="an offline status")
        monitor.stop()

        seen = {t: 0 for t in TOPICS}
        for topic, payload in watch.poll():
            kind = topic.split("/")[2]
            self.assertIn(kind, schemas, topic)
            doc = json.loads(payload)
            errs = validate(schemas[kind], doc)
            self.assertEqual(errs, [], f"{topic}: {payload}")
            seen[kind] += 1
            # each topic's last levels name what the payload is about
            last = topic.split("/")[3:]
            key = {"scan": ["qr_uuid"], "alarm": ["alarm_id"], "notify": ["channel"],
                   "delivery": ["notification_id"], "report": ["alarm_id"], "audit": [],
                   "system": ["instance", "module"]}[kind]
            self.assertEqual(last, [doc[x] for x in key], topic)
        self.assertTrue(all(seen.values()), seen)
        states = {json.loads(p)["state"] for t, p in watch.poll() if "/alarm/" in t}
        self.assertIn("created", states)
        audit = [json.loads(p) for t, p in watch.poll() if t == "keryu/v1/audit"]
        self.assertIn("login.failed", {a["action"] for a in audit})
        # ids only: the email typed never reaches the bus
        self.assertFalse([p for t, p in watch.poll() if t == "keryu/v1/audit"
                          and "nobody@example.org" in p])

        # the monitor printed the alarm, the delivery and the report, and
        # never the notify request's phone number
        out = monitor.text()
        alarm = watch.on("keryu/v1/alarm/")[0][1]
        self.assertRegex(out, r"\d{4}-\d\d-\d\dT[\d:.]+Z alarm +created +alarm=%s subject=%s"
                         % (alarm["alarm_id"], alarm["subject_id"]))
        self.assertRegex(out, r"delivery +delivered +notification=[0-9a-f-]{36} attempt=1"
                         r" channel=log")
        self.assertRegex(out, r"report +location +alarm=%s" % alarm["alarm_id"])
        self.assertRegex(out, r"system +online +instance=%s module=alarms" % self.instance)
        self.assertNotIn("+1650", out)
        self.assertNotIn("notify", out)


if __name__ == "__main__":
    main()

"""The custodian's subject list with 100 subjects: median page time with
curl (200 requests over one kept-alive connection), next to /healthz on the
same server as a reference measured in the same run. Figures are printed,
never asserted."""
import os
import statistics
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Browser, KeryuTest  # noqa: E402

N = int(os.environ.get("BENCH_REQUESTS", "200"))


def curl_times(url, cookie):
    out = subprocess.run(["curl", "-s", "-w", "%{http_code} %{time_total}\n",
                          "-H", f"Cookie: {cookie}"] + ["-o", "/dev/null", url] * N,
                         check=True, capture_output=True, text=True).stdout.split("\n")
    rows = [l.split() for l in out if l.strip()]
    assert all(r[0] == "200" for r in rows), rows[:3]
    return [float(r[1]) * 1000 for r in rows]


class Bench(KeryuTest):
    def runTest(self):
        self.migrate()
        self.keryud("--modules", "storage,qr,http,alarms,log")
        b = Browser(self.http_port)
        status, _, _ = b.submit("/account/signup", "/account/signup", {
            "name": "Bench Custodian", "email": "bench@example.org", "phone": "+16505550000",
            "password": "a long enough secret", "password2": "a long enough secret"})
        assert status == 303, status
        cust = self.pg.scalar("SELECT id FROM custodians WHERE email = 'bench@example.org'")
        self.pg.query(
            "INSERT INTO subjects (id, custodian_id, name, date_of_birth, gender, allergies,"
            " care_instructions) SELECT gen_random_uuid(), :'a1', 'Subject ' || i,"
            " '2015-01-01'::date + i, 'U', 'None known', 'Speak softly'"
            " FROM generate_series(1, 100) AS i", cust)
        for sid, in self.pg.query("SELECT id FROM subjects"):
            self.pg.query("INSERT INTO subject_qr_codes (uuid, subject_id, is_active)"
                          " VALUES (:'a1', :'a2', true)", str(uuid.uuid4()), sid)
        base = f"http://127.0.0.1:{self.http_port}"
        curl_times(f"{base}/subjects/", b.cookie)  # warm up
        page = curl_times(f"{base}/subjects/", b.cookie)
        ref = curl_times(f"{base}/healthz", b.cookie)
        med, ref_med = statistics.median(page), statistics.median(ref)
        print(f"subject list, 100 subjects (first page of 50), {N} requests:"
              f" median {med:.2f} ms, p90 {sorted(page)[int(N * 0.9)]:.2f} ms")
        print(f"reference /healthz (one database round trip): median {ref_med:.2f} ms;"
              f" ratio {med / ref_med:.1f}x")


if __name__ == "__main__":
    import unittest
    r = unittest.TextTestRunner(verbosity=0).run(Bench())
    sys.exit(0 if r.wasSuccessful() else 1)

"""Self-test of the Drive double over loopback sockets (stdlib unittest + http.client)."""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import drive_double as dd

G = dd.CHUNK_GRANULARITY
FOLDER = "1BackupsFolderSharedDrive"
MYDRIVE = "1MyDriveFolder"
FIELDS = "id,name,size,md5Checksum,sha256Checksum,appProperties,createdTime,mimeType,parents"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

_tmp = None
_sa = None


def setUpModule():
    global _tmp, _sa
    _tmp = tempfile.mkdtemp(prefix="drive-double-test-")
    # token_uri is fixed up per double; the key pair is what matters.
    _sa = dd.make_service_account(os.path.join(_tmp, "sa"), token_uri="unset")


def tearDownModule():
    shutil.rmtree(_tmp, ignore_errors=True)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl_jwt(key_path, header, claims):
    """Sign independently of the module under test: openssl dgst -sha256 -sign."""
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path],
                         input=signing_input.encode(), capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)


def payload(n, seed=1):
    block = hashlib.sha256(b"seed%d" % seed).digest() * 2048  # 64 KiB, not periodic per chunk
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(block[:64] + i.to_bytes(4, "big")).digest() + block[32:4096]
        i += 1
    return bytes(out[:n])


class Resp:

    def __init__(self, r):
        self.status = r.status
        self.reason = r.reason
        self.headers = r.headers
        self.body = r.read()

    def json(self):
        return json.loads(self.body)

    def reason_code(self):
        return self.json()["error"]["errors"][0]["reason"]


class Client:
    """One keep-alive connection to the double."""

    def __init__(self, double, token=None, context=None, host="127.0.0.1"):
        if context is not None:
            self.conn = http.client.HTTPSConnection(host, double.port, timeout=10,
                                                    context=context)
        else:
            self.conn = http.client.HTTPConnection(host, double.port, timeout=10)
        self.token = token

    def close(self):
        self.conn.close()

    def req(self, method, path, body=None, headers=None, auth=True):
        h = dict(headers or {})
        if auth and self.token:
            h["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, body, h)
        return Resp(self.conn.getresponse())

    def grant(self, assertion):
        form = urllib.parse.urlencode({"grant_type": dd.JWT_BEARER, "assertion": assertion})
        return self.req("POST", "/token", form, FORM, auth=False)

    def start(self, name="app-20240101T000000Z.tar.gz", folder=FOLDER, app=None, total=None,
              fields=FIELDS, all_drives=True, headers=None):
        q = {"uploadType": "resumable", "fields": fields}
        if all_drives:
            q["supportsAllDrives"] = "true"
        meta = {"name": name, "parents": [folder], "mimeType": "application/gzip",
                "appProperties": app or {"respaldo": "1", "app": "mi-app"}}
        h = {"Content-Type": "application/json; charset=UTF-8"}
        if total is not None:
            h["X-Upload-Content-Length"] = str(total)
        h.update(headers or {})
        r = self.req("POST", "/upload/drive/v3/files?" + urllib.parse.urlencode(q),
                     json.dumps(meta), h)
        if r.status != 200:
            return r, None
        loc = urllib.parse.urlsplit(r.headers["Location"])
        return r, loc.path + "?" + loc.query

    def chunk(self, session, data, start, total, method="PUT", headers=None):
        end = start + len(data) - 1
        h = {"Content-Range": "bytes %d-%d/%s" % (start, end, "*" if total is None else total)}
        h.update(headers or {})
        return self.req(method, session, data, h)

    def status(self, session, total=None, headers=None):
        h = {"Content-Range": "bytes */%s" % ("*" if total is None else total),
             "Content-Length": "0"}
        h.update(headers or {})
        return self.req("PUT", session, b"", h)

    def upload(self, data, chunk=G, **kw):
        _, session = self.start(total=len(data), **kw)
        pos = 0
        while True:
            piece = data[pos:pos + chunk]
            r = self.chunk(session, piece, pos, len(data))
            if r.status == 200:
                return r.json()
            assert r.status == 308, (r.status, r.body)
            pos = int(r.headers["Range"].split("-")[1]) + 1


class DoubleTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = dd.DriveDouble().start()
        cls.d.add_folder(FOLDER)
        cls.d.add_folder(MYDRIVE, shared_drive=False)
        cls.sa = dict(_sa, token_uri=cls.d.token_url)
        cls.d.register_service_account(cls.sa["json"], token_uri=cls.d.token_url)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def setUp(self):
        self.d.clear_faults()
        self.c = Client(self.d, self.d.issue_token(service_account=True))

    def tearDown(self):
        self.c.close()

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.sa["client_email"], "scope": "https://www.googleapis.com/auth/drive",
             "aud": self.d.token_url, "iat": now - 5, "exp": now + 3595}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def header(self, **over):
        h = {"alg": "RS256", "typ": "JWT", "kid": self.sa["private_key_id"]}
        h.update(over)
        return {k: v for k, v in h.items() if v is not None}

    def jwt(self, header=None, **claims):
        return openssl_jwt(self.sa["key"], header or self.header(), self.claims(**claims))

    def assertGoogleError(self, r, status, reason):
        self.assertEqual(r.status, status, r.body)
        err = r.json()["error"]
        self.assertEqual(err["code"], status)
        self.assertIsInstance(err["message"], str)
        self.assertEqual(err["errors"][0]["reason"], reason)
        self.assertIn("domain", err["errors"][0])


class OAuthTest(DoubleTestCase):

    def test_jwt_grant_and_use(self):
        r = self.c.grant(self.jwt(sub="owner@example.com"))
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(set(body), {"access_token", "expires_in", "token_type"})
        self.assertEqual(body["expires_in"], 3599)
        self.assertEqual(body["token_type"], "Bearer")
        c = Client(self.d, body["access_token"])
        self.assertEqual(c.req("GET", "/drive/v3/files?supportsAllDrives=true").status, 200)
        c.close()
        last = self.d.stats()["grants"][-1]
        self.assertEqual(last, {"grant": "jwt_bearer", "principal": self.sa["client_email"],
                                "sub": "owner@example.com",
                                "scope": "https://www.googleapis.com/auth/drive"})

    def test_jwt_rejections(self):
        now = int(time.time())
        good = self.jwt()
        h, p, s = good.split(".")
        sig = bytearray(base64.urlsafe_b64decode(s + "=="))
        sig[10] ^= 1
        cases = {
            "bad signature": h + "." + p + "." + b64url(bytes(sig)),
            "claims swapped under signature": h + "." + b64url(json.dumps(
                self.claims(iss="other@x.iam.gserviceaccount.com")).encode()) + "." + s,
            "expired": self.jwt(iat=now - 4000, exp=now - 400),
            "too long": self.jwt(iat=now, exp=now + 3700),
            "iat in future": self.jwt(iat=now + 1000, exp=now + 2000),
            "wrong aud": self.jwt(aud="https://oauth2.googleapis.com/token"),
            "unknown iss": self.jwt(iss="nobody@x.iam.gserviceaccount.com"),
            "wrong kid": self.jwt(header=self.header(kid="0" * 40)),
            "no kid": self.jwt(header=self.header(kid=None)),
            "alg none": self.jwt(header=self.header(alg="none")),
            "not a jwt": "abc.def",
            "padded": good + "==",
        }
        for what, assertion in cases.items():
            with self.subTest(what):
                r = self.c.grant(assertion)
                self.assertEqual(r.status, 400, r.body)
                self.assertEqual(r.json()["error"], "invalid_grant")
                self.assertIn("error_description", r.json())
        r = self.c.grant(self.jwt(scope="https://www.googleapis.com/auth/devstorage.read_only"))
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_scope"))
        # drive.file among other scopes is fine; the loopback alias of the URL too
        r = self.c.grant(self.jwt(scope="openid https://www.googleapis.com/auth/drive.file",
                                  aud="http://localhost:%d/token" % self.d.port))
        self.assertEqual(r.status, 200, r.body)

    def test_refresh_grant(self):
        user = self.d.make_authorized_user(os.path.join(_tmp, "user"))
        with open(user["json"]) as f:
            info = json.load(f)
        self.assertEqual(info["type"], "authorized_user")
        self.assertEqual(info["token_uri"], self.d.token_url)
        form = {"grant_type": "refresh_token", "client_id": user["client_id"],
                "client_secret": user["client_secret"], "refresh_token": user["refresh_token"]}
        r = self.c.req("POST", "/token", urllib.parse.urlencode(form), FORM, auth=False)
        self.assertEqual(r.status, 200, r.body)
        token = r.json()["access_token"]
        c = Client(self.d, token)
        self.assertEqual(c.req("GET", "/drive/v3/files").status, 200)
        c.close()
        r = self.c.req("POST", "/token", urllib.parse.urlencode(dict(form, refresh_token="x")),
                       FORM, auth=False)
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_grant"))
        r = self.c.req("POST", "/token", urllib.parse.urlencode(dict(form, client_secret="x")),
                       FORM, auth=False)
        self.assertEqual((r.status, r.json()["error"]), (401, "invalid_client"))
        r = self.c.req("POST", "/token", urllib.parse.urlencode(dict(form, grant_type="foo")),
                       FORM, auth=False)
        self.assertEqual((r.status, r.json()["error"]), (400, "unsupported_grant_type"))
        self.d.revoke_tokens(refresh_token=user["refresh_token"])
        r = self.c.req("POST", "/token", urllib.parse.urlencode(form), FORM, auth=False)
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_grant"))
        self.assertEqual(self.d.stats()["token_grants"]["refresh_token"] >= 1, True)

    def test_api_needs_valid_token(self):
        for token in (None, "ya29.bogus"):
            with self.subTest(token=token):
                c = Client(self.d, token)
                r = c.req("GET", "/drive/v3/files?supportsAllDrives=true")
                self.assertGoogleError(r, 401, "authError")
                self.assertIn("Bearer", r.headers["WWW-Authenticate"])
                c.close()
        short = self.d.issue_token(lifetime=60)
        c = Client(self.d, short)
        self.assertEqual(c.req("GET", "/drive/v3/files").status, 200)
        self.d.advance_time(61)
        try:
            self.assertGoogleError(c.req("GET", "/drive/v3/files"), 401, "authError")
        finally:
            self.d.advance_time(-61)
            c.close()

    def test_invalid_grant_fault(self):
        self.d.set_fault("invalid_grant")
        r = self.c.grant(self.jwt())
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_grant"))
        self.assertEqual(self.c.grant(self.jwt()).status, 200)

    def test_token_lifetime_configurable(self):
        self.d.token_lifetime = 5
        try:
            r = self.c.grant(self.jwt())
            self.assertEqual(r.json()["expires_in"], 5)
        finally:
            self.d.token_lifetime = 3599


class UploadTest(DoubleTestCase):

    def test_three_chunks(self):
        data = payload(2 * G + 1234)
        r, s = self.c.start(total=len(data), app={"respaldo": "1", "sha256": "x" * 64})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.d.base_url + "/upload/drive/v3/files?"), loc)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        self.assertEqual(q["uploadType"], ["resumable"])
        self.assertEqual(q["supportsAllDrives"], ["true"])
        self.assertIn("upload_id", q)
        r = self.c.status(s, len(data))
        self.assertEqual(r.status, 308)
        self.assertNotIn("Range", r.headers)  # nothing persisted yet
        r = self.c.chunk(s, data[:G], 0, len(data))
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (G - 1)))
        r = self.c.chunk(s, data[G:2 * G], G, len(data), method="POST")  # POST works too
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (2 * G - 1)))
        r = self.c.status(s, len(data))
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (2 * G - 1)))
        r = self.c.chunk(s, data[2 * G:], 2 * G, len(data))
        self.assertEqual(r.status, 200, r.body)
        res = r.json()
        self.assertEqual(set(res), set(FIELDS.split(",")))
        self.assertEqual(res["size"], str(len(data)))
        self.assertEqual(res["md5Checksum"], hashlib.md5(data).hexdigest())
        self.assertEqual(res["sha256Checksum"], hashlib.sha256(data).hexdigest())
        self.assertEqual(res["appProperties"], {"respaldo": "1", "sha256": "x" * 64})
        self.assertEqual(res["parents"], [FOLDER])
        self.assertEqual(res["mimeType"], "application/gzip")
        self.assertRegex(res["createdTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(self.d.file_bytes(res["id"]), data)
        # the completed session answers with the resource again
        r = self.c.status(s, len(data))
        self.assertEqual((r.status, r.json()["id"]), (200, res["id"]))
        st = self.d.stats()
        sess = st["sessions"][q["upload_id"][0]]
        self.assertEqual(sess["bytes_received"], len(data))
        self.assertEqual(sess["bytes_persisted"], len(data))
        self.assertEqual(sess["chunk_requests"], 3)
        self.assertEqual(sess["status_queries"], 3)
        self.assertIn({"id": res["id"], "name": res["name"], "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest(), "trashed": False},
                      st["folders"][FOLDER])

    def test_default_fields_and_nested_mask(self):
        data = payload(100)
        res = self.c.upload(data, fields="")
        self.assertEqual(set(res), {"kind", "id", "name", "mimeType"})
        res = self.c.upload(data, fields="id,appProperties/app")
        self.assertEqual(res, {"id": res["id"], "appProperties": {"app": "mi-app"}})
        r, _ = self.c.start(fields="id,bogusField")
        self.assertGoogleError(r, 400, "invalidParameter")

    def test_non_multiple_chunk_rejected(self):
        data = payload(3 * G)
        _, s = self.c.start(total=len(data))
        r = self.c.chunk(s, data[:G + 1], 0, len(data))
        self.assertGoogleError(r, 400, "badRequest")
        r = self.c.chunk(s, data[:100], 0, None)  # unknown total: never final
        self.assertGoogleError(r, 400, "badRequest")
        r = self.c.req("PUT", s, data[:10], {"Content-Range": "bytes 0-19/%d" % len(data)})
        self.assertGoogleError(r, 400, "badRequest")
        r = self.c.req("PUT", s, data[:10], {"Content-Range": "bytes=0-9/10"})
        self.assertGoogleError(r, 400, "badRequest")
        self.assertEqual(self.c.chunk(s, data, 0, len(data)).status, 200)

    def test_overlap_skipped_and_gap(self):
        data = payload(4 * G + 5)
        _, s = self.c.start(total=len(data))
        self.assertEqual(self.c.chunk(s, data[:2 * G], 0, len(data)).status, 308)
        # the client only saw 1 chunk acknowledged: re-sends from G, overlapping G bytes
        r = self.c.chunk(s, data[G:3 * G], G, len(data))
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (3 * G - 1)))
        # a gap is answered with what is persisted
        r = self.c.chunk(s, data[4 * G:], 4 * G, len(data))
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (3 * G - 1)))
        r = self.c.chunk(s, data[2 * G:], 2 * G, len(data))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["sha256Checksum"], hashlib.sha256(data).hexdigest())
        self.assertEqual(self.d.file_bytes(r.json()["id"]), data)
        sid = urllib.parse.parse_qs(s.split("?", 1)[1])["upload_id"][0]
        sess = self.d.stats()["sessions"][sid]
        self.assertEqual(sess["bytes_received"], 2 * G + 2 * G + 5 + (2 * G + 5))
        self.assertEqual(sess["bytes_persisted"], len(data))

    def test_unknown_length_finalize(self):
        data = payload(2 * G)
        _, s = self.c.start()
        self.assertEqual(self.c.chunk(s, data[:G], 0, None).status, 308)
        r = self.c.chunk(s, data[G:], G, None)
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (2 * G - 1)))
        self.assertEqual(self.c.status(s).status, 308)
        self.assertGoogleError(self.c.status(s, G), 400, "badRequest")  # below persisted
        r = self.c.status(s, 2 * G)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["size"], str(2 * G))
        self.assertEqual(r.json()["md5Checksum"], hashlib.md5(data).hexdigest())

    def test_empty_file(self):
        _, s = self.c.start(total=0)
        r = self.c.status(s, 0)
        self.assertEqual((r.status, r.json()["size"]), (200, "0"))
        self.assertEqual(r.json()["sha256Checksum"], hashlib.sha256(b"").hexdigest())

    def test_no_308_header(self):
        data = payload(2 * G)
        _, s = self.c.start(total=len(data))
        r = self.c.chunk(s, data[:G], 0, len(data), headers={"X-GUploader-No-308": "yes"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["X-Http-Status-Code-Override"], "308")
        self.assertEqual(r.headers["Range"], "bytes=0-%d" % (G - 1))
        self.assertEqual(r.body, b"")
        r = self.c.status(s, len(data), headers={"X-GUploader-No-308": "yes"})
        self.assertEqual((r.status, r.headers["X-Http-Status-Code-Override"]), (200, "308"))
        r = self.c.chunk(s, data[G:], G, len(data), headers={"X-GUploader-No-308": "yes"})
        self.assertEqual(r.status, 200)
        self.assertNotIn("X-Http-Status-Code-Override", r.headers)
        self.assertEqual(r.json()["size"], str(len(data)))

    def test_cancel_and_unknown_session(self):
        _, s = self.c.start()
        r = self.c.req("DELETE", s)
        self.assertEqual((r.status, r.reason), (499, "Client Closed Request"))
        self.assertGoogleError(self.c.status(s), 404, "notFound")
        r = self.c.status("/upload/drive/v3/files?uploadType=resumable&upload_id=nope")
        self.assertGoogleError(r, 404, "notFound")
        sid = urllib.parse.parse_qs(s.split("?", 1)[1])["upload_id"][0]
        self.assertEqual(self.d.stats()["sessions"][sid]["state"], "cancelled")

    def test_session_expires_after_lifetime(self):
        _, s = self.c.start()
        self.d.advance_time(8 * 86400)
        try:
            self.c.token = self.d.issue_token(service_account=True)
            self.assertGoogleError(self.c.status(s), 404, "notFound")
        finally:
            self.d.advance_time(-8 * 86400)

    def test_initiation_errors(self):
        r, _ = self.c.start(folder="1NoSuchFolder")
        self.assertGoogleError(r, 404, "notFound")
        self.assertEqual(r.json()["error"]["message"], "File not found: 1NoSuchFolder.")
        r, _ = self.c.start(all_drives=False)  # a shared drive needs supportsAllDrives
        self.assertGoogleError(r, 404, "notFound")
        r, _ = self.c.start(app={"k%d" % i: "v" for i in range(31)})
        self.assertGoogleError(r, 400, "badRequest")
        r, _ = self.c.start(app={"k": "v" * 124})  # 125 bytes
        self.assertGoogleError(r, 400, "badRequest")
        r, s = self.c.start(app={"k": "v" * 123, **{"k%d" % i: "v" for i in range(29)}})
        self.assertEqual(r.status, 200)
        r, _ = self.c.start(app={"kñ": "v" * 121})  # 3 + 121 bytes: fine; one more is not
        self.assertEqual(r.status, 200)
        r, _ = self.c.start(app={"kñ": "v" * 122})
        self.assertGoogleError(r, 400, "badRequest")
        # a service account without delegation has no quota in a My Drive folder
        r, _ = self.c.start(folder=MYDRIVE)
        self.assertGoogleError(r, 403, "storageQuotaExceeded")
        self.assertIn("shared drives", r.json()["error"]["message"])
        user = Client(self.d, self.d.issue_token())  # user OAuth
        self.assertEqual(user.upload(b"abc", folder=MYDRIVE)["size"], "3")
        user.close()
        r = self.c.grant(self.jwt(sub="owner@example.com"))  # domain-wide delegation
        delegated = Client(self.d, r.json()["access_token"])
        self.assertEqual(delegated.upload(b"abcd", folder=MYDRIVE)["size"], "4")
        delegated.close()

    def test_keep_alive_across_errors(self):
        data = payload(G)
        _, s = self.c.start(total=2 * G)
        sock = self.c.conn.sock
        bad = Client(self.d, None)
        bad.conn = self.c.conn
        self.assertGoogleError(bad.chunk(s, data, 0, 2 * G), 401, "authError")  # body drained
        self.assertGoogleError(self.c.chunk(s, data[:5], 0, 2 * G), 400, "badRequest")
        self.assertEqual(self.c.chunk(s, data, 0, 2 * G).status, 308)
        self.assertIs(self.c.conn.sock, sock)


class FaultTest(DoubleTestCase):

    def sid(self, s):
        return urllib.parse.parse_qs(s.split("?", 1)[1])["upload_id"][0]

    def test_fail_chunk(self):
        data = payload(3 * G)
        self.d.set_fault("fail_chunk", k=2)
        _, s = self.c.start(total=len(data))
        self.assertEqual(self.c.chunk(s, data[:G], 0, len(data)).status, 308)
        r = self.c.chunk(s, data[G:2 * G], G, len(data))
        self.assertGoogleError(r, 503, "backendError")
        r = self.c.status(s, len(data))
        self.assertEqual(r.headers["Range"], "bytes=0-%d" % (G - 1))  # nothing of it persisted
        self.assertEqual(self.c.chunk(s, data[G:2 * G], G, len(data)).status, 308)
        # persist=True: the chunk is stored although the reply is a 503
        self.d.set_fault("fail_chunk", persist=True)
        self.assertGoogleError(self.c.chunk(s, data[2 * G:2 * G + G], 2 * G, None), 503,
                               "backendError")
        r = self.c.status(s, len(data))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["sha256Checksum"], hashlib.sha256(data).hexdigest())
        self.assertEqual(self.d.stats()["faults_fired"]["fail_chunk"], 2)

    def test_reset_chunk(self):
        data = payload(4 * G)
        self.d.set_fault("reset_chunk", after=G + 100)
        _, s = self.c.start(total=len(data))
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            self.c.chunk(s, data, 0, len(data))
        self.c.close()
        c = Client(self.d, self.c.token)
        r = c.status(s, len(data))
        self.assertEqual(r.status, 308)
        self.assertNotIn("Range", r.headers)
        sess = self.d.stats()["sessions"][self.sid(s)]
        self.assertEqual(sess["bytes_persisted"], 0)
        self.assertEqual(sess["bytes_received"], G + 100)
        r = c.chunk(s, data, 0, len(data))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.d.file_bytes(r.json()["id"]), data)
        c.close()

    def test_short_persist(self):
        data = payload(4 * G + 7)
        self.d.set_fault("short_persist")
        res = self.c.upload(data, chunk=4 * G)
        self.assertEqual(res["sha256Checksum"], hashlib.sha256(data).hexdigest())
        log = [e for e in self.d.requests() if e["status"] == 308][-1:]
        self.assertTrue(log)
        _, s = self.c.start(total=len(data))
        self.d.set_fault("short_persist", keep=G + 5)
        r = self.c.chunk(s, data[:4 * G], 0, len(data))
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (G - 1)))
        self.d.set_fault("short_persist")
        r = self.c.chunk(s, data[G:], G, len(data))  # even the final chunk may be cut short
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (2 * G - 1)))
        r = self.c.chunk(s, data[2 * G:], 2 * G, len(data))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["md5Checksum"], hashlib.md5(data).hexdigest())

    def test_expire_session(self):
        _, s = self.c.start()
        self.d.set_fault("expire_session")
        self.assertGoogleError(self.c.status(s), 404, "notFound")
        self.assertGoogleError(self.c.chunk(s, payload(G), 0, None), 404, "notFound")
        self.assertGoogleError(self.c.req("DELETE", s), 404, "notFound")

    def test_rate_limit(self):
        self.d.set_fault("rate_limit", retry_after=3, where="initiate")
        self.assertEqual(self.c.req("GET", "/drive/v3/files").status, 200)  # not "list"
        r, _ = self.c.start()
        self.assertGoogleError(r, 429, "rateLimitExceeded")
        self.assertEqual(r.headers["Retry-After"], "3")
        self.assertEqual(r.json()["error"]["errors"][0]["domain"], "usageLimits")
        r, s = self.c.start()
        self.assertEqual(r.status, 200)
        self.d.set_fault("rate_limit", count=2, status=403, reason="userRateLimitExceeded",
                         where="chunk")
        for _ in range(2):
            r = self.c.chunk(s, b"x", 0, 1)
            self.assertGoogleError(r, 403, "userRateLimitExceeded")
            self.assertNotIn("Retry-After", r.headers)
        self.assertEqual(self.c.chunk(s, b"x", 0, 1).status, 200)

    def test_unauthorized_once(self):
        data = payload(2 * G)
        _, s = self.c.start(total=len(data))
        self.assertEqual(self.c.chunk(s, data[:G], 0, len(data)).status, 308)
        self.d.set_fault("unauthorized_once")
        self.assertGoogleError(self.c.chunk(s, data[G:], G, len(data)), 401, "authError")
        # the token is revoked: still refused, a new token is needed
        self.assertGoogleError(self.c.status(s, len(data)), 401, "authError")
        self.c.token = self.d.issue_token(service_account=True)
        r = self.c.status(s, len(data))
        self.assertEqual((r.status, r.headers["Range"]), (308, "bytes=0-%d" % (G - 1)))
        self.assertEqual(self.c.chunk(s, data[G:], G, len(data)).status, 200)

    def test_quota_exceeded(self):
        self.d.set_fault("quota_exceeded")
        r, _ = self.c.start()
        self.assertGoogleError(r, 403, "storageQuotaExceeded")
        self.assertIn("Service Accounts do not have storage quota", r.body.decode())
        self.d.set_fault("quota_exceeded", where="chunk")
        _, s = self.c.start(total=G)
        self.assertGoogleError(self.c.chunk(s, payload(G), 0, G), 403, "storageQuotaExceeded")
        self.assertEqual(self.c.chunk(s, payload(G), 0, G).status, 200)

    def test_wrong_and_omitted_sha256(self):
        data = payload(1000)
        self.d.set_fault("wrong_sha256")
        res = self.c.upload(data)
        self.assertNotEqual(res["sha256Checksum"], hashlib.sha256(data).hexdigest())
        self.assertEqual(res["md5Checksum"], hashlib.md5(data).hexdigest())
        stored = [f for f in self.d.files() if f["id"] == res["id"]][0]
        self.assertEqual(stored["sha256"], hashlib.sha256(data).hexdigest())
        self.d.set_fault("omit_sha256")
        res = self.c.upload(data)
        self.assertNotIn("sha256Checksum", res)
        self.assertIn("md5Checksum", res)
        r = self.c.req("GET", "/drive/v3/files/%s?supportsAllDrives=true&fields=sha256Checksum"
                       % res["id"])
        self.assertEqual(r.json(), {"sha256Checksum": hashlib.sha256(data).hexdigest()})

    def test_wrong_md5_and_omitted_checksums(self):
        data = payload(1000)
        self.d.set_fault("wrong_md5")
        res = self.c.upload(data)
        self.assertNotEqual(res["md5Checksum"], hashlib.md5(data).hexdigest())
        self.assertEqual(res["sha256Checksum"], hashlib.sha256(data).hexdigest())
        stored = [f for f in self.d.files() if f["id"] == res["id"]][0]
        self.assertEqual(stored["md5"], hashlib.md5(data).hexdigest())
        self.assertEqual(stored["reported_md5"], res["md5Checksum"])
        self.d.set_fault("omit_checksums")
        res = self.c.upload(data)
        self.assertNotIn("sha256Checksum", res)
        self.assertNotIn("md5Checksum", res)
        r = self.c.req("GET", "/drive/v3/files/%s?supportsAllDrives=true"
                       "&fields=sha256Checksum,md5Checksum" % res["id"])
        self.assertEqual(r.json(), {"sha256Checksum": hashlib.sha256(data).hexdigest(),
                                    "md5Checksum": hashlib.md5(data).hexdigest()})
        self.d.set_fault("omit_checksums", persistent=True)
        res = self.c.upload(data)
        self.assertNotIn("md5Checksum", res)
        r = self.c.req("GET", "/drive/v3/files/%s?supportsAllDrives=true"
                       "&fields=id,sha256Checksum,md5Checksum" % res["id"])
        self.assertEqual(r.json(), {"id": res["id"]})
        self.assertEqual(self.d.stats()["faults_fired"]["omit_checksums"], 2)
        self.assertEqual(self.d.stats()["faults_fired"]["wrong_md5"], 1)

    def test_delete_fails(self):
        fid = self.d.add_file(FOLDER, "old.tar", b"old")["id"]
        self.d.set_fault("delete_fails", count=2)
        path = "/drive/v3/files/%s?supportsAllDrives=true" % fid
        self.assertGoogleError(self.c.req("DELETE", path), 500, "backendError")
        self.assertGoogleError(self.c.req("DELETE", path), 500, "backendError")
        r = self.c.req("DELETE", path)
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertGoogleError(self.c.req("DELETE", path), 404, "notFound")

    def test_generic_error_and_download_faults(self):
        fid = self.d.add_file(FOLDER, "f.bin", payload(5000))["id"]
        self.d.set_fault("error", status=502, where="get")
        path = "/drive/v3/files/%s?supportsAllDrives=true" % fid
        self.assertGoogleError(self.c.req("GET", path), 502, "backendError")
        self.d.set_fault("corrupt_download")
        r = self.c.req("GET", path + "&alt=media")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body != payload(5000), "corrupt_download changed nothing")
        self.assertEqual(len(r.body), 5000)
        self.d.set_fault("reset_download", after=1000)
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            self.c.req("GET", path + "&alt=media")

    def test_faults_validation(self):
        with self.assertRaises(ValueError):
            self.d.set_fault("no_such_fault")
        with self.assertRaises(ValueError):
            self.d.set_fault("fail_chunk", count=0)


class FilesTest(DoubleTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.folder = "1ListFolder"
        cls.d.add_folder(cls.folder)
        cls.ids = []
        for i in range(7):
            app = {"respaldo": "1", "app": "mi-app" if i % 2 == 0 else "otra"}
            name = "mi-app-%d.tar" % i if i != 6 else "it's \\ odd.tar"
            cls.ids.append(cls.d.add_file(cls.folder, name, payload(100 + i, seed=i),
                                          app_properties=app,
                                          created_time="2024-01-0%dT00:00:00.000Z" % (i + 1))["id"])

    def list_all(self, q, page_size=2, extra=""):
        out, token, pages = [], None, 0
        while True:
            params = {"q": q, "pageSize": page_size, "supportsAllDrives": "true",
                      "includeItemsFromAllDrives": "true",
                      "fields": "nextPageToken,files(id,name,appProperties,size)"}
            if token:
                params["pageToken"] = token
            r = self.c.req("GET", "/drive/v3/files?" + urllib.parse.urlencode(params) + extra)
            self.assertEqual(r.status, 200, r.body)
            body = r.json()
            self.assertLessEqual(len(body["files"]), page_size)
            out += body["files"]
            pages += 1
            token = body.get("nextPageToken")
            if not token:
                return out, pages

    def test_list_paging_and_filters(self):
        q = "'%s' in parents and trashed = false" % self.folder
        files, pages = self.list_all(q)
        self.assertEqual([f["id"] for f in files], self.ids)  # oldest first by default
        self.assertEqual(pages, 4)
        q2 = q + " and appProperties has { key='app' and value='mi-app' }"
        files, _ = self.list_all(q2, page_size=1000)
        self.assertEqual([f["id"] for f in files], self.ids[0::2])
        self.assertTrue(all(f["appProperties"]["app"] == "mi-app" for f in files))
        files, _ = self.list_all(q + " and name = 'it\\'s \\\\ odd.tar'")
        self.assertEqual([f["id"] for f in files], [self.ids[6]])
        files, _ = self.list_all(q + " and createdTime < '2024-01-03T00:00:00Z'", extra=
                                 "&orderBy=createdTime%20desc")
        self.assertEqual([f["id"] for f in files], [self.ids[1], self.ids[0]])
        files, _ = self.list_all("'1NoSuchFolder' in parents")
        self.assertEqual(files, [])

    def test_list_trash_and_errors(self):
        extra = self.d.add_file(self.folder, "trash-me.tar", b"t")["id"]
        r = self.c.req("PATCH", "/drive/v3/files/%s?supportsAllDrives=true&fields=id,trashed"
                       % extra, json.dumps({"trashed": True}),
                       {"Content-Type": "application/json"})
        self.assertEqual(r.json(), {"id": extra, "trashed": True})
        q = "'%s' in parents" % self.folder
        self.assertIn(extra, [f["id"] for f in self.list_all(q, 100)[0]])
        self.assertNotIn(extra, [f["id"] for f in self.list_all(q + " and trashed = false")[0]])
        self.d._files.pop(extra)
        for bad in ("'x' in", "name = 'unterminated", "foo = 'x'", "trashed = maybe"):
            with self.subTest(bad):
                r = self.c.req("GET", "/drive/v3/files?" + urllib.parse.urlencode({"q": bad}))
                self.assertGoogleError(r, 400, "invalid")
        for size in ("0", "1001", "x"):
            r = self.c.req("GET", "/drive/v3/files?pageSize=" + size)
            self.assertGoogleError(r, 400, "invalid")
        self.assertGoogleError(self.c.req("GET", "/drive/v3/files?pageToken=bogus"), 400,
                               "invalid")
        # without the all-drives flags, shared-drive items are not listed
        r = self.c.req("GET", "/drive/v3/files?" + urllib.parse.urlencode({"q": q}))
        self.assertEqual(r.json()["files"], [])
        self.assertNotIn("nextPageToken", r.json())

    def test_page_token_reusable(self):
        params = {"q": "'%s' in parents" % self.folder, "pageSize": 3,
                  "supportsAllDrives": "true", "includeItemsFromAllDrives": "true",
                  "fields": "nextPageToken,files(id)"}
        r = self.c.req("GET", "/drive/v3/files?" + urllib.parse.urlencode(params))
        params["pageToken"] = r.json()["nextPageToken"]
        first = self.c.req("GET", "/drive/v3/files?" + urllib.parse.urlencode(params)).json()
        again = self.c.req("GET", "/drive/v3/files?" + urllib.parse.urlencode(params)).json()
        self.assertEqual([f["id"] for f in first["files"]], self.ids[3:6])
        self.assertEqual(first["files"], again["files"])

    def test_short_pages(self):
        self.d.set_fault("short_page", count=2)
        q = "'%s' in parents" % self.folder
        files, pages = self.list_all(q, page_size=3)
        self.assertEqual([f["id"] for f in files], self.ids)
        self.assertEqual(pages, 5)

    def test_get_and_download_range(self):
        fid = self.ids[3]
        data = payload(103, seed=3)
        base = "/drive/v3/files/%s?supportsAllDrives=true" % fid
        r = self.c.req("GET", base + "&fields=id,size,md5Checksum,createdTime")
        self.assertEqual(r.json(), {"id": fid, "size": "103",
                                    "md5Checksum": hashlib.md5(data).hexdigest(),
                                    "createdTime": "2024-01-04T00:00:00.000Z"})
        r = self.c.req("GET", base + "&alt=media")
        self.assertEqual((r.status, r.body), (200, data))
        r = self.c.req("GET", base + "&alt=media", headers={"Range": "bytes=10-19"})
        self.assertEqual((r.status, r.body), (206, data[10:20]))
        self.assertEqual(r.headers["Content-Range"], "bytes 10-19/103")
        r = self.c.req("GET", base + "&alt=media", headers={"Range": "bytes=100-"})
        self.assertEqual((r.status, r.body, r.headers["Content-Range"]),
                         (206, data[100:], "bytes 100-102/103"))
        r = self.c.req("GET", base + "&alt=media", headers={"Range": "bytes=200-"})
        self.assertEqual((r.status, r.headers["Content-Range"]), (416, "bytes */103"))
        self.assertGoogleError(self.c.req("GET", "/drive/v3/files/nope?alt=media"), 404,
                               "notFound")
        # shared-drive files are invisible without supportsAllDrives
        self.assertGoogleError(self.c.req("GET", "/drive/v3/files/%s" % fid), 404, "notFound")

    def test_delete(self):
        fid = self.d.add_file(self.folder, "gone.tar", b"bye")["id"]
        path = os.path.join(self.d.data_dir, "files", fid)
        self.assertTrue(os.path.exists(path))
        r = self.c.req("DELETE", "/drive/v3/files/%s?supportsAllDrives=true" % fid)
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertFalse(os.path.exists(path))
        self.assertGoogleError(self.c.req("GET", "/drive/v3/files/%s?supportsAllDrives=true"
                                          % fid), 404, "notFound")


class TlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = dd.make_test_pki(os.path.join(_tmp, "pki"))

    def test_tls_with_ca(self):
        with dd.DriveDouble(tls_cert=self.pki["server_cert"],
                            tls_key=self.pki["server_key"]) as d:
            self.assertTrue(d.base_url.startswith("https://127.0.0.1:"))
            ctx = ssl.create_default_context(cafile=self.pki["ca_cert"])
            for host in ("127.0.0.1", "localhost"):
                c = Client(d, d.issue_token(), context=ctx, host=host)
                self.assertEqual(c.req("GET", "/drive/v3/files").status, 200)
                self.assertEqual(c.req("GET", "/drive/v3/files").status, 200)  # keep-alive
                c.close()
            # without the CA the chain does not verify; the double keeps serving
            c = Client(d, "x", context=ssl.create_default_context())
            with self.assertRaises(ssl.SSLCertVerificationError):
                c.req("GET", "/drive/v3/files")
            c.close()
            c = Client(d, d.issue_token(), context=ctx)
            self.assertEqual(c.req("GET", "/drive/v3/files").status, 200)
            c.close()

    def test_wrong_host_name(self):
        with dd.DriveDouble(tls_cert=self.pki["wrong_cert"],
                            tls_key=self.pki["wrong_key"]) as d:
            ctx = ssl.create_default_context(cafile=self.pki["ca_cert"])
            c = Client(d, "x", context=ctx)
            with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                c.req("GET", "/drive/v3/files")
            self.assertIn("match", str(cm.exception).lower())
            c.close()


class ProcessTest(unittest.TestCase):

    def test_cli_and_control(self):
        sa = _sa
        p = dd.DoubleProcess(["--folder", "1Shared", "--folder", "1Mine:mydrive",
                              "--service-account-key", sa["json"],
                              "--authorized-user", "cid:csecret:1//refresh:tok",
                              "--token-lifetime", "120"])
        try:
            d = type("D", (), {"port": p.port})()
            c = Client(d)
            form = {"grant_type": "refresh_token", "client_id": "cid",
                    "client_secret": "csecret", "refresh_token": "1//refresh:tok"}
            r = c.req("POST", "/token", urllib.parse.urlencode(form), FORM)
            self.assertEqual((r.status, r.json()["expires_in"]), (200, 120))
            # the JSON's token_uri is not this double's: an aud of its own URL is accepted
            now = int(time.time())
            jwt = openssl_jwt(sa["key"], {"alg": "RS256", "typ": "JWT",
                                          "kid": sa["private_key_id"]},
                              {"iss": sa["client_email"], "aud": p.base_url + "/token",
                               "scope": "https://www.googleapis.com/auth/drive",
                               "iat": now, "exp": now + 3600})
            self.assertEqual(c.grant(jwt).status, 200)
            c.token = r.json()["access_token"]
            p.control.add_folder("1Later")
            p.control.set_fault("fail_chunk", count=1)
            self.assertEqual(p.control.call("GET", "/_control/faults")["fail_chunk"]["count"], 1)
            _, s = c.start(folder="1Later", total=3)
            self.assertGoogleError = DoubleTestCase.assertGoogleError.__get__(self)
            self.assertGoogleError(c.chunk(s, b"abc", 0, 3), 503, "backendError")
            self.assertEqual(c.chunk(s, b"abc", 0, 3).status, 200)
            self.assertEqual(c.upload(b"mine", folder="1Mine")["size"], "4")
            files = p.control.files("1Later")
            self.assertEqual([(f["size"], f["sha256"]) for f in files],
                             [(3, hashlib.sha256(b"abc").hexdigest())])
            st = p.control.stats()
            self.assertEqual(st["token_grants"], {"jwt_bearer": 1, "refresh_token": 1})
            self.assertEqual(st["faults_fired"], {"fail_chunk": 1})
            self.assertEqual(st["bytes_persisted"], 7)
            self.assertEqual(st["bytes_received"], 10)
            c.close()
        finally:
            self.assertEqual(p.stop(), 0)


class UnitTest(unittest.TestCase):

    def test_fields_parser(self):
        self.assertEqual(dd.parse_fields("nextPageToken,files(id,appProperties/app)"),
                         {"nextPageToken": None, "files": {"id": None,
                                                           "appProperties": {"app": None}}})
        self.assertEqual(dd.parse_fields("files/id,files/name"),
                         {"files": {"id": None, "name": None}})
        for bad in ("files(id", "a,,b", "a)", "a/"):
            with self.subTest(bad), self.assertRaises(ValueError):
                dd.parse_fields(bad)

    def test_rsa_key_forms(self):
        with open(_sa["key"]) as f:
            priv = f.read()
        with open(_sa["public_key"]) as f:
            pub = f.read()
        self.assertEqual(dd.load_rsa_public_key(priv), dd.load_rsa_public_key(pub))
        rsa_pub = subprocess.run(["openssl", "rsa", "-in", _sa["key"], "-RSAPublicKey_out"],
                                 capture_output=True, check=True, text=True).stdout
        self.assertEqual(dd.load_rsa_public_key(rsa_pub), dd.load_rsa_public_key(pub))
        with self.assertRaises(ValueError):
            dd.load_rsa_public_key("no key")
        self.assertRegex(dd.rfc3339(0.5), r"^1970-01-01T00:00:00\.500Z$")


if __name__ == "__main__":
    unittest.main()

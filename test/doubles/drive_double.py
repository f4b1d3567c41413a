#!/usr/bin/env python3
"""Google Drive v3 and OAuth 2.0 token endpoint double for testing respaldo's Drive storage.

Python 3.11 standard library only. It speaks the subset of the protocol the product depends on,
with the exact shapes described in the project's Drive protocol notes:

- ``POST /token``: JWT-bearer grant (RS256 signature verified against the registered service
  account's public key, header and claims checked) and refresh-token grant.
- ``/upload/drive/v3/files``: resumable uploads (256 KiB rule, 308 + Range, status queries,
  PUT and POST chunks, re-sent bytes skipped, ``X-GUploader-No-308``, cancel).
- ``/drive/v3/files``: list (q filter, paging, fields masks), get, download (Range), delete, patch.
- Fault injection, statistics and a ``/_control`` API for tests that run it as a process.

RSA signatures are verified in pure Python: the PEM key is parsed by a small DER reader and
PKCS#1 v1.5 is checked with ``pow()``. Key and certificate generation (test set-up only) uses the
``openssl`` command line tool.

Run: ``python3 drive_double.py --port 0 [--host H] [--tls-cert C --tls-key K]
[--service-account-key FILE ...] [--authorized-user ID:SECRET:REFRESH ...] [--folder ID ...]``.
It prints ``listening <port>`` once bound and serves until SIGTERM or SIGINT.
"""

import argparse
import base64
import collections
import copy
import datetime
import hashlib
import http.client
import http.server
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

CHUNK_GRANULARITY = 256 * 1024
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DRIVE_SCOPES = ("https://www.googleapis.com/auth/drive",
                "https://www.googleapis.com/auth/drive.file")
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_SA_EMAIL = "respaldo-backup@respaldo-test.iam.gserviceaccount.com"
SA_QUOTA_MESSAGE = (
    "Service Accounts do not have storage quota. Leverage shared drives "
    "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth "
    "delegation (http://support.google.com/a/answer/7281227) instead.")
AUTH_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.")
MAX_APP_PROPERTIES = 30
MAX_PROPERTY_BYTES = 124
IO_BLOCK = 1024 * 1024

# Faults and the operations they apply to by default ("where"). Operations: token, initiate,
# chunk, status, cancel, list, get, download, delete, patch.
FAULTS = {
    "fail_chunk": "chunk",
    "reset_chunk": "chunk",
    "short_persist": "chunk",
    "expire_session": "session",
    "rate_limit": "any",
    "unauthorized_once": "any",
    "quota_exceeded": "initiate",
    "wrong_sha256": "finalize",
    "omit_sha256": "finalize",
    "wrong_md5": "finalize",
    "omit_checksums": "finalize",
    "invalid_grant": "token",
    "delete_fails": "delete",
    "error": "any",
    "short_page": "list",
    "reset_download": "download",
    "corrupt_download": "download",
}

# ---------------------------------------------------------------------------------------------
# Small utilities


def rfc3339(t):
    """RFC 3339 UTC with milliseconds, as Drive writes createdTime."""
    ms = int(round(t * 1000))
    secs, ms = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%03dZ" % ms


def parse_rfc3339(text):
    """Epoch seconds from an RFC 3339 string; ValueError if malformed. Naive times are UTC."""
    if not isinstance(text, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text):
        raise ValueError("not an RFC 3339 time: %r" % (text,))
    dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url without padding, as JWTs use."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_drive_id():
    # Drive file ids are 33 characters of base64url-ish text starting with "1".
    return "1" + b64url_encode(secrets.token_bytes(24))[:32]


# ---------------------------------------------------------------------------------------------
# RSA public keys from PEM (hand-parsed DER) and PKCS#1 v1.5 SHA-256 verification

_RSA_OID = bytes.fromhex("2a864886f70d010101")
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _der_items(data):
    """The (tag, value) elements laid out one after another in ``data``."""
    items, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated DER")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            nbytes = length & 0x7F
            if nbytes == 0 or nbytes > 4 or pos + nbytes > len(data):
                raise ValueError("bad DER length")
            length = int.from_bytes(data[pos:pos + nbytes], "big")
            pos += nbytes
        if pos + length > len(data):
            raise ValueError("truncated DER value")
        items.append((tag, data[pos:pos + length]))
        pos += length
    return items


def _der_seq(data):
    items = _der_items(data)
    if len(items) != 1 or items[0][0] != 0x30:
        raise ValueError("expected a DER SEQUENCE")
    return _der_items(items[0][1])


def _der_int(item):
    if item[0] != 0x02:
        raise ValueError("expected a DER INTEGER")
    return int.from_bytes(item[1], "big")


def load_rsa_public_key(pem):
    """(n, e) from a PEM public key (SPKI or PKCS#1) or private key (PKCS#8 or PKCS#1)."""
    m = re.search(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", pem, re.S)
    if not m:
        raise ValueError("no PEM block found")
    kind, der = m.group(1), base64.b64decode("".join(m.group(2).split()))
    if kind == "PUBLIC KEY":
        seq = _der_seq(der)
        alg = _der_items(seq[0][1])
        if alg[0] != (0x06, _RSA_OID):
            raise ValueError("not an RSA public key")
        bits = seq[1][1]
        if seq[1][0] != 0x03 or bits[:1] != b"\x00":
            raise ValueError("bad public key BIT STRING")
        rsa = _der_seq(bits[1:])
        return _der_int(rsa[0]), _der_int(rsa[1])
    if kind == "RSA PUBLIC KEY":
        rsa = _der_seq(der)
        return _der_int(rsa[0]), _der_int(rsa[1])
    if kind == "PRIVATE KEY":
        seq = _der_seq(der)
        alg = _der_items(seq[1][1])
        if alg[0] != (0x06, _RSA_OID) or seq[2][0] != 0x04:
            raise ValueError("not an RSA private key")
        rsa = _der_seq(seq[2][1])
        return _der_int(rsa[1]), _der_int(rsa[2])
    if kind == "RSA PRIVATE KEY":
        rsa = _der_seq(der)
        return _der_int(rsa[1]), _der_int(rsa[2])
    raise ValueError("unsupported PEM block: " + kind)


def rsa_verify_sha256(public_key, message, signature):
    """RSASSA-PKCS1-v1_5 with SHA-256: True if ``signature`` signs ``message``."""
    n, e = public_key
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return secrets.compare_digest(em, expected)


# ---------------------------------------------------------------------------------------------
# Test set-up helpers built on the openssl command line tool


def _openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r.stdout


def make_service_account(directory, client_email=DEFAULT_SA_EMAIL, token_uri=None, double=None,
                         project_id="respaldo-test"):
    """Create a 2048-bit RSA key and a Google-format service-account JSON key file.

    ``token_uri`` defaults to ``<double.base_url>/token`` when a double is given (which also
    registers the account), else to Google's. Returns a dict: json, key, public_key,
    client_email, private_key_id, token_uri.
    """
    os.makedirs(directory, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9]+", "-", client_email.split("@")[0]) or "sa"
    key_path = os.path.join(directory, stem + "-key.pem")
    pub_path = os.path.join(directory, stem + "-pub.pem")
    json_path = os.path.join(directory, stem + ".json")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key_path)
    _openssl("pkey", "-in", key_path, "-pubout", "-out", pub_path)
    os.chmod(key_path, 0o600)
    if token_uri is None:
        token_uri = double.token_url if double is not None else GOOGLE_TOKEN_URI
    with open(key_path, encoding="ascii") as f:
        private_key = f.read()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_key,
        "client_email": client_email,
        "client_id": str(10**20 + secrets.randbelow(9 * 10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" +
                                urllib.parse.quote(client_email),
        "universe_domain": "googleapis.com",
    }
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    os.chmod(json_path, 0o600)
    if double is not None:
        double.register_service_account(json_path)
    return {"json": json_path, "key": key_path, "public_key": pub_path,
            "client_email": client_email, "private_key_id": info["private_key_id"],
            "token_uri": token_uri}


def make_authorized_user(directory, client_id=None, client_secret=None, refresh_token=None,
                         token_uri=None, double=None, name="authorized_user.json"):
    """Write an ``authorized_user`` credentials JSON (registered with ``double`` if given)."""
    os.makedirs(directory, exist_ok=True)
    client_id = client_id or "%d-respaldo.apps.googleusercontent.com" % secrets.randbelow(10**12)
    client_secret = client_secret or "GOCSPX-" + b64url_encode(secrets.token_bytes(21))
    refresh_token = refresh_token or "1//0" + b64url_encode(secrets.token_bytes(48))
    info = {"type": "authorized_user", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token}
    if token_uri is None and double is not None:
        token_uri = double.token_url
    if token_uri:
        info["token_uri"] = token_uri
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    os.chmod(path, 0o600)
    if double is not None:
        double.add_authorized_user(client_id, client_secret, refresh_token)
    return dict(info, json=path)


def sign_jwt(key_path, header, claims):
    """A compact RS256 JWT, signed with ``openssl dgst -sha256 -sign``."""
    signing_input = (b64url_encode(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url_encode(json.dumps(claims, separators=(",", ":")).encode()))
    sig = _openssl("dgst", "-sha256", "-sign", key_path, data=signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(sig)


def make_assertion(sa, scope=DRIVE_SCOPES[0], aud=None, sub=None, iat=None, lifetime=3600,
                   kid=None, extra_claims=None):
    """A service-account JWT assertion; ``sa`` is a make_service_account() result."""
    iat = int(time.time()) - 5 if iat is None else iat
    header = {"alg": "RS256", "typ": "JWT", "kid": kid or sa["private_key_id"]}
    claims = {"iss": sa["client_email"], "scope": scope, "aud": aud or sa["token_uri"],
              "iat": iat, "exp": iat + lifetime}
    if sub is not None:
        claims["sub"] = sub
    claims.update(extra_claims or {})
    return sign_jwt(sa["key"], header, claims)


def make_test_pki(directory):
    """A test CA, a server certificate for 127.0.0.1/localhost and one for a wrong host name.

    Returns a dict of paths: ca_cert, ca_key, server_cert, server_key, wrong_cert, wrong_key.
    Keys are EC P-256 (fast to generate). Uses private openssl configs, not the system one.
    """
    os.makedirs(directory, exist_ok=True)
    p = lambda name: os.path.join(directory, name)  # noqa: E731
    with open(p("pki.cnf"), "w", encoding="ascii") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = respaldo test CA\n"
                "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
                "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid:always\n"
                "[v3_server]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                "subjectAltName = IP:127.0.0.1,DNS:localhost\nsubjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid,issuer\n"
                "[v3_wrong]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                "subjectAltName = DNS:wrong.example\nsubjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid,issuer\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", "-config", p("pki.cnf"), "-extensions", "v3_ca", *ec, "-keyout",
             p("ca.key"), "-out", p("ca.pem"), "-days", "3650")
    out = {"dir": directory, "ca_cert": p("ca.pem"), "ca_key": p("ca.key")}
    for kind, cn, ext in (("server", "localhost", "v3_server"),
                          ("wrong", "wrong.example", "v3_wrong")):
        _openssl("req", "-new", "-config", p("pki.cnf"), "-subj", "/CN=" + cn, *ec, "-keyout",
                 p(kind + ".key"), "-out", p(kind + ".csr"))
        _openssl("x509", "-req", "-in", p(kind + ".csr"), "-CA", p("ca.pem"), "-CAkey",
                 p("ca.key"), "-set_serial", str(secrets.randbits(63)), "-days", "825",
                 "-extfile", p("pki.cnf"), "-extensions", ext, "-out", p(kind + ".pem"))
        out[kind + "_cert"], out[kind + "_key"] = p(kind + ".pem"), p(kind + ".key")
    return out


# ---------------------------------------------------------------------------------------------
# Errors


class DriveError(Exception):
    """An API error answered in Google's JSON shape."""

    def __init__(self, code, reason, message, domain="global", location=None,
                 location_type="parameter", headers=None, close=False, status_text=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.location, self.location_type = location, location_type
        self.headers = list(headers or [])
        self.close = close
        self.status_text = status_text

    def body(self):
        item = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type
        return {"error": {"code": self.code, "message": self.message, "errors": [item]}}


class OAuthError(Exception):

    def __init__(self, code, error, description):
        super().__init__(description)
        self.code, self.error, self.description = code, error, description


class _Abort(Exception):
    """Drop the connection with a TCP reset, answering nothing."""


def _unauthorized(message=AUTH_MESSAGE):
    return DriveError(401, "authError", message, location="Authorization",
                      location_type="header",
                      headers=[("WWW-Authenticate",
                                'Bearer realm="https://accounts.google.com/", '
                                'error="invalid_token"')])


def _not_found(file_id):
    return DriveError(404, "notFound", "File not found: %s." % file_id, location="fileId")


def _invalid(location, message="Invalid Value"):
    return DriveError(400, "invalid", message, location=location)


def _bad_request(message, location=None):
    return DriveError(400, "badRequest", message, location=location)


# ---------------------------------------------------------------------------------------------
# fields masks: "id,name", "nextPageToken,files(id,appProperties/app)", "*"

_FILE_FIELDS = {
    "kind", "id", "name", "mimeType", "parents", "size", "md5Checksum", "sha1Checksum",
    "sha256Checksum", "appProperties", "properties", "createdTime", "modifiedTime", "trashed",
    "explicitlyTrashed", "driveId", "originalFilename", "quotaBytesUsed", "version",
    "headRevisionId", "fileExtension", "fullFileExtension", "description", "starred",
    "spaces", "ownedByMe", "webViewLink", "webContentLink"
}
_MAP_FIELDS = {"appProperties", "properties"}
_LIST_FIELDS = {"kind", "nextPageToken", "incompleteSearch", "files"}
_DEFAULT_FILE_MASK = {"kind": None, "id": None, "name": None, "mimeType": None}
_DEFAULT_LIST_MASK = {"kind": None, "incompleteSearch": None, "nextPageToken": None,
                      "files": dict(_DEFAULT_FILE_MASK)}


def parse_fields(text):
    """Parse a fields mask into a tree: {name: None (whole value) or subtree}."""
    tokens = re.findall(r"[A-Za-z0-9_*.-]+|[(),/]|\S", text)
    pos = 0

    def merge(tree, path, sub):
        for name in path[:-1]:
            node = tree.get(name, {})
            if node is None:
                return
            tree[name] = node
            tree = node
        last = path[-1]
        if sub is None or tree.get(last, {}) is None:
            tree[last] = None
        elif last in tree:
            for k, v in sub.items():
                merge(tree[last], [k], v)
        else:
            tree[last] = sub

    def parse_list(closing):
        nonlocal pos
        tree = {}
        while True:
            if pos >= len(tokens) or not re.fullmatch(r"[A-Za-z0-9_*.-]+", tokens[pos]):
                raise ValueError("Invalid field selection")
            path = [tokens[pos]]
            pos += 1
            while pos < len(tokens) and tokens[pos] == "/":
                pos += 1
                if pos >= len(tokens) or not re.fullmatch(r"[A-Za-z0-9_*.-]+", tokens[pos]):
                    raise ValueError("Invalid field selection")
                path.append(tokens[pos])
                pos += 1
            sub = None
            if pos < len(tokens) and tokens[pos] == "(":
                pos += 1
                sub = parse_list(")")
            merge(tree, path, sub)
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                continue
            if closing is None and pos == len(tokens):
                return tree
            if closing is not None and pos < len(tokens) and tokens[pos] == closing:
                pos += 1
                return tree
            raise ValueError("Invalid field selection")

    if not text.strip():
        raise ValueError("Invalid field selection")
    return parse_list(None)


def _validate_fields(tree, schema):
    """Raise ValueError naming the first field the resource does not have."""
    for name, sub in tree.items():
        if name == "*":
            continue
        if schema is _LIST_FIELDS and name == "files":
            if sub is not None:
                _validate_fields(sub, _FILE_FIELDS)
            continue
        if name not in schema:
            raise ValueError("Invalid field selection " + name)
        if sub is not None and name not in _MAP_FIELDS:
            raise ValueError("Invalid field selection " + name)


def apply_fields(obj, tree):
    if tree is None:
        return obj
    if isinstance(obj, list):
        return [apply_fields(x, tree) for x in obj]
    if not isinstance(obj, dict):
        return obj
    if "*" in tree:
        return obj
    return {k: apply_fields(obj[k], sub) for k, sub in tree.items() if k in obj}


def _fields_mask(text, schema, default):
    if text is None or text == "":
        return default
    try:
        tree = parse_fields(text)
        _validate_fields(tree, schema)
    except ValueError as e:
        raise DriveError(400, "invalidParameter", str(e), location="fields") from None
    return tree


# ---------------------------------------------------------------------------------------------
# q: the Drive search query language, the part the product uses (and a little more)

_Q_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|<=|>=|=|<|>|[(){}])|"
                      r"(?P<word>[A-Za-z_][A-Za-z0-9_.]*))")


def _q_unescape(lit):
    return re.sub(r"\\(.)", r"\1", lit[1:-1], flags=re.S)


class QueryParser:
    """Compile a q string into a predicate over file records; ValueError if malformed."""

    def __init__(self, text):
        self.tokens, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            m = _Q_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError("bad token at %d" % pos)
            kind = m.lastgroup
            value = m.group(kind)
            self.tokens.append((kind, _q_unescape(value) if kind == "str" else value))
            pos = m.end()
        self.pos = 0

    def compile(self):
        if not self.tokens:
            return lambda f: True
        pred = self._or()
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens")
        return pred

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _next(self, kind=None, value=None):
        tok = self._peek()
        if tok[0] is None or (kind and tok[0] != kind) or (
                value and (tok[1] or "").lower() != value):
            raise ValueError("expected %s" % (value or kind))
        self.pos += 1
        return tok[1]

    def _keyword(self, word):
        tok = self._peek()
        return tok[0] == "word" and tok[1].lower() == word

    def _or(self):
        terms = [self._and()]
        while self._keyword("or"):
            self.pos += 1
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else (lambda f: any(t(f) for t in terms))

    def _and(self):
        terms = [self._not()]
        while self._keyword("and"):
            self.pos += 1
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else (lambda f: all(t(f) for t in terms))

    def _not(self):
        if self._keyword("not"):
            self.pos += 1
            inner = self._not()
            return lambda f: not inner(f)
        return self._primary()

    def _primary(self):
        kind, value = self._peek()
        if kind == "op" and value == "(":
            self.pos += 1
            inner = self._or()
            self._next("op", ")")
            return inner
        if kind == "str":
            self.pos += 1
            self._next("word", "in")
            self._next("word", "parents")
            return lambda f: value in f.parents
        field = self._next("word")
        if field in ("appProperties", "properties"):
            self._next("word", "has")
            self._next("op", "{")
            self._next("word", "key")
            self._next("op", "=")
            key = self._next("str")
            self._next("word", "and")
            self._next("word", "value")
            self._next("op", "=")
            val = self._next("str")
            self._next("op", "}")
            attr = "app_properties" if field == "appProperties" else "properties"
            return lambda f: getattr(f, attr).get(key) == val
        op = self._next("word", "contains") if self._keyword("contains") else self._next("op")
        if field in ("trashed", "starred"):
            lit = self._next("word").lower()
            if lit not in ("true", "false") or op not in ("=", "!="):
                raise ValueError("bad boolean comparison")
            want = (lit == "true") == (op == "=")
            attr = field
            return lambda f: bool(getattr(f, attr, False)) == want
        if field in ("name", "mimeType", "fullText"):
            lit = self._next("str")
            attr = {"name": "name", "mimeType": "mime_type", "fullText": "name"}[field]
            if op == "=":
                return lambda f: getattr(f, attr) == lit
            if op == "!=":
                return lambda f: getattr(f, attr) != lit
            if op == "contains":
                return lambda f: lit in getattr(f, attr)
            raise ValueError("bad string comparison")
        if field in ("createdTime", "modifiedTime"):
            t = parse_rfc3339(self._next("str"))
            attr = "created" if field == "createdTime" else "modified"
            cmp = {"=": lambda a: a == t, "!=": lambda a: a != t, "<": lambda a: a < t,
                   "<=": lambda a: a <= t, ">": lambda a: a > t, ">=": lambda a: a >= t}.get(op)
            if cmp is None:
                raise ValueError("bad time comparison")
            return lambda f: cmp(round(getattr(f, attr), 3))
        raise ValueError("unsupported query term " + field)


# ---------------------------------------------------------------------------------------------
# Faults


class _Fired(dict):
    """The parameters of a fault that fired; true even when it has no parameters."""

    def __bool__(self):
        return True


class Faults:
    """Armed faults, each one-shot or counted. ``count=None`` keeps a fault armed until cleared.

    Common parameters: ``where`` (an operation name or list of them, or "any"), ``k`` (chunk
    faults: fire from the k-th chunk request of a session on, 1-based). See the README.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._armed = {}
        self.fired = collections.Counter()

    def set(self, name, count=1, **params):
        if name not in FAULTS:
            raise ValueError("unknown fault %r" % (name,))
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer or None")
        with self._lock:
            self._armed[name] = {"count": count, "params": params}

    def clear(self, name=None):
        with self._lock:
            if name is None:
                self._armed.clear()
            else:
                self._armed.pop(name, None)

    def active(self):
        with self._lock:
            return copy.deepcopy(self._armed)

    def take(self, name, op=None, chunk_no=None, match=None):
        """If fault ``name`` applies to this request, consume one firing and return its params."""
        with self._lock:
            f = self._armed.get(name)
            if f is None:
                return None
            params = f["params"]
            where = params.get("where", FAULTS[name])
            if op is not None and where != "any":
                wanted = where if isinstance(where, (list, tuple)) else [where]
                if op not in wanted:
                    return None
            if chunk_no is not None and chunk_no < int(params.get("k", 1)):
                return None
            if match is not None and not match(params):
                return None
            if f["count"] is not None:
                f["count"] -= 1
                if f["count"] <= 0:
                    del self._armed[name]
            self.fired[name] += 1
            return _Fired(params)


# ---------------------------------------------------------------------------------------------
# State


class _File:

    def __init__(self, file_id, name, folder, mime_type, size, md5, sha256, app_properties,
                 properties, created, path, shared_drive_id=None):
        self.id, self.name, self.parents, self.mime_type = file_id, name, [folder], mime_type
        self.size, self.md5, self.sha256, self.path = size, md5, sha256, path
        self.app_properties, self.properties = dict(app_properties), dict(properties)
        self.created = self.modified = created
        self.trashed = False
        self.starred = False
        self.version = 1
        self.reported_sha256 = sha256
        self.reported_md5 = md5
        self.omit_sha256 = False
        self.omit_md5 = False
        self.drive_id = shared_drive_id

    def resource(self, omit_sha256=False, omit_md5=False):
        r = {"kind": "drive#file", "id": self.id, "name": self.name, "mimeType": self.mime_type,
             "parents": list(self.parents), "size": str(self.size), "md5Checksum": self.reported_md5,
             "sha256Checksum": self.reported_sha256, "createdTime": rfc3339(self.created),
             "modifiedTime": rfc3339(self.modified), "trashed": self.trashed,
             "explicitlyTrashed": self.trashed, "originalFilename": self.name,
             "quotaBytesUsed": str(self.size), "version": str(self.version),
             "headRevisionId": "0B" + self.md5[:30], "starred": self.starred,
             "spaces": ["drive"]}
        if omit_sha256 or self.omit_sha256:
            del r["sha256Checksum"]
        if omit_md5 or self.omit_md5:
            del r["md5Checksum"]
        if "." in self.name:
            r["fileExtension"] = self.name.rsplit(".", 1)[1]
            r["fullFileExtension"] = self.name.split(".", 1)[1]
        if self.app_properties:
            r["appProperties"] = dict(self.app_properties)
        if self.properties:
            r["properties"] = dict(self.properties)
        if self.drive_id:
            r["driveId"] = self.drive_id
        return r

    def summary(self):
        return {"id": self.id, "name": self.name, "folder": self.parents[0],
                "parents": list(self.parents), "size": self.size, "md5": self.md5,
                "sha256": self.sha256, "reported_sha256": self.reported_sha256,
                "reported_md5": self.reported_md5,
                "appProperties": dict(self.app_properties), "properties": dict(self.properties),
                "createdTime": rfc3339(self.created), "modifiedTime": rfc3339(self.modified),
                "mimeType": self.mime_type, "trashed": self.trashed, "path": self.path}


class _Session:

    def __init__(self, sid, meta, path, now, lifetime):
        self.id, self.path = sid, path
        self.name = meta["name"]
        self.folder = meta["folder"]
        self.mime_type = meta["mime_type"]
        self.app_properties = meta["app_properties"]
        self.properties = meta["properties"]
        self.created_time = meta["created_time"]
        self.fields = meta["fields"]
        self.total = meta["declared"]  # None until the client states it
        self.declared = meta["declared"]
        self.principal = meta["principal"]
        self.persisted = 0
        self.md5, self.sha256 = hashlib.md5(), hashlib.sha256()
        self.state = "active"
        self.file_id = None
        self.lock = threading.Lock()
        self.started = now
        self.expires_at = now + lifetime
        self.chunk_requests = 0
        self.status_queries = 0
        self.bytes_received = 0

    def summary(self):
        return {"id": self.id, "name": self.name, "folder": self.folder, "state": self.state,
                "total": self.total, "declared_total": self.declared,
                "bytes_received": self.bytes_received, "bytes_persisted": self.persisted,
                "chunk_requests": self.chunk_requests, "status_queries": self.status_queries,
                "file_id": self.file_id}


def _new_stats():
    return {"bytes_received": 0, "bytes_persisted": 0, "chunk_requests": 0, "status_queries": 0,
            "sessions_created": 0, "sessions_completed": 0, "sessions_cancelled": 0,
            "sessions_expired": 0, "token_grants": {"jwt_bearer": 0, "refresh_token": 0},
            "token_errors": 0, "grants": [], "endpoints": collections.Counter(), "lists": 0,
            "gets": 0, "downloads": 0, "download_bytes": 0, "deletes": 0, "patches": 0,
            "unauthorized": 0}


# ---------------------------------------------------------------------------------------------
# HTTP plumbing


class _Body:
    """The request body, read incrementally (Content-Length or chunked)."""

    def __init__(self, handler):
        self.rfile = handler.rfile
        self.consumed = 0
        te = handler.headers.get("Transfer-Encoding")
        cl = handler.headers.get("Content-Length")
        self.chunked = te is not None and "chunked" in te.lower()
        self._left = 0
        self._eof = False
        self.length = None
        if not self.chunked:
            if cl is None:
                self.length = 0
            elif not cl.strip().isdigit():
                raise DriveError(400, "badRequest", "Invalid Content-Length", close=True)
            else:
                self.length = int(cl)
            self._left = self.length

    def read(self, n):
        if self.chunked:
            return self._read_chunked(n)
        if self._left == 0:
            return b""
        data = self.rfile.read(min(n, self._left))
        if not data:
            raise ConnectionError("request body ended early")
        self._left -= len(data)
        self.consumed += len(data)
        return data

    def _read_chunked(self, n):
        if self._eof:
            return b""
        if self._left == 0:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("request body ended early")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ConnectionError("bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                self._eof = True
                return b""
            self._left = size
        data = self.rfile.read(min(n, self._left))
        if not data:
            raise ConnectionError("request body ended early")
        self._left -= len(data)
        self.consumed += len(data)
        if self._left == 0:
            self.rfile.readline(16)
        return data

    def done(self):
        return self._eof if self.chunked else self._left == 0

    def drain(self):
        while self.read(IO_BLOCK):
            pass

    def read_all(self, limit):
        parts, total = [], 0
        while True:
            data = self.read(IO_BLOCK)
            if not data:
                return b"".join(parts)
            total += len(data)
            if total > limit:
                raise DriveError(413, "uploadTooLarge", "Request body too large")
            parts.append(data)


def _parse_content_range(value):
    """("chunk", start, end, total|None) or ("status", total|None); ValueError if malformed."""
    v = value.strip()
    m = re.fullmatch(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", v)
    if m:
        total = None if m.group(3) == "*" else int(m.group(3))
        return ("chunk", int(m.group(1)), int(m.group(2)), total)
    m = re.fullmatch(r"bytes\s+\*/(\d+|\*)", v)
    if m:
        return ("status", None if m.group(1) == "*" else int(m.group(1)))
    raise ValueError("bad Content-Range")


class _PipelinedHash:
    """Updates hashes on a helper thread, so hashing overlaps socket reads and disk writes
    (hashlib releases the GIL on large updates). Bounded, so memory stays small."""

    def __init__(self, *hashes):
        self._hashes = hashes
        self._queue = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, daemon=True, name="drive-double-hash")
        self._thread.start()

    def _run(self):
        while True:
            piece = self._queue.get()
            if piece is None:
                return
            for h in self._hashes:
                h.update(piece)

    def update(self, piece):
        self._queue.put(piece)

    def close(self):
        """Wait until every piece is hashed (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drive-double"
    sys_version = ""
    timeout = 300

    # --- plumbing -----------------------------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 (inherited signature)
        if self.server.double.verbose:
            sys.stderr.write("drive-double: %s\n" % (format % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _dispatch(self, method):
        d = self.server.double
        self.d = d
        self._status = None
        self._body = None
        url = urllib.parse.urlsplit(self.path)
        self.raw_query = url.query
        self.q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query,
                                                            keep_blank_values=True).items()}
        path = urllib.parse.unquote(url.path)
        self._session = None
        control = path.startswith("/_control")
        try:
            self._body = _Body(self)
            if control:
                self._control(method, path)
            else:
                self._route(method, path)
        except DriveError as e:
            if e.close:
                self.close_connection = True
            else:
                self._drain_quietly()
            if e.code == 401:
                d._bump("unauthorized")
            self._send_json(e.code, e.body(), headers=e.headers, status_text=e.status_text)
        except OAuthError as e:
            self._drain_quietly()
            with d.lock:
                d._stats["token_errors"] += 1
            self._send_json(e.code, {"error": e.error, "error_description": e.description})
        except _Abort:
            self._status = "reset"
            self._reset_connection()
        except (ConnectionError, socket.timeout, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception:  # a bug in the double: report it, answer 500
            traceback.print_exc()
            self.close_connection = True
            if self._status is None:
                err = DriveError(500, "internalError", "Internal Error")
                try:
                    self._send_json(500, err.body())
                except OSError:
                    pass
        finally:
            if not control:
                received = self._body.consumed if self._body else 0
                with d.lock:
                    if url.path.startswith("/upload/") and "upload_id" in self.q:
                        d._stats["bytes_received"] += received
                        if self._session is not None:
                            self._session.bytes_received += received
                    d._log.append({"method": method, "path": self.path, "status": self._status,
                                   "content_range": self.headers.get("Content-Range"),
                                   "content_length": self.headers.get("Content-Length"),
                                   "authorization": "Authorization" in self.headers,
                                   "received": received})

    def _drain_quietly(self):
        if self._body is None:
            self.close_connection = True
            return
        try:
            self._body.drain()
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    def _reset_connection(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def _send(self, code, body=b"", headers=(), content_type=None, status_text=None):
        self._status = code
        self.send_response(code, status_text)
        for k, v in headers:
            self.send_header(k, v)
        if content_type:
            self.send_header("Content-Type", content_type)
        if code != 204:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, code, obj, headers=(), status_text=None):
        body = json.dumps(obj, indent=1).encode("utf-8") + b"\n"
        self._send(code, body, headers, "application/json; charset=UTF-8", status_text)

    def _base(self):
        scheme = "https" if self.server.ssl_ctx else "http"
        host = self.headers.get("Host")
        return "%s://%s" % (scheme, host) if host else self.d.base_url

    def _count(self, key):
        with self.d.lock:
            self.d._stats["endpoints"][key] += 1

    def _json_body(self, limit=1024 * 1024):
        raw = self._body.read_all(limit)
        if not raw.strip():
            return {}
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise DriveError(400, "parseError", "Parse Error") from None
        if not isinstance(obj, dict):
            raise DriveError(400, "parseError", "Parse Error")
        return obj

    def _all_drives(self):
        return self.q.get("supportsAllDrives", "").lower() == "true"

    # --- routing ------------------------------------------------------------------------------

    def _route(self, method, path):
        if path == "/token":
            self._count("POST /token" if method == "POST" else method + " /token")
            if method != "POST":
                raise OAuthError(405, "invalid_request", "Use POST")
            return self._token()
        if path == "/upload/drive/v3/files":
            if "upload_id" in self.q:
                self._count(method + " /upload/drive/v3/files?upload_id")
                return self._session_request(method)
            self._count(method + " /upload/drive/v3/files")
            if method == "POST":
                return self._initiate()
            raise DriveError(405, "methodNotAllowed", "Method Not Allowed")
        if path == "/drive/v3/files":
            self._count(method + " /drive/v3/files")
            if method == "GET":
                return self._list()
            raise DriveError(405, "methodNotAllowed",
                             "Only GET (list) is served on /drive/v3/files")
        m = re.fullmatch(r"/drive/v3/files/([^/]+)", path)
        if m:
            file_id = m.group(1)
            media = self.q.get("alt") == "media"
            self._count(method + " /drive/v3/files/{id}" + ("?alt=media" if media else ""))
            if method == "GET":
                return self._download(file_id) if media else self._get(file_id)
            if method == "DELETE":
                return self._delete(file_id)
            if method == "PATCH":
                return self._patch(file_id)
            raise DriveError(405, "methodNotAllowed", "Method Not Allowed")
        self._count("other")
        raise DriveError(404, "notFound", "Not Found")

    # --- OAuth --------------------------------------------------------------------------------

    def _token(self):
        d = self.d
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = self._body.read_all(64 * 1024)
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request",
                             "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(
                raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw)).items()}
        except (UnicodeDecodeError, ValueError):
            raise OAuthError(400, "invalid_request", "Malformed form body") from None
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            kind = "jwt_bearer"
        elif grant == "refresh_token":
            kind = "refresh_token"
        else:
            raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: %s" % grant)
        if d.faults.take("invalid_grant", match=lambda p: p.get("grant", "any") in ("any", kind)):
            raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        if kind == "jwt_bearer":
            record = self._verify_assertion(form.get("assertion", ""))
        else:
            record = self._verify_refresh(form)
        token = "ya29.dd-" + b64url_encode(secrets.token_bytes(30))
        lifetime = d.token_lifetime
        with d.lock:
            now = d.now()
            record.update({"grant": kind, "issued": now, "expires": now + lifetime})
            d._tokens[token] = record
            d._stats["token_grants"][kind] += 1
            d._stats["grants"].append({k: record.get(k) for k in
                                       ("grant", "principal", "sub", "scope")})
            del d._stats["grants"][:-200]
        self._send_json(200, {"access_token": token, "expires_in": lifetime,
                              "token_type": "Bearer"})

    def _verify_assertion(self, assertion):
        d = self.d
        parts = assertion.split(".")
        if len(parts) != 3:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: not three segments")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: bad base64url or JSON") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: segments must be objects")
        if header.get("alg") != "RS256":
            raise OAuthError(400, "invalid_grant", "Invalid JWT: alg must be RS256")
        if header.get("typ", "JWT") != "JWT":
            raise OAuthError(400, "invalid_grant", "Invalid JWT: typ must be JWT")
        with d.lock:
            account = d._service_accounts.get(claims.get("iss"))
        if account is None:
            raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
        kid = header.get("kid")
        if account["kid"] is not None and (kid is not None or d.require_kid):
            if kid != account["kid"]:
                raise OAuthError(400, "invalid_grant",
                                 "Invalid JWT Signature: unknown key id %r" % (kid,))
        if not rsa_verify_sha256(account["key"], (parts[0] + "." + parts[1]).encode("ascii"),
                                 signature):
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
        scope = claims.get("scope")
        if not isinstance(scope, str) or not set(scope.split()) & set(DRIVE_SCOPES):
            raise OAuthError(400, "invalid_scope",
                             "Invalid OAuth scope or ID token audience provided.")
        aud = claims.get("aud")
        if aud not in self._token_audiences(account):
            raise OAuthError(400, "invalid_grant",
                             "Invalid JWT: audience %r is not this token endpoint" % (aud,))
        iat, exp = claims.get("iat"), claims.get("exp")
        now = d.now()
        if type(iat) is not int or type(exp) is not int:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: iat and exp must be integers")
        if iat > now + d.clock_skew or exp <= iat or exp - iat > 3600 or exp <= now:
            raise OAuthError(
                400, "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.")
        sub = claims.get("sub")
        if sub is not None and not isinstance(sub, str):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: sub must be a string")
        return {"principal": claims["iss"], "sub": sub, "scope": scope,
                "service_account": True}

    def _token_audiences(self, account):
        d = self.d
        scheme = "https" if self.server.ssl_ctx else "http"
        auds = {d.token_url, self._base() + "/token", "%s://localhost:%d/token" % (scheme, d.port),
                "%s://127.0.0.1:%d/token" % (scheme, d.port)}
        if account.get("token_uri"):
            auds.add(account["token_uri"])
        return auds

    def _verify_refresh(self, form):
        d = self.d
        cid, secret, refresh = (form.get("client_id"), form.get("client_secret"),
                                form.get("refresh_token"))
        if not cid or not secret or not refresh:
            raise OAuthError(400, "invalid_request",
                             "client_id, client_secret and refresh_token are required")
        with d.lock:
            user = d._authorized_users.get(cid)
            if user is None or user["client_secret"] != secret:
                raise OAuthError(401, "invalid_client", "Unauthorized")
            if refresh not in user["refresh_tokens"]:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        return {"principal": cid, "sub": None, "scope": DRIVE_SCOPES[0],
                "service_account": False, "refresh_token": refresh}

    # --- API preamble -------------------------------------------------------------------------

    def _authorize(self, op):
        d = self.d
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise _unauthorized(
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.")
        token = auth[7:].strip()
        with d.lock:
            rec = d._tokens.get(token)
            if rec is None or rec["expires"] <= d.now():
                raise _unauthorized()
        if d.faults.take("unauthorized_once", op=op):
            with d.lock:
                d._tokens.pop(token, None)
            raise _unauthorized()
        f = d.faults.take("rate_limit", op=op)
        if f:
            status = int(f.get("status", 429))
            reason = f.get("reason", "rateLimitExceeded")
            headers = [("Retry-After", str(f["retry_after"]))] if "retry_after" in f else []
            message = {"userRateLimitExceeded": "User Rate Limit Exceeded"}.get(
                reason, "Rate Limit Exceeded")
            raise DriveError(status, reason, message, domain="usageLimits", headers=headers)
        f = d.faults.take("error", op=op)
        if f:
            headers = [("Retry-After", str(f["retry_after"]))] if "retry_after" in f else []
            raise DriveError(int(f.get("status", 500)), f.get("reason", "backendError"),
                             f.get("message", "Backend Error"), domain=f.get("domain", "global"),
                             headers=headers)
        return rec

    def _lookup_file(self, file_id):
        d = self.d
        with d.lock:
            rec = d._files.get(file_id)
        if rec is None or (rec.drive_id and not self._all_drives()):
            raise _not_found(file_id)
        return rec

    # --- resumable upload: initiation ---------------------------------------------------------

    def _initiate(self):
        d = self.d
        token = self._authorize("initiate")
        if self.q.get("uploadType") != "resumable":
            raise _bad_request("This endpoint serves uploadType=resumable only", "uploadType")
        fields = _fields_mask(self.q.get("fields"), _FILE_FIELDS, _DEFAULT_FILE_MASK)
        meta = self._json_body()
        name = meta.get("name", "Untitled")
        if not isinstance(name, str):
            raise _bad_request("name must be a string")
        parents = meta.get("parents", ["root"])
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise _bad_request("parents must be a list of folder ids")
        if len(parents) > 1:
            raise DriveError(403, "cannotAddParent",
                             "Increasing the number of parents is not allowed.")
        folder_id = parents[0] if parents else "root"
        with d.lock:
            folder = d._folders.get(folder_id)
        if folder is None or (folder["shared_drive"] and not self._all_drives()):
            raise _not_found(folder_id)
        app_props = self._validate_properties(meta.get("appProperties"), "appProperties")
        props = self._validate_properties(meta.get("properties"), "properties")
        mime = meta.get("mimeType") or self.headers.get("X-Upload-Content-Type") or \
            "application/octet-stream"
        created = None
        if "createdTime" in meta:
            try:
                created = parse_rfc3339(meta["createdTime"])
            except ValueError:
                raise _invalid("createdTime", "Invalid value for createdTime") from None
        declared = self.headers.get("X-Upload-Content-Length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise _bad_request("Invalid X-Upload-Content-Length", "X-Upload-Content-Length")
            declared = int(declared)
        if d.faults.take("quota_exceeded", op="initiate") or (
                token["service_account"] and not token["sub"] and not folder["shared_drive"]):
            raise DriveError(403, "storageQuotaExceeded", SA_QUOTA_MESSAGE, domain="usageLimits")
        sid = "ADPycd" + b64url_encode(secrets.token_bytes(36))
        path = os.path.join(d.data_dir, "sessions", sid)
        open(path, "wb").close()
        session = _Session(sid, {"name": name, "folder": folder_id, "mime_type": mime,
                                 "app_properties": app_props, "properties": props,
                                 "created_time": created, "fields": fields,
                                 "declared": declared, "principal": token["principal"]},
                           path, d.now(), d.session_lifetime)
        with d.lock:
            d._sessions[sid] = session
            d._stats["sessions_created"] += 1
        query = self.raw_query + ("&" if self.raw_query else "") + "upload_id=" + sid
        location = self._base() + "/upload/drive/v3/files?" + query
        self._send(200, b"", [("Location", location), ("X-GUploader-UploadID", sid)])

    def _validate_properties(self, value, location):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _bad_request("%s must be an object" % location, location)
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            if not isinstance(v, str):
                raise _bad_request("%s values must be strings" % location, location)
            if len(k.encode("utf-8")) + len(v.encode("utf-8")) > MAX_PROPERTY_BYTES:
                raise _bad_request(
                    "The %s key %r and its value exceed %d bytes (UTF-8)." %
                    (location, k, MAX_PROPERTY_BYTES), location)
            out[k] = v
        if len(out) > MAX_APP_PROPERTIES:
            raise _bad_request("A file may have at most %d %s per app." %
                               (MAX_APP_PROPERTIES, location), location)
        return out

    # --- resumable upload: session URI --------------------------------------------------------

    def _session_request(self, method):
        d = self.d
        sid = self.q["upload_id"]
        crange = self.headers.get("Content-Range")
        if method == "DELETE":
            op, parsed = "cancel", None
        elif method not in ("PUT", "POST"):
            raise DriveError(405, "methodNotAllowed", "Method Not Allowed")
        elif crange is None:
            # Without Content-Range the body is the whole content (or an empty-file finish).
            length = self._body.length
            if length is None:
                raise DriveError(411, "lengthRequired", "Chunks need a Content-Length")
            parsed = ("chunk", 0, length - 1, length) if length else ("status", 0)
            op = "chunk" if length else "status"
        else:
            try:
                parsed = _parse_content_range(crange)
            except ValueError:
                raise _bad_request("Invalid Content-Range header: " + crange,
                                   "Content-Range") from None
            op = parsed[0]
        self._authorize(op)
        session = d._get_session(sid)
        if session is None:
            raise DriveError(404, "notFound", "Upload session not found or expired.")
        self._session = session
        with session.lock:
            if session.state in ("cancelled", "expired"):
                raise DriveError(404, "notFound", "Upload session not found or expired.")
            if d.faults.take("expire_session"):
                d._drop_session(session, "expired")
                raise DriveError(404, "notFound", "Upload session not found or expired.")
            if op == "cancel":
                self._body.drain()
                d._drop_session(session, "cancelled")
                err = DriveError(499, "clientClosedRequest", "Client Closed Request")
                return self._send_json(499, err.body(), status_text="Client Closed Request")
            if session.state == "complete":
                if op == "status":
                    session.status_queries += 1
                    d._bump("status_queries")
                self._body.drain()
                return self._send_json(200, self._final_resource(session, False))
            if op == "status":
                return self._status_query(session, parsed[1])
            return self._chunk(session, *parsed[1:])

    def _send_308(self, session):
        headers = []
        if session.persisted > 0:
            headers.append(("Range", "bytes=0-%d" % (session.persisted - 1)))
        if (self.headers.get("X-GUploader-No-308") or "").lower() == "yes":
            headers.append(("X-Http-Status-Code-Override", "308"))
            return self._send(200, b"", headers)
        return self._send(308, b"", headers, status_text="Resume Incomplete")

    def _status_query(self, session, total):
        d = self.d
        with d.lock:
            d._stats["status_queries"] += 1
        session.status_queries += 1
        if not self._body.done() and self._body.read(1):
            raise _bad_request("A status query carries no body", "Content-Range")
        if total is not None:
            if session.total is not None and total != session.total:
                raise _bad_request("Content-Range total %d differs from the upload's %d" %
                                   (total, session.total), "Content-Range")
            if total < session.persisted:
                raise _bad_request("Content-Range total %d is below the %d bytes received" %
                                   (total, session.persisted), "Content-Range")
            session.total = total
            if total == session.persisted:
                return self._finalize(session)
        return self._send_308(session)

    def _chunk(self, session, start, end, total):
        d = self.d
        with d.lock:
            d._stats["chunk_requests"] += 1
        session.chunk_requests += 1
        n = session.chunk_requests
        if self._body.chunked:
            raise DriveError(411, "lengthRequired", "Chunks need a Content-Length")
        if end < start:
            raise _bad_request("Invalid Content-Range", "Content-Range")
        if self._body.length != end - start + 1:
            raise _bad_request("Content-Length %d does not match Content-Range bytes %d-%d" %
                               (self._body.length, start, end), "Content-Range")
        if total is not None:
            if end >= total:
                raise _bad_request("Content-Range end beyond total", "Content-Range")
            if session.total is not None and total != session.total:
                raise _bad_request("Content-Range total %d differs from the upload's %d" %
                                   (total, session.total), "Content-Range")
        elif session.total is not None and end >= session.total:
            raise _bad_request("Content-Range end beyond the declared length", "Content-Range")
        final = total is not None and end + 1 == total
        if not final and (end - start + 1) % CHUNK_GRANULARITY:
            raise _bad_request(
                "Invalid request. The number of bytes uploaded is required to be equal or "
                "greater than 262144, except for the final request (it's recommended to be the "
                "exact multiple of 262144). The received request contained %d bytes, which does "
                "not meet this requirement." % (end - start + 1), "Content-Range")
        if session.chunk_requests == 1 and d.faults.take("quota_exceeded", op="chunk"):
            raise DriveError(403, "storageQuotaExceeded", SA_QUOTA_MESSAGE, domain="usageLimits")
        if start > session.persisted:
            # A gap: answer with what is persisted so the client resumes from there.
            self._body.drain()
            return self._send_308(session)
        fail = d.faults.take("fail_chunk", op="chunk", chunk_no=n)
        reset = None if fail else d.faults.take("reset_chunk", op="chunk", chunk_no=n)
        short = None if (fail or reset) else d.faults.take("short_persist", op="chunk",
                                                           chunk_no=n)
        limit = end + 1
        if short:
            new = end + 1 - session.persisted
            keep = int(short.get("keep", new // 2))
            keep = min(keep, new - 1) // CHUNK_GRANULARITY * CHUNK_GRANULARITY
            limit = session.persisted + max(keep, 0)
        reset_after = None
        if reset:
            reset_after = int(reset.get("after", (end - start + 1) // 2))
            reset_after = max(0, min(reset_after, end - start))
        before = session.persisted
        md5_copy, sha_copy = session.md5.copy(), session.sha256.copy()
        written = before
        pos = start
        hasher = _PipelinedHash(session.md5, session.sha256)
        try:
            with open(session.path, "r+b") as f:
                f.seek(before)
                while pos <= end:
                    want = min(IO_BLOCK, end + 1 - pos)
                    if reset_after is not None:
                        want = min(want, start + reset_after - pos)
                        if want <= 0:
                            raise _Abort()
                    data = self._body.read(want)
                    lo, hi = max(pos, written), min(pos + len(data), limit)
                    if hi > lo:
                        piece = memoryview(data)[lo - pos:hi - pos]
                        f.write(piece)
                        hasher.update(piece)
                        written = hi
                    pos += len(data)
                if fail and not fail.get("persist", False):
                    raise DriveError(int(fail.get("status", 503)),
                                     fail.get("reason", "backendError"), "Backend Error")
            hasher.close()
        except BaseException:
            hasher.close()
            with open(session.path, "r+b") as f:
                f.truncate(before)
            session.md5, session.sha256 = md5_copy, sha_copy
            raise
        session.persisted = written
        with d.lock:
            d._stats["bytes_persisted"] += written - before
        if total is not None:
            session.total = total
        if fail:
            raise DriveError(int(fail.get("status", 503)), fail.get("reason", "backendError"),
                             "Backend Error")
        if final and session.persisted == total:
            return self._finalize(session)
        return self._send_308(session)

    def _finalize(self, session):
        d = self.d
        file_id = _new_drive_id()
        path = os.path.join(d.data_dir, "files", file_id)
        os.replace(session.path, path)
        with d.lock:
            folder = d._folders.get(session.folder, {"shared_drive": False, "drive_id": None})
        rec = _File(file_id, session.name, session.folder, session.mime_type, session.persisted,
                    session.md5.hexdigest(), session.sha256.hexdigest(), session.app_properties,
                    session.properties, session.created_time or d.now(), path,
                    folder["drive_id"] if folder["shared_drive"] else None)
        if d.faults.take("wrong_sha256"):
            rec.reported_sha256 = hashlib.sha256(rec.sha256.encode()).hexdigest()
        if d.faults.take("wrong_md5"):
            rec.reported_md5 = hashlib.md5(rec.md5.encode()).hexdigest()
        omit = d.faults.take("omit_sha256")
        if omit and omit.get("persistent"):
            rec.omit_sha256 = True
        omit_both = d.faults.take("omit_checksums")
        if omit_both and omit_both.get("persistent"):
            rec.omit_sha256 = rec.omit_md5 = True
        with d.lock:
            d._files[file_id] = rec
            d._stats["sessions_completed"] += 1
        session.state = "complete"
        session.file_id = file_id
        return self._send_json(200, self._final_resource(session, bool(omit) or bool(omit_both),
                                                         bool(omit_both)))

    def _final_resource(self, session, omit_sha256, omit_md5=False):
        with self.d.lock:
            rec = self.d._files.get(session.file_id)
        if rec is None:
            raise _not_found(session.file_id)
        return apply_fields(rec.resource(omit_sha256, omit_md5), session.fields)

    # --- files API ----------------------------------------------------------------------------

    def _list(self):
        d = self.d
        self._authorize("list")
        with d.lock:
            d._stats["lists"] += 1
        page_size = self.q.get("pageSize", "100")
        if not page_size.isdigit() or not 1 <= int(page_size) <= 1000:
            raise _invalid("pageSize", "Invalid value '%s'. Values must be within the range: "
                           "[1, 1000]" % page_size)
        page_size = int(page_size)
        include_all = self.q.get("includeItemsFromAllDrives", "").lower() == "true"
        if include_all and not self._all_drives():
            raise DriveError(403, "teamDrivesParameterNotSupported",
                             "The includeItemsFromAllDrives parameter can only be set to true if "
                             "the supportsAllDrives parameter is also set to true.",
                             location="includeItemsFromAllDrives")
        fields = _fields_mask(self.q.get("fields"), _LIST_FIELDS, _DEFAULT_LIST_MASK)
        try:
            pred = QueryParser(self.q.get("q", "")).compile()
        except ValueError:
            raise _invalid("q") from None
        order = self._order_key(self.q.get("orderBy", ""))
        token = self.q.get("pageToken")
        with d.lock:
            if token:
                ids = d._page_tokens.get(token)  # reusable: a client may retry a page
                if ids is None:
                    raise _invalid("pageToken")
            else:
                matching = [f for f in d._files.values()
                            if (include_all or not f.drive_id) and pred(f)]
                for key, reverse in reversed(order):
                    matching.sort(key=key, reverse=reverse)
                ids = [f.id for f in matching]
            short = d.faults.take("short_page", op="list")
            take = int(short.get("items", 0)) if short else page_size
            page, rest = [], list(ids)
            while rest and len(page) < min(take, page_size):
                f = d._files.get(rest.pop(0))
                if f is not None and pred(f):
                    page.append(f.resource())
            result = {"kind": "drive#fileList", "incompleteSearch": False, "files": page}
            if rest:
                next_token = b64url_encode(secrets.token_bytes(24))
                d._page_tokens[next_token] = rest
                while len(d._page_tokens) > 10000:
                    d._page_tokens.pop(next(iter(d._page_tokens)))
                result["nextPageToken"] = next_token
        self._send_json(200, apply_fields(result, fields))

    @staticmethod
    def _order_key(text):
        keys = {"createdTime": lambda f: f.created, "modifiedTime": lambda f: f.modified,
                "name": lambda f: f.name, "name_natural": lambda f: f.name,
                "folder": lambda f: f.parents[0]}
        order = []
        for part in [p.strip() for p in text.split(",") if p.strip()]:
            words = part.split()
            if words[0] not in keys or len(words) > 2 or (len(words) == 2 and
                                                          words[1].lower() != "desc"):
                raise _invalid("orderBy")
            order.append((keys[words[0]], len(words) == 2))
        order.append((lambda f: f.created, False))
        order.append((lambda f: f.id, False))
        return order

    def _get(self, file_id):
        d = self.d
        self._authorize("get")
        fields = _fields_mask(self.q.get("fields"), _FILE_FIELDS, _DEFAULT_FILE_MASK)
        rec = self._lookup_file(file_id)
        with d.lock:
            d._stats["gets"] += 1
            resource = rec.resource()
        self._send_json(200, apply_fields(resource, fields))

    def _download(self, file_id):
        d = self.d
        self._authorize("download")
        rec = self._lookup_file(file_id)
        size = rec.size
        start, end, status = 0, size - 1, 200
        headers = [("Accept-Ranges", "bytes")]
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", rng)
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:
                    start, end = max(0, size - int(m.group(2))), size - 1
                if start >= size or end < start:
                    raise DriveError(416, "requestedRangeNotSatisfiable",
                                     "Request range not satisfiable",
                                     headers=[("Content-Range", "bytes */%d" % size)])
                status = 206
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
        reset = d.faults.take("reset_download", op="download")
        corrupt = d.faults.take("corrupt_download", op="download")
        with d.lock:
            d._stats["downloads"] += 1
        length = end - start + 1 if size else 0
        self._status = status
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", rec.mime_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        sent = 0
        limit = length
        if reset:
            limit = max(0, min(int(reset.get("after", length // 2)), length))
        with open(rec.path, "rb") as f:
            f.seek(start)
            while sent < limit:
                data = f.read(min(IO_BLOCK, limit - sent))
                if not data:
                    break
                if corrupt and sent == 0:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                self.wfile.write(data)
                sent += len(data)
                with d.lock:
                    d._stats["download_bytes"] += len(data)
        if reset:
            raise _Abort()

    def _delete(self, file_id):
        d = self.d
        self._authorize("delete")
        f = d.faults.take("delete_fails", op="delete")
        if f:
            raise DriveError(int(f.get("status", 500)), f.get("reason", "backendError"),
                             "Backend Error")
        rec = self._lookup_file(file_id)
        with d.lock:
            d._files.pop(file_id, None)
            d._stats["deletes"] += 1
        try:
            os.unlink(rec.path)
        except FileNotFoundError:
            pass
        self._send(204)

    def _patch(self, file_id):
        d = self.d
        self._authorize("patch")
        fields = _fields_mask(self.q.get("fields"), _FILE_FIELDS, _DEFAULT_FILE_MASK)
        rec = self._lookup_file(file_id)
        body = self._json_body()
        with d.lock:
            if "trashed" in body:
                if not isinstance(body["trashed"], bool):
                    raise _bad_request("trashed must be a boolean")
                rec.trashed = body["trashed"]
            if "starred" in body:
                rec.starred = bool(body["starred"])
            if "name" in body:
                if not isinstance(body["name"], str):
                    raise _bad_request("name must be a string")
                rec.name = body["name"]
            for key, attr in (("appProperties", "app_properties"), ("properties", "properties")):
                if key in body:
                    if not isinstance(body[key], dict):
                        raise _bad_request("%s must be an object" % key, key)
                    merged = dict(getattr(rec, attr))
                    for k, v in body[key].items():
                        if v is None:
                            merged.pop(k, None)
                        else:
                            merged[k] = v
                    setattr(rec, attr, self._validate_properties(merged, key))
            rec.modified = d.now()
            rec.version += 1
            d._stats["patches"] += 1
            resource = rec.resource()
        self._send_json(200, apply_fields(resource, fields))

    # --- /_control ----------------------------------------------------------------------------

    def _control(self, method, path):
        d = self.d
        try:
            body = json.loads(self._body.read_all(1 << 30) or b"{}") if method != "GET" else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            route = (method, path.rstrip("/"))
            if route == ("GET", "/_control/stats"):
                out = d.stats()
            elif route == ("POST", "/_control/reset_stats"):
                d.reset_stats()
                out = {}
            elif route == ("GET", "/_control/files"):
                out = d.files(self.q.get("folder"))
            elif route == ("POST", "/_control/files"):
                data = base64.b64decode(body.get("content_b64", ""))
                out = d.add_file(body["folder"], body["name"], data,
                                 app_properties=body.get("appProperties"),
                                 created_time=body.get("createdTime"),
                                 mime_type=body.get("mimeType", "application/octet-stream"))
            elif route == ("GET", "/_control/faults"):
                out = d.faults.active()
            elif route == ("POST", "/_control/faults"):
                params = dict(body)
                name = params.pop("name")
                d.faults.set(name, params.pop("count", 1), **params)
                out = d.faults.active()
            elif route == ("DELETE", "/_control/faults"):
                d.faults.clear(self.q.get("name"))
                out = {}
            elif route == ("POST", "/_control/folders"):
                d.add_folder(body["id"], body.get("shared_drive", True))
                out = {}
            elif route == ("POST", "/_control/service_accounts"):
                out = {"client_email": d.register_service_account(
                    body.get("path") or body, client_email=body.get("client_email"),
                    private_key_id=body.get("private_key_id"),
                    token_uri=body.get("token_uri"))}
            elif route == ("POST", "/_control/authorized_users"):
                d.add_authorized_user(body["client_id"], body["client_secret"],
                                      body["refresh_token"])
                out = {}
            elif route == ("POST", "/_control/tokens/revoke"):
                d.revoke_tokens(refresh_token=body.get("refresh_token"))
                out = {}
            elif route == ("POST", "/_control/config"):
                for key in ("token_lifetime", "session_lifetime", "clock_skew"):
                    if key in body:
                        setattr(d, key, int(body[key]))
                if "require_kid" in body:
                    d.require_kid = bool(body["require_kid"])
                out = {}
            elif route == ("POST", "/_control/time"):
                d.advance_time(float(body.get("advance", 0)))
                out = {"now": d.now()}
            elif route == ("GET", "/_control/requests"):
                out = d.requests()
            else:
                return self._send_json(404, {"error": "unknown control route"})
        except (KeyError, ValueError, TypeError) as e:
            return self._send_json(400, {"error": "%s: %s" % (type(e).__name__, e)})
        self._send_json(200, out)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, double, ssl_ctx):
        self.double = double
        self.ssl_ctx = ssl_ctx
        self.conns = set()
        self.conns_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            try:
                request.settimeout(30)
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                # The client refused the certificate or went away during the handshake.
                try:
                    request.close()
                except OSError:
                    pass
                return
        with self.conns_lock:
            self.conns.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self.conns_lock:
                self.conns.discard(request)
            if self.ssl_ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        if self.double.verbose:
            super().handle_error(request, client_address)


# ---------------------------------------------------------------------------------------------
# The double


class DriveDouble:
    """An in-process Drive double. ``start()`` serves on a thread; ``stop()`` ends it.

    State is guarded by ``lock``; tests read it through stats(), files() and friends.
    """

    def __init__(self, host="127.0.0.1", port=0, tls_cert=None, tls_key=None, data_dir=None,
                 token_lifetime=3599, session_lifetime=7 * 86400, clock_skew=300,
                 require_kid=True, verbose=False):
        self.host, self._req_port = host, port
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.token_lifetime = token_lifetime
        self.session_lifetime = session_lifetime
        self.clock_skew = clock_skew
        self.require_kid = require_kid
        self.verbose = verbose
        self._own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="drive-double-")
        os.makedirs(os.path.join(self.data_dir, "sessions"), exist_ok=True)
        os.makedirs(os.path.join(self.data_dir, "files"), exist_ok=True)
        self.lock = threading.RLock()
        self.faults = Faults()
        self._time_offset = 0.0
        self._folders = {"root": {"id": "root", "shared_drive": False, "drive_id": None}}
        self._files = {}
        self._sessions = {}
        self._tokens = {}
        self._page_tokens = {}
        self._service_accounts = {}
        self._authorized_users = {}
        self._stats = _new_stats()
        self._log = collections.deque(maxlen=2000)
        self._server = None
        self._thread = None
        self.port = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self):
        ctx = None
        if self.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            ctx.set_alpn_protocols(["http/1.1"])
        self._server = _Server((self.host, self._req_port), self, ctx)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="drive-double")
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._server.conns_lock:
                conns = list(self._server.conns)
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._thread.join(5)
            self._server = None
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def scheme(self):
        return "https" if self.tls_cert else "http"

    @property
    def base_url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (self.scheme, host, self.port)

    @property
    def token_url(self):
        return self.base_url + "/token"

    def now(self):
        return time.time() + self._time_offset

    def advance_time(self, seconds):
        """Move the double's clock (token and session expiry) forward."""
        with self.lock:
            self._time_offset += seconds

    # --- configuration ------------------------------------------------------------------------

    def add_folder(self, folder_id, shared_drive=True):
        """A folder uploads may target. Shared-drive folders need supportsAllDrives=true; a
        service account without ``sub`` cannot upload into a non-shared one (no quota)."""
        drive_id = "0A" + hashlib.sha256(folder_id.encode()).hexdigest()[:17] \
            if shared_drive else None
        with self.lock:
            self._folders[folder_id] = {"id": folder_id, "shared_drive": bool(shared_drive),
                                        "drive_id": drive_id}

    def register_service_account(self, source, client_email=None, private_key_id=None,
                                 token_uri=None):
        """Register a service account from a key JSON (path or dict) or a PEM key (path or
        text, public or private) with ``client_email``. Returns the client_email."""
        info = source
        if isinstance(source, str) and not source.lstrip().startswith("-----"):
            with open(source, encoding="utf-8") as f:
                text = f.read()
            info = json.loads(text) if text.lstrip().startswith("{") else text
        if isinstance(info, dict):
            pem = info.get("public_key_pem") or info.get("private_key")
            client_email = client_email or info.get("client_email")
            private_key_id = private_key_id or info.get("private_key_id")
            token_uri = token_uri or info.get("token_uri")
        else:
            pem = info
        if not pem or not client_email:
            raise ValueError("a service account needs a key and a client_email")
        key = load_rsa_public_key(pem)
        with self.lock:
            self._service_accounts[client_email] = {"key": key, "kid": private_key_id,
                                                    "token_uri": token_uri}
        return client_email

    def make_service_account(self, directory, client_email=DEFAULT_SA_EMAIL):
        return make_service_account(directory, client_email, double=self)

    def add_authorized_user(self, client_id, client_secret, refresh_token):
        with self.lock:
            user = self._authorized_users.setdefault(
                client_id, {"client_secret": client_secret, "refresh_tokens": set()})
            user["client_secret"] = client_secret
            user["refresh_tokens"].add(refresh_token)

    def make_authorized_user(self, directory, **kw):
        return make_authorized_user(directory, double=self, **kw)

    def issue_token(self, principal="test@example.com", service_account=False, sub=None,
                    lifetime=None):
        """An access token without a grant, for tests that are not about OAuth."""
        token = "ya29.dd-" + b64url_encode(secrets.token_bytes(30))
        with self.lock:
            self._tokens[token] = {"principal": principal, "sub": sub, "scope": DRIVE_SCOPES[0],
                                   "service_account": service_account, "grant": "issued",
                                   "issued": self.now(),
                                   "expires": self.now() + (lifetime or self.token_lifetime)}
        return token

    def revoke_tokens(self, refresh_token=None):
        """Revoke every access token; with ``refresh_token``, revoke that refresh token too."""
        with self.lock:
            self._tokens.clear()
            if refresh_token is not None:
                for user in self._authorized_users.values():
                    user["refresh_tokens"].discard(refresh_token)

    def set_fault(self, name, count=1, **params):
        self.faults.set(name, count, **params)

    def clear_faults(self):
        self.faults.clear()

    def add_file(self, folder, name, data=b"", app_properties=None, created_time=None,
                 mime_type="application/octet-stream"):
        """Put a file straight into a folder (no upload); returns its summary."""
        file_id = _new_drive_id()
        path = os.path.join(self.data_dir, "files", file_id)
        with open(path, "wb") as f:
            f.write(data)
        created = created_time if isinstance(created_time, (int, float)) else (
            parse_rfc3339(created_time) if created_time else self.now())
        with self.lock:
            fold = self._folders.get(folder)
            if fold is None:
                raise ValueError("unknown folder " + folder)
            rec = _File(file_id, name, folder, mime_type, len(data), hashlib.md5(data).hexdigest(),
                        hashlib.sha256(data).hexdigest(), app_properties or {}, {}, created, path,
                        fold["drive_id"])
            self._files[file_id] = rec
            return rec.summary()

    # --- inspection ---------------------------------------------------------------------------

    def stats(self):
        with self.lock:
            out = copy.deepcopy(self._stats)
            out["endpoints"] = dict(self._stats["endpoints"])
            out["sessions"] = {sid: s.summary() for sid, s in self._sessions.items()}
            out["sessions_active"] = sum(1 for s in self._sessions.values()
                                         if s.state == "active")
            folders = {fid: [] for fid in self._folders}
            for f in self._files.values():
                folders.setdefault(f.parents[0], []).append(
                    {"id": f.id, "name": f.name, "size": f.size, "sha256": f.sha256,
                     "trashed": f.trashed})
            out["folders"] = folders
            out["files"] = len(self._files)
        out["faults_fired"] = dict(self.faults.fired)
        return out

    def reset_stats(self):
        with self.lock:
            self._stats = _new_stats()
            for s in self._sessions.values():
                s.bytes_received = s.chunk_requests = s.status_queries = 0
        self.faults.fired.clear()

    def files(self, folder=None):
        """Summaries of stored files (optionally of one folder), sha256 of the stored bytes."""
        with self.lock:
            return [f.summary() for f in sorted(self._files.values(), key=lambda f: f.created)
                    if folder is None or f.parents[0] == folder]

    def file_bytes(self, file_id):
        with self.lock:
            path = self._files[file_id].path
        with open(path, "rb") as f:
            return f.read()

    def requests(self):
        with self.lock:
            return list(self._log)

    # --- internals used by the handler --------------------------------------------------------

    def _bump(self, key, n=1):
        with self.lock:
            self._stats[key] += n

    def _get_session(self, sid):
        with self.lock:
            s = self._sessions.get(sid)
            if s is not None and s.state == "active" and s.expires_at <= self.now():
                self._drop_session(s, "expired")
            if s is None or s.state in ("cancelled", "expired"):
                return None
            return s

    def _drop_session(self, session, state):
        with self.lock:
            session.state = state
            self._stats["sessions_" + state] += 1
        try:
            os.unlink(session.path)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------------------------------------
# Running the double as a process


class ControlClient:
    """Drives a double running as a process through its /_control API."""

    def __init__(self, base_url, ca_file=None):
        self.url = urllib.parse.urlsplit(base_url)
        self.ctx = ssl.create_default_context(cafile=ca_file) if self.url.scheme == "https" \
            else None

    def call(self, method, path, body=None):
        if self.ctx is not None:
            conn = http.client.HTTPSConnection(self.url.hostname, self.url.port, timeout=30,
                                               context=self.ctx)
        else:
            conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, data, {"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            out = json.loads(resp.read() or b"null")
            if resp.status != 200:
                raise RuntimeError("control %s %s: %s" % (method, path, out))
            return out
        finally:
            conn.close()

    def add_folder(self, folder_id, shared_drive=True):
        return self.call("POST", "/_control/folders", {"id": folder_id,
                                                        "shared_drive": shared_drive})

    def set_fault(self, name, count=1, **params):
        return self.call("POST", "/_control/faults", dict(params, name=name, count=count))

    def clear_faults(self):
        return self.call("DELETE", "/_control/faults")

    def stats(self):
        return self.call("GET", "/_control/stats")

    def files(self, folder=None):
        q = "?folder=" + urllib.parse.quote(folder) if folder else ""
        return self.call("GET", "/_control/files" + q)


class DoubleProcess:
    """``python3 drive_double.py`` as a child process; ``port`` is known once it listens."""

    def __init__(self, args=(), ca_file=None, timeout=20):
        cmd = [sys.executable, os.path.abspath(__file__), "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and not line.startswith("listening "):
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("drive double exited with %s" % self.proc.returncode)
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError("drive double did not start")
        self.port = int(line.split()[1])
        self.scheme = "https" if "--tls-cert" in args else "http"
        self.base_url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.control = ControlClient(self.base_url, ca_file)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description="Google Drive v3 + OAuth token endpoint double")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--service-account-key", action="append", default=[],
                    help="service-account JSON key file, or EMAIL[,KID]=PEM (public or private)")
    ap.add_argument("--authorized-user", action="append", default=[],
                    help="CLIENT_ID:CLIENT_SECRET:REFRESH_TOKEN")
    ap.add_argument("--folder", action="append", default=[],
                    help="folder id (a shared-drive folder); ID:mydrive for a My Drive folder")
    ap.add_argument("--token-lifetime", type=int, default=3599, help="expires_in of tokens")
    ap.add_argument("--session-lifetime", type=int, default=7 * 86400)
    ap.add_argument("--no-require-kid", action="store_true",
                    help="accept JWTs whose header has no kid")
    ap.add_argument("--data-dir", help="keep stored bytes here (default: a temporary directory)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    double = DriveDouble(args.host, args.port, args.tls_cert, args.tls_key, args.data_dir,
                         token_lifetime=args.token_lifetime,
                         session_lifetime=args.session_lifetime,
                         require_kid=not args.no_require_kid, verbose=args.verbose)
    try:
        for spec in args.service_account_key:
            m = re.fullmatch(r"([^=,]+@[^=,]+)(?:,([^=]+))?=(.+)", spec)
            if m:
                double.register_service_account(m.group(3), client_email=m.group(1),
                                                private_key_id=m.group(2))
            else:
                double.register_service_account(spec)
        for spec in args.authorized_user:
            parts = spec.split(":", 2)
            if len(parts) != 3:
                ap.error("--authorized-user wants CLIENT_ID:CLIENT_SECRET:REFRESH_TOKEN")
            double.add_authorized_user(*parts)
        for spec in args.folder:
            fid, _, kind = spec.partition(":")
            double.add_folder(fid, shared_drive=(kind != "mydrive"))
    except (OSError, ValueError) as e:
        ap.error(str(e))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    double.start()
    print("listening %d" % double.port, flush=True)
    while not stop.wait(1):
        pass
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

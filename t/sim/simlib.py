"""Shared pieces of the test simulators (lfv_sim, imds_sim, container_sim, sts_sim,
dns_sim).

Standard library only at import time, so imds_sim and container_sim start
fast; the certificates need python3-cryptography and the SigV4 check
python3-botocore, imported when first used (Debian's /usr/bin/python3 has both).
What lives here:
  * atomic file writes and the DIR/ready protocol,
  * a threaded HTTP server plus a run loop that exits cleanly on SIGTERM/SIGINT,
  * a base request handler (body framing incl. chunked, response helpers),
  * the shared keys file (what lfv_sim accepts) and credential issuing/rotation,
  * counters, fault injection and the /_sim/* control API of the credential sims,
  * the journal (DIR/journal.jsonl) of lfv_sim and sts_sim,
  * a throwaway CA and server certificate, and an HTTPS server that can also
    serve its /_sim/* control API in plain HTTP on the same port,
  * the SigV4 check, done by botocore's SigV4Auth (lfv_sim, sts_sim),
  * a wall clock that a test may step (LFV_SIM_CLOCK), shared with an nginx
    under libfaketime.
"""

import base64
import datetime
import fcntl
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import re
import secrets
import select
import signal
import socket
import ssl
import string
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

MAX_BODY = 8 * 1024 * 1024      # refuse request bodies larger than this
HANG_LIMIT = 30.0               # a "hang" fault never holds a connection longer
OVERSIZE = 1024 * 1024          # size of an "oversize" fault body


# ---------------------------------------------------------------- the clock

# LFV_SIM_CLOCK names a file holding an offset in seconds ("+7200", "-60"),
# the relative form libfaketime reads from FAKETIME_TIMESTAMP_FILE: a test
# that steps nginx's wall clock steps the simulators' with the same file,
# as a VM's suspend or an NTP step moves every clock on the host.  Only the
# wall clock moves; sleeps and timeouts use the monotonic clock.

_CLOCK_FILE = os.environ.get('LFV_SIM_CLOCK')


def _clock_offset():
    try:
        with open(_CLOCK_FILE) as f:
            m = re.fullmatch(r'([+-]?\d+)s?', f.read().strip())
    except OSError:
        return 0.0
    return float(m.group(1)) if m else 0.0


if _CLOCK_FILE:
    _real_time = time.time
    time.time = lambda: _real_time() + _clock_offset()


# ---------------------------------------------------------------- files

def write_atomic(path, data, mode=0o644):
    """Write via temp file + rename so readers never see a partial file."""
    if isinstance(data, str):
        data = data.encode()
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.' + os.path.basename(path) + '.')
    try:
        os.fchmod(fd, mode)             # mkstemp makes 0600; nginx may run as another user
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path, default):
    """Read a JSON file; a missing or unreadable file yields `default`."""
    try:
        with open(path, 'rb') as f:
            return json.loads(f.read() or b'null') or default
    except (OSError, ValueError):
        return default


def iso_z(epoch):
    """RFC 3339 UTC with a Z suffix, as IMDS/ECS print Expiration."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


# ---------------------------------------------------------------- keys file

class KeysFile:
    """The JSON map {akid: {secret, token, expires}} that lfv_sim accepts.

    Several simulators may share one file, so updates are serialised with an
    flock on FILE.lock and always written atomically. Expired entries are
    dropped on every update so the file holds exactly the valid keys.
    """

    def __init__(self, path):
        self.path = path
        self.lock_path = path + '.lock'
        self._tlock = threading.Lock()   # flock is per process, not per thread

    def update(self, add=None, remove=()):
        with self._tlock, open(self.lock_path, 'a') as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            keys = read_json(self.path, {})
            before = json.dumps(keys, sort_keys=True)
            now = time.time()
            keys = {k: v for k, v in keys.items()
                    if k not in remove and (v.get('expires') is None or v['expires'] > now)}
            keys.update(add or {})
            if json.dumps(keys, sort_keys=True) != before or not os.path.exists(self.path):
                write_atomic(self.path, json.dumps(keys, indent=1, sort_keys=True) + '\n')
            return keys


def _rand(alphabet, n):
    return ''.join(secrets.choice(alphabet) for _ in range(n))


def new_keyset(ttl, now=None, token_bytes=301):
    """A fresh temporary key set shaped like STS output.

    The secret and token contain '/', '+' and '=' like real ones, so the module
    must treat them as opaque bytes. token_bytes: 301 gives a 404-char token
    ending in '=='; 3k+1 bytes always do.
    """
    now = time.time() if now is None else now
    return {
        'AccessKeyId': 'ASIA' + _rand(string.ascii_uppercase + string.digits, 16),
        'SecretAccessKey': _rand(string.ascii_letters + string.digits + '/+', 40),
        'Token': base64.b64encode(os.urandom(token_bytes)).decode(),
        'issued': int(now),
        'expires': int(now + ttl),
    }


def keys_entry(ks, **extra):
    """The keys file entry of key set `ks`: {akid: {secret, token, expires, **extra}}."""
    entry = {'secret': ks['SecretAccessKey'], 'token': ks['Token'], 'expires': ks['expires']}
    entry.update(extra)
    return {ks['AccessKeyId']: entry}


class Issuer:
    """Holds the current key set, rotates it and mirrors it into the keys file.

    rotate > 0: a new set every `rotate` seconds. Independently, a set is
    replaced once it has expired (the real services never hand out stale
    credentials). Older sets stay valid in the keys file until they expire.
    """

    def __init__(self, keys_file, ttl, rotate=0):
        self.keys = keys_file
        self.ttl = ttl
        self.rotate_every = rotate
        self.lock = threading.Lock()
        self.current = None
        self.next_rotation = None
        self.rotate()
        threading.Thread(target=self._loop, daemon=True).start()

    def rotate(self):
        ks = new_keyset(self.ttl)
        self.keys.update(add=keys_entry(ks))
        with self.lock:
            self.current = ks
            if self.rotate_every > 0:
                self.next_rotation = time.time() + self.rotate_every
        return ks

    def get(self):
        with self.lock:
            ks = self.current
        if ks['expires'] <= time.time():
            ks = self.rotate()
        return ks

    def _loop(self):
        while True:
            time.sleep(0.5)
            try:
                due = self.next_rotation is not None and time.time() >= self.next_rotation
                if due or self.current['expires'] <= time.time():
                    self.rotate()
                else:
                    self.keys.update()          # prune expired entries
            except Exception as e:              # keep rotating whatever happens
                log('issuer: %r' % (e,))


# ---------------------------------------------------------------- faults, counters

FAULT_KINDS = ('none', '500', 'hang', 'garbage', 'reset', 'oversize', 'expired',
               'exact')        # of the credential sims (imds_sim, container_sim)


class Faults:
    """Per-target fault switch. An optional count limits it to the next N hits.

    kinds: the fault kinds this simulator knows. check(kind, params) -> dict
    validates a simulator's own fault parameters (the JSON members of
    POST /_sim/fault other than kind, target, count and size, plus size) and
    returns those to keep with the fault, or raises ValueError; without it
    they are ignored. Every set() bumps the serial of the targets it sets, so
    a hanging request can tell that its fault was changed.
    """

    def __init__(self, targets, kinds=FAULT_KINDS, check=None):
        self.targets = tuple(targets)
        self.kinds = tuple(kinds)
        self.check = check
        self.lock = threading.Lock()
        self.state = {t: ('none', None, {}) for t in self.targets}
        self.serials = dict.fromkeys(self.targets, 0)
        self.size = 0                   # of the whole "exact" response

    def set(self, kind, target, count=None, size=None, **params):
        if kind not in self.kinds:
            raise ValueError('kind must be one of %s' % '|'.join(self.kinds))
        if target != 'all' and target not in self.targets:
            raise ValueError('target must be one of %s|all' % '|'.join(self.targets))
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError('count must be a positive integer')
        if kind == 'exact' and (not isinstance(size, int) or not 1024 <= size <= OVERSIZE):
            raise ValueError('"exact" needs a size from 1024 to %d' % OVERSIZE)
        kept = {}
        if self.check:
            if size is not None:
                params['size'] = size
            kept = self.check(kind, params)
        with self.lock:
            self.size = size or 0
            for t in (self.targets if target == 'all' else (target,)):
                self.state[t] = (kind, count, kept)
                self.serials[t] += 1

    def take_params(self, target):
        """(kind, params, serial) of the fault to apply to this request
        (consumes one use of a counted fault)."""
        with self.lock:
            kind, count, params = self.state[target]
            if count is not None:
                self.state[target] = ('none', None, {}) if count <= 1 else (kind, count - 1, params)
            return kind, dict(params), self.serials[target]

    def take(self, target):
        """The fault kind to apply to this request (consumes one use of a counted fault)."""
        return self.take_params(target)[0]

    def serial(self, target):
        with self.lock:
            return self.serials[target]

    def snapshot(self):
        with self.lock:
            return {t: dict(p, kind=k, count=c) for t, (k, c, p) in self.state.items()}


class Counters:
    def __init__(self, names):
        self.names = tuple(names) + ('total',)
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.c = dict.fromkeys(self.names, 0)

    def hit(self, name=None, total=True):
        """Count one request of kind `name`; total counts every service request."""
        with self.lock:
            if name:
                self.c[name] += 1
            if total:
                self.c['total'] += 1

    def snapshot(self):
        with self.lock:
            return dict(self.c)


# ---------------------------------------------------------------- HTTP plumbing

def log(msg):
    print(msg, flush=True, file=sys.stderr)


class BadRequest(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


class ThreadedServer(http.server.ThreadingHTTPServer):
    daemon_threads = True           # hanging handlers must not block exit
    allow_reuse_address = True
    block_on_close = False
    # socketserver's default backlog is 5: a burst of nginx's upstream
    # connections overflows it and waits for SYN retries (1 s, 3 s, ...)
    request_queue_size = 1024

    def __init__(self, port, handler, **state):
        self.stopping = threading.Event()
        self.verbose = False
        self.__dict__.update(state)
        super().__init__(('127.0.0.1', port), handler)

    def handle_error(self, request, client_address):
        # A client hanging up mid-answer is normal in fault tests: no traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            if self.verbose:
                log('%s:%d went away: %s' % (client_address + (sys.exc_info()[1],)))
            return
        super().handle_error(request, client_address)


class BaseHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler with body framing and response helpers."""

    protocol_version = 'HTTP/1.1'
    timeout = 120                   # idle keep-alive connections are dropped after this

    def version_string(self):
        return 'sim'                # Server: header

    def log_message(self, fmt, *args):
        if self.server.verbose:
            log('%s %s' % (self.address_string(), fmt % args))

    # Route every method to one entry point; subclasses implement dispatch().
    def do_GET(self):
        self.dispatch()
    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        """Return the request body, honouring chunked transfer coding.

        Sets self.transfer to 'chunked', 'length' or 'none' for the journal.
        """
        te = self.headers.get_all('Transfer-Encoding') or []
        if te:
            if [v.strip().lower() for v in ','.join(te).split(',')] != ['chunked']:
                raise BadRequest(501, 'unsupported Transfer-Encoding %r' % te)
            self.transfer = 'chunked'
            return self._read_chunked()
        cls = set(v.strip() for v in (self.headers.get_all('Content-Length') or []))
        if not cls:
            self.transfer = 'none'
            return b''
        if len(cls) != 1 or not next(iter(cls)).isdigit():
            raise BadRequest(400, 'bad Content-Length %r' % sorted(cls))
        n = int(next(iter(cls)))
        if n > MAX_BODY:
            raise BadRequest(413, 'body too large')
        self.transfer = 'length'
        body = self.rfile.read(n)
        if len(body) != n:
            raise BadRequest(400, 'body shorter than Content-Length')
        return body

    def _read_chunked(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b'\n'):
                raise BadRequest(400, 'bad chunk size line')
            size = line.split(b';', 1)[0].strip()
            try:
                n = int(size, 16)
            except ValueError:
                raise BadRequest(400, 'bad chunk size %r' % size)
            if n == 0:
                break
            if len(out) + n > MAX_BODY:
                raise BadRequest(413, 'body too large')
            out += self.rfile.read(n)
            if self.rfile.read(2) != b'\r\n':
                raise BadRequest(400, 'chunk not followed by CRLF')
        while True:                     # trailer section ends with an empty line
            line = self.rfile.readline(8192)
            if line in (b'\r\n', b'\n', b''):
                return bytes(out)

    def send(self, status, body=b'', ctype='application/json', headers=()):
        """Send a complete response with an exact Content-Length."""
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        self.send(status, json.dumps(obj) + '\n', 'application/json', headers)

    def reset_connection(self):
        """Close the TCP connection with an RST (SO_LINGER 0), sending nothing."""
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.rfile.close()              # drop the makefile reference so close() is real
        sock.close()
        self.close_connection = True

    def hang(self, limit=HANG_LIMIT, release=None):
        """Send nothing until the client gives up (or LIMIT s / shutdown).

        release: a callable polled every 0.25 s; when it returns true the
        hang ends and hang() returns True, so the caller answers after all.
        Otherwise (the client closed its side, LIMIT passed, the server
        stops) the connection is to be closed unanswered: returns False.
        Works on TLS sockets too: a peer's close is seen as POLLRDHUP,
        without reading what it sent (pipelined data, a close_notify).
        """
        deadline = time.monotonic() + limit
        poller = select.poll()
        poller.register(self.connection, select.POLLIN | select.POLLRDHUP)
        gone = select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            if release is not None and release():
                return True
            events = poller.poll(250)
            if any(ev & gone for _, ev in events):
                break                   # client closed its side
            if events:
                time.sleep(0.25)        # pipelined data: keep ignoring it
        self.close_connection = True
        return False


DELAY_MAX = 60


def fault_param_check(kind, params, allowed):
    """The parameters POST /_sim/fault may give for a kind: those of
    "allowed" ({kind: (names)}); "delay" takes "seconds" from 0 to
    DELAY_MAX.  Returns the checked ones; ValueError otherwise."""
    names = allowed.get(kind, ())
    extra = sorted(set(params) - set(names))
    if extra:
        raise ValueError('fault %r takes no %s' % (kind, ', '.join(extra)))
    if kind == 'delay':
        s = params.get('seconds')
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= DELAY_MAX:
            raise ValueError('"delay" needs "seconds" from 0 to %d' % DELAY_MAX)
        return {'seconds': s}
    return None


class ControlHandler(BaseHandler):
    """Base of the simulators with a /_sim/* control API, counters and faults.

    Subclasses set server.faults/counters and implement handle_service(body);
    control_sim(route, req) adds their own control endpoints; control_allowed()
    says whether this connection may reach the control API at all.
    """

    def dispatch(self):
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            return self.bad_framing(e)
        path = self.path.split('?', 1)[0]
        if path.startswith('/_sim/') and self.control_allowed():
            return self.control(path, body)
        self.handle_service(body)

    def control_allowed(self):
        """True: /_sim/* is the control API on this connection (all of them by
        default); else such a path is a service request like any other."""
        return True

    def bad_framing(self, e):
        """Answer a request whose body could not be read (the connection closes)."""
        self.send(e.status, str(e) + '\n', 'text/plain')

    # -- control API (never counted, never faulted)
    def control(self, path, body):
        srv = self.server
        try:
            req = json.loads(body) if body.strip() else {}
        except ValueError:
            return self.send_json(400, {'error': 'body is not JSON'})
        route = (self.command, path)
        if route == ('GET', '/_sim/counters'):
            return self.send_json(200, srv.counters.snapshot())
        if route == ('POST', '/_sim/reset'):
            srv.counters.reset()
            return self.send_json(200, srv.counters.snapshot())
        if route == ('GET', '/_sim/fault'):
            return self.send_json(200, srv.faults.snapshot())
        if route == ('POST', '/_sim/fault'):
            try:
                extra = {k: v for k, v in req.items() if k not in ('kind', 'target', 'count', 'size')}
                srv.faults.set(req.get('kind', 'none'), req.get('target', 'all'), req.get('count'),
                               req.get('size'), **extra)
            except (ValueError, AttributeError) as e:
                return self.send_json(400, {'error': str(e)})
            return self.send_json(200, srv.faults.snapshot())
        if not self.control_sim(route, req):
            self.send_json(404, {'error': 'unknown control endpoint %s %s' % route})

    def control_sim(self, route, req):
        """Simulator-specific control endpoints; return True when handled."""
        return False


class CredHandler(ControlHandler):
    """Base for imds_sim/container_sim: /_sim/* control API, counters, faults.

    Subclasses set server.issuer/faults/counters and implement
    handle_service(body), plus garbage_body(target) / oversize_body(target)
    and credentials_doc(keyset) for fault bodies.
    """

    def control_sim(self, route, req):
        srv = self.server
        if route in (('POST', '/_sim/rotate'), ('GET', '/_sim/current')):
            if route[0] == 'POST':
                srv.issuer.rotate()
            # the same document the service endpoint serves right now
            self.send(200, self.credentials_doc(srv.issuer.get()), 'application/json')
            return True
        return self.control_extra(route, req)

    def control_extra(self, route, req):
        """Simulator-specific control endpoints; return True when handled."""
        return False

    # -- fault injection; returns True when the fault replaced the answer
    def apply_fault(self, target):
        kind = self.server.faults.take(target)
        if kind == 'none' or (kind == 'expired' and target != 'credentials'):
            return False
        if kind == '500':
            self.send(500, 'Internal Server Error\n', 'text/plain')
        elif kind == 'hang':
            self.hang()
        elif kind == 'reset':
            self.reset_connection()
        elif kind == 'garbage':
            self.send(200, self.garbage_body(target), 'text/plain')
        elif kind == 'oversize':
            self.send(200, self.oversize_body(target), 'text/plain')
        elif kind == 'exact':
            self.send_exact(target, self.server.faults.size)
        elif kind == 'expired':
            # A fresh key set that expired a minute ago; it is never put in
            # the keys file, so using it upstream is always rejected.
            ks = new_keyset(-60)
            ks['issued'] -= 3600
            self.send(200, self.credentials_doc(ks), self.credentials_ctype)
        return True

    credentials_ctype = 'application/json'

    def garbage_body(self, target):
        if target == 'credentials':
            doc = self.credentials_doc(self.server.issuer.get())
            return doc[:len(doc) // 2]          # truncated JSON document
        return b'\x00\xff<html>garbage\r\n\x1b[0m{'

    def send_exact(self, target, size):
        """The usual answer, padded so that the whole response, status line
        and headers included, is exactly SIZE bytes: a size limit's edge."""
        if target == 'credentials':
            doc = json.loads(self.credentials_doc(self.server.issuer.get()))
            ctype = self.credentials_ctype
        else:
            doc, ctype = None, 'text/plain'
        head = ('HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %%d\r\n'
                'Connection: close\r\n\r\n' % ctype)
        blen = size - len(head % size)
        while len(head % blen) + blen != size:
            blen += size - (len(head % blen) + blen)
        if doc is None:
            body = 'A' * blen
        else:
            doc['Padding'] = ''
            doc['Padding'] = 'x' * (blen - len(json.dumps(doc)))
            body = json.dumps(doc)
        data = (head % len(body)).encode() + body.encode()
        assert len(data) == size, (len(data), size)
        self.close_connection = True
        self.wfile.write(data)

    def oversize_body(self, target):
        if target == 'credentials':
            # Valid JSON padded to 1 MiB: only a size limit can reject it.
            doc = json.loads(self.credentials_doc(self.server.issuer.get()))
            doc['Padding'] = ''
            pad = OVERSIZE - len(json.dumps(doc))
            doc['Padding'] = 'x' * max(pad, 0)
            return json.dumps(doc)
        return 'A' * OVERSIZE


# ---------------------------------------------------------------- journal

class Journal:
    """DIR/journal.jsonl: one JSON object per request, written whole under a lock."""

    def __init__(self, path):
        self.f = open(path, 'a', encoding='utf-8')
        self.lock = threading.Lock()

    def write(self, entry):
        line = json.dumps(entry) + '\n'
        with self.lock:
            self.f.write(line)
            self.f.flush()


# ---------------------------------------------------------------- certificates

def make_certs(directory, names, ca_from=None, who='sim', ip=True):
    """Throwaway CA + server cert for `names` (DNS names; IP 127.0.0.1 added
    unless ip is false).

    Writes DIR/ca.pem, DIR/ca.key (0600, so that another simulator can issue
    its cert from the same CA), DIR/server.pem, DIR/server.key. EC P-256 keys
    keep start-up fast. ca_from: the directory of another simulator whose CA
    (ca.pem, ca.key) issues our cert instead of a new one; its ca.pem is copied
    to DIR/ca.pem, so one file verifies both.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    pem = serialization.Encoding.PEM

    if ca_from:
        try:
            with open(os.path.join(ca_from, 'ca.pem'), 'rb') as f:
                ca = x509.load_pem_x509_certificate(f.read())
            with open(os.path.join(ca_from, 'ca.key'), 'rb') as f:
                ca_key = serialization.load_pem_private_key(f.read(), None)
        except (OSError, ValueError) as e:
            raise SystemExit('--ca-from %s: no usable ca.pem / ca.key: %s' % (ca_from, e))
        ca_name = ca.subject
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                '%s test CA %d' % (who, os.getpid()))])
        ca = (x509.CertificateBuilder()
              .subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(start).not_valid_after(end)
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                           False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names]
    if ip:
        san.append(x509.IPAddress(ipaddress.ip_address('127.0.0.1')))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))

    write_atomic(os.path.join(directory, 'server.key'), key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), mode=0o600)
    write_atomic(os.path.join(directory, 'server.pem'), cert.public_bytes(pem))
    # the key first: a simulator started with --ca-from waits for ca.pem only
    write_atomic(os.path.join(directory, 'ca.key'), ca_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), mode=0o600)
    write_atomic(os.path.join(directory, 'ca.pem'), ca.public_bytes(pem))


def tls_context(directory):
    """Server context for DIR/server.pem + server.key, TLS >= 1.2; the SNI a
    client sent is kept as `sni` on its socket (journaled by the simulators)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(directory, 'server.pem'),
                        os.path.join(directory, 'server.key'))

    def remember_sni(sslsock, name, _ctx):
        sslsock.sni = name
    ctx.sni_callback = remember_sni
    return ctx


class TLSServer(ThreadedServer):
    """HTTPS: the handshake is done in the worker thread, so a stalled client
    cannot block accept(). Needs ssl_ctx.

    With plain_control=True a connection whose first byte is not a TLS
    handshake record (0x16) is served as plain HTTP instead: the harness
    reaches the /_sim/* control API of a TLS simulator without TLS. The
    handler tells the two apart with is_tls(); it must refuse service
    requests on a plain connection.
    """

    plain_control = False

    def finish_request(self, sock, addr):
        sock.settimeout(10)
        if self.plain_control:
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if not first:
                return
            if first != b'\x16':
                return self.RequestHandlerClass(sock, addr, self)
        tls = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (OSError, ValueError) as e:
            if self.verbose:
                log('TLS handshake from %s failed: %s' % (addr, e))
            tls.close()
            return
        try:
            self.RequestHandlerClass(tls, addr, self)
        finally:
            tls.close()


def is_tls(sock):
    return isinstance(sock, ssl.SSLSocket)


# ---------------------------------------------------------------- SigV4 check

AUTH_RE = re.compile(
    r'AWS4-HMAC-SHA256 Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)/aws4_request,'
    r' ?SignedHeaders=([^\s,]+), ?Signature=([0-9a-f]{64})')


class SigError(Exception):
    """A rejected signature. reason: a stable code for tests (journaled);
    kind: what the service answers, each maps it to its own error code:
      missing    no Authorization header
      malformed  Authorization not parsable, no X-Amz-Date
      signature  anything else wrong with the signature or its scope
      key        unknown access key, wrong / missing / unexpected session token
      expired    the key's "expires" has passed
    """

    def __init__(self, reason, message, kind='signature'):
        super().__init__(message)
        self.reason, self.kind = reason, kind


def verify_sigv4(method, target, headers, body, info, service, region, keys, max_skew):
    """Raise SigError unless the request carries a valid SigV4 signature.

    headers is the received [(name, value), ...] list (the Host as received
    is signed and checked); keys the path of the keys file, re-read on every
    call since other simulators rotate it. `info` collects access_key_id,
    session (the signing key's "session" attribute, None without one) and
    botocore's canonical_request / string_to_sign.
    """
    from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def all_of(name):
        return [v for k, v in headers if k.lower() == name]

    auth = all_of('authorization')
    if not auth:
        raise SigError('missing_authorization', 'Missing Authentication Token', 'missing')
    m = AUTH_RE.fullmatch(auth[0].strip()) if len(auth) == 1 else None
    if not m:
        raise SigError('malformed_authorization',
                       'Authorization header is not "AWS4-HMAC-SHA256 Credential=AKID/'
                       'YYYYMMDD/region/service/aws4_request, SignedHeaders=..., Signature=<64 hex>"',
                       'malformed')
    akid, scope_date, scope_region, scope_service, signed_str, signature = m.groups()
    info['access_key_id'] = akid
    if scope_service != service:
        raise SigError('wrong_service', 'Credential should be scoped to correct service: %r, not %r'
                       % (service, scope_service))
    if scope_region != region:
        raise SigError('wrong_region', 'Credential should be scoped to a valid region: %r, not %r'
                       % (region, scope_region))

    amz_dates = all_of('x-amz-date')
    if len(amz_dates) != 1:
        raise SigError('missing_x_amz_date', 'exactly one X-Amz-Date header is required',
                       'malformed')
    amz_date = amz_dates[0].strip()
    try:
        when = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ').replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise SigError('bad_x_amz_date', 'X-Amz-Date %r is not YYYYMMDDTHHMMSSZ' % amz_date)
    if scope_date != amz_date[:8]:
        raise SigError('scope_date_mismatch', 'Credential scope date %s does not match X-Amz-Date %s'
                       % (scope_date, amz_date))
    if abs(time.time() - when) > max_skew:
        raise SigError('clock_skew', 'Signature expired: %s is more than %d s from the server time %s'
                       % (amz_date, max_skew, time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())))

    signed = signed_str.split(';')
    if signed != sorted(set(signed)) or any(h != h.lower() or not h for h in signed):
        raise SigError('signed_headers_not_canonical',
                       'SignedHeaders %r must be lower-case, sorted and unique' % signed_str)
    for must in ('host', 'x-amz-date'):
        if must not in signed:
            raise SigError('%s_not_signed' % must.replace('-', '_'), '%r must be signed' % must)
    received = [k.lower() for k, _ in headers]
    for name in received:
        if (name.startswith('x-amz') or name == 'content-type') and name not in signed:
            raise SigError('unsigned_header:' + name, 'header %r is present but not signed' % name)
    for name in signed:
        if name not in received:
            raise SigError('signed_header_absent:' + name, 'signed header %r is not in the request' % name)
        if name in SIGNED_HEADERS_BLACKLIST:
            # botocore never signs these (proxies rewrite them), so it cannot verify them.
            raise SigError('signed_header_unsupported:' + name,
                           'header %r must not be signed (SDKs never sign it)' % name)

    entry = read_json(keys, {}).get(akid)
    if not isinstance(entry, dict):
        raise SigError('unknown_key', 'The security token included in the request is invalid.',
                       'key')
    info['session'] = entry.get('session')
    if entry.get('expires') is not None and entry['expires'] <= time.time():
        raise SigError('expired_key', 'The security token included in the request is expired',
                       'expired')
    tokens = all_of('x-amz-security-token')
    want = entry.get('token')
    if want and not tokens:
        raise SigError('missing_security_token', 'key %s needs X-Amz-Security-Token' % akid, 'key')
    if not want and tokens:
        raise SigError('unexpected_security_token', 'key %s has no session token' % akid, 'key')
    if want and (len(tokens) != 1 or not hmac.compare_digest(tokens[0].strip().encode(), want.encode())):
        raise SigError('wrong_security_token', 'The security token included in the request is invalid.',
                       'key')
    sha = all_of('x-amz-content-sha256')
    if sha and sha != [hashlib.sha256(body).hexdigest()]:
        # botocore would trust this header instead of hashing the body.
        raise SigError('content_sha256_mismatch', 'X-Amz-Content-SHA256 does not match the body')

    # Rebuild the request exactly as received and let botocore compute the signature.
    # The query goes in as decoded (key, value) pairs, so botocore re-encodes and
    # sorts them itself (_canonical_query_string_params): from the URL it would
    # only sort the raw pairs, trusting the client's encoding, which AWS does not.
    # The URL's host is a placeholder: the signed Host header, as received, is used.
    path, _, query = target.partition('?')
    try:
        params = parse_query(query)
    except ValueError as e:
        raise SigError('bad_query', 'query string %r: %s' % (query, e))
    signer = SigV4Auth(Credentials(akid, entry['secret'], want or None), service, region)
    req = AWSRequest(method=method, url='https://sim.invalid%s' % path, data=body, params=params)
    for k, v in headers:
        if k.lower() in signed:
            req.headers[k] = v           # HTTPHeaders appends, so repeats are kept
    req.context['timestamp'] = amz_date
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    info['canonical_request'], info['string_to_sign'] = canonical, sts
    if signer.signed_headers(signer.headers_to_sign(req)) != signed_str:
        raise SigError('signed_headers_mismatch', 'botocore would sign %r, request says %r'
                       % (signer.signed_headers(signer.headers_to_sign(req)), signed_str))
    expected = signer.signature(sts, req)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SigError('signature_mismatch',
                       'The request signature we calculated does not match the signature you '
                       'provided. Check your AWS Secret Access Key and signing method.\n\n'
                       "The Canonical String for this request should have been\n'%s'\n\n"
                       "The String-to-Sign should have been\n'%s'\n" % (canonical, sts))


def parse_query(query):
    """A query string (or a form body) as [(key, value), ...], percent-decoded,
    in wire order.

    A bare '+' decodes as a space, as form decoding does (SDKs send %2B for a
    plus sign and %20 for a space, so only a client that left '+' unencoded
    is affected: its signature over "%2B" no longer matches). Raises
    ValueError when a decoded key or value is not UTF-8, which botocore could
    not re-encode.
    """
    if not query:
        return []
    pairs = []
    for pair in query.split('&'):
        key, _, value = pair.partition('=')
        pairs.append(tuple(urllib.parse.unquote_plus(x, errors='strict') for x in (key, value)))
    return pairs


# ---------------------------------------------------------------- run loop

def run(server, directory, name):
    """Serve until SIGTERM/SIGINT; publish the bound port in DIR/ready."""
    ready = os.path.join(directory, 'ready')
    port = server.server_address[1]
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.2}, daemon=True)
    t.start()
    write_atomic(ready, '%d\n' % port)
    log('%s: listening on 127.0.0.1:%d (pid %d)' % (name, port, os.getpid()))
    while not stop.wait(0.5):
        pass
    server.stopping.set()
    server.shutdown()
    server.server_close()
    try:
        with open(ready) as f:
            if f.read().strip() == str(port):
                os.unlink(ready)
    except OSError:
        pass
    log('%s: stopped' % name)


def prepare_dir(directory):
    """Create DIR and remove a stale ready file before we bind."""
    os.makedirs(directory, exist_ok=True)
    try:
        os.unlink(os.path.join(directory, 'ready'))
    except FileNotFoundError:
        pass

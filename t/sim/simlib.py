"""Shared pieces of the test simulators (lfv_sim, imds_sim, container_sim).

Standard library only, so every simulator runs under Debian's /usr/bin/python3.
What lives here:
  * atomic file writes and the DIR/ready protocol,
  * a threaded HTTP server plus a run loop that exits cleanly on SIGTERM/SIGINT,
  * a base request handler (body framing incl. chunked, response helpers),
  * the shared keys file (what lfv_sim accepts) and credential issuing/rotation,
  * counters, fault injection and the /_sim/* control API of the credential sims,
  * a wall clock that a test may step (LFV_SIM_CLOCK), shared with an nginx
    under libfaketime.
"""

import base64
import fcntl
import http.server
import json
import os
import re
import secrets
import select
import signal
import socket
import string
import struct
import sys
import tempfile
import threading
import time

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


def new_keyset(ttl, now=None):
    """A fresh temporary key set shaped like STS output.

    The secret and token contain '/', '+' and '=' like real ones, so the module
    must treat them as opaque bytes.
    """
    now = time.time() if now is None else now
    return {
        'AccessKeyId': 'ASIA' + _rand(string.ascii_uppercase + string.digits, 16),
        'SecretAccessKey': _rand(string.ascii_letters + string.digits + '/+', 40),
        'Token': base64.b64encode(os.urandom(301)).decode(),   # ends in '=='
        'issued': int(now),
        'expires': int(now + ttl),
    }


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
        self.keys.update(add={ks['AccessKeyId']: {
            'secret': ks['SecretAccessKey'], 'token': ks['Token'], 'expires': ks['expires']}})
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
               'exact')


class Faults:
    """Per-target fault switch. An optional count limits it to the next N hits."""

    def __init__(self, targets):
        self.targets = tuple(targets)
        self.lock = threading.Lock()
        self.state = {t: ('none', None) for t in self.targets}
        self.size = 0                   # of the whole "exact" response

    def set(self, kind, target, count=None, size=None):
        if kind not in FAULT_KINDS:
            raise ValueError('kind must be one of %s' % '|'.join(FAULT_KINDS))
        if target != 'all' and target not in self.targets:
            raise ValueError('target must be one of %s|all' % '|'.join(self.targets))
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError('count must be a positive integer')
        if kind == 'exact' and (not isinstance(size, int) or not 1024 <= size <= OVERSIZE):
            raise ValueError('"exact" needs a size from 1024 to %d' % OVERSIZE)
        with self.lock:
            self.size = size or 0
            for t in (self.targets if target == 'all' else (target,)):
                self.state[t] = (kind, count)

    def take(self, target):
        """The fault to apply to this request (consumes one use of a counted fault)."""
        with self.lock:
            kind, count = self.state[target]
            if count is not None:
                self.state[target] = ('none', None) if count <= 1 else (kind, count - 1)
            return kind

    def snapshot(self):
        with self.lock:
            return {t: {'kind': k, 'count': c} for t, (k, c) in self.state.items()}


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

    def hang(self):
        """Send nothing until the client gives up (or HANG_LIMIT / shutdown)."""
        deadline = time.monotonic() + HANG_LIMIT
        sock = self.connection
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            r, _, _ = select.select([sock], [], [], 0.25)
            if r:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b'':
                        break           # client closed its side
                except OSError:
                    break
                time.sleep(0.25)        # pipelined data: keep ignoring it
        self.close_connection = True


class CredHandler(BaseHandler):
    """Base for imds_sim/container_sim: /_sim/* control API, counters, faults.

    Subclasses set server.issuer/faults/counters and implement
    handle_service(body), plus garbage_body(target) / oversize_body(target)
    and credentials_doc(keyset) for fault bodies.
    """

    def dispatch(self):
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            return self.send(e.status, str(e) + '\n', 'text/plain')
        path = self.path.split('?', 1)[0]
        if path.startswith('/_sim/'):
            return self.control(path, body)
        self.handle_service(body)

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
                srv.faults.set(req.get('kind', 'none'), req.get('target', 'all'), req.get('count'),
                               req.get('size'))
            except (ValueError, AttributeError) as e:
                return self.send_json(400, {'error': str(e)})
            return self.send_json(200, srv.faults.snapshot())
        if route in (('POST', '/_sim/rotate'), ('GET', '/_sim/current')):
            if route[0] == 'POST':
                srv.issuer.rotate()
            # the same document the service endpoint serves right now
            return self.send(200, self.credentials_doc(srv.issuer.get()), 'application/json')
        if not self.control_extra(route, req):
            self.send_json(404, {'error': 'unknown control endpoint %s %s' % route})

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

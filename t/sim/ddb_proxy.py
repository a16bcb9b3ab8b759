#!/usr/bin/python3
"""DynamoDB fault proxy: plain HTTP in front of dynalite (or any DynamoDB endpoint).

Every request but the /_sim/* control API is forwarded as received to
--upstream (one upstream connection per request) and the upstream's answer
is sent back, unless a fault set with POST /_sim/fault meets it: the fault
is chosen by the operation of the request's X-Amz-Target
(DynamoDB_20120810.<Operation>). Every forwarded request is counted and
journaled to DIR/journal.jsonl. See t/sim/README.md.
"""

import argparse
import http.client
import json
import os
import secrets
import string
import time
import urllib.parse
import zlib

import simlib

OPERATIONS = ('GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query')
FAULT_KINDS = ('none', 'throttle', 'status500', 'garbage', 'truncated', 'reset', 'hang', 'delay')
HANG_LIMIT = 60.0               # a "hang" never holds a request longer
UPSTREAM_TIMEOUT = 30.0
JSON_CTYPE = 'application/x-amz-json-1.0'
NS = 'com.amazonaws.dynamodb.v20120810#'

# hop-by-hop headers (RFC 9110 7.6.1) and the framing, which the proxy redoes
HOP = frozenset(('connection', 'keep-alive', 'proxy-connection', 'te', 'trailer',
                 'transfer-encoding', 'upgrade', 'content-length'))

THROTTLE = ('ProvisionedThroughputExceededException',
            'The level of configured provisioned throughput for the table was exceeded. '
            'Consider increasing your provisioning level with the UpdateTable API.')
INTERNAL = ('InternalServerError', 'Internal server error')
# a NUL, a byte that is not UTF-8, markup, an unterminated object
GARBAGE = b'\x00\xff<html>ddb_proxy garbage</html>\r\n{"__type": "'


def request_id():
    # DynamoDB's request ids: 52 upper-case letters and digits
    return ''.join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(52))


def fault_params(kind, params):
    """The parameters POST /_sim/fault may give: seconds (delay); forward
    (status500, reset: true sends the request on first)."""
    checked = simlib.fault_param_check(kind, params, {'delay': ('seconds',),
                                                      'status500': ('forward',),
                                                      'reset': ('forward',)})
    if checked is not None:
        return checked
    if 'forward' in params:
        if not isinstance(params['forward'], bool):
            raise ValueError('"forward" must be true or false')
        return {'forward': params['forward']}
    return {}


class Handler(simlib.ControlHandler):
    """/_sim/* is the control API (simlib.ControlHandler); the rest is forwarded."""

    def handle_service(self, body):
        srv = self.server
        amz_target = self.headers.get('X-Amz-Target')
        op = amz_target.rpartition('.')[2] if amz_target else None
        target = op if op in OPERATIONS else None
        srv.counters.hit(target or 'other')
        entry = {'time': time.time(), 'peer': '%s:%d' % self.client_address,
                 'method': self.command, 'path': self.path, 'x_amz_target': amz_target,
                 'target': op, 'request': None, 'body': None, 'status': None, 'fault': None,
                 'forwarded': False, 'upstream_status': None, 'response': None,
                 'upstream_error': None,
                 'headers': [[k, v] for k, v in self.headers.items()]}
        text = body.decode('utf-8', 'replace')
        try:
            entry['request'] = json.loads(text) if text.strip() else None
        except ValueError:
            entry['body'] = text        # kept as is when it is not JSON
        self.journaled = False
        try:
            self.serve(entry, target, body)
        finally:
            if not self.journaled:      # reset, hang, the client went away mid-answer
                srv.journal.write(entry)

    def serve(self, entry, target, body):
        srv = self.server
        kind, params, serial = srv.faults.take_params(target) if target else ('none', {}, 0)
        if kind != 'none':
            entry['fault'] = kind
        if kind == 'throttle':
            return self.error(entry, 400, *THROTTLE)
        if kind in ('status500', 'reset') and not params.get('forward'):
            if kind == 'reset':
                return self.drop(entry)
            return self.error(entry, 500, *INTERNAL)
        if kind == 'hang':
            # released by a new POST /_sim/fault of the target: forwarded and
            # answered as usual; else the connection is closed unanswered
            if not self.hang(HANG_LIMIT, lambda: srv.faults.serial(target) != serial):
                return
        if kind == 'delay':
            srv.stopping.wait(params['seconds'])

        up = self.forward(entry, body)
        if up is None:                  # the upstream is not there: nor is an answer
            return self.drop(entry)
        status, reason, headers, data = up
        if kind == 'reset':             # forward: true
            return self.drop(entry)
        if kind == 'status500':
            return self.error(entry, 500, *INTERNAL)
        if kind == 'garbage':
            return self.answer(entry, 200, 'OK', [('Content-Type', JSON_CTYPE),
                                                  ('x-amzn-RequestId', request_id())], GARBAGE)
        if kind == 'truncated':
            # Content-Length of the whole answer, half of it sent, then close
            entry['status'] = 200
            self.journal(entry)
            self.send_response_only(200, 'OK')
            for k, v in headers:
                if k.lower() not in ('x-amz-crc32', 'content-type'):
                    self.send_header(k, v)
            self.send_header('Content-Type', JSON_CTYPE)
            self.send_header('Content-Length', str(max(len(data), 1)))
            self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.answer(entry, status, reason, headers, data)

    def forward(self, entry, body):
        """Send the request upstream as received (hop-by-hop headers dropped,
        framing redone); (status, reason, headers, body), or None when the
        upstream could not be reached or broke off."""
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=UPSTREAM_TIMEOUT)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP:
                    conn.putheader(k, v)
            if body or self.command in ('POST', 'PUT', 'PATCH'):
                conn.putheader('Content-Length', str(len(body)))
            conn.putheader('Connection', 'close')
            conn.endheaders(body or None)
            r = conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            entry['upstream_error'] = '%s: %s' % (type(e).__name__, e)
            return None
        finally:
            conn.close()
        entry['forwarded'] = True
        entry['upstream_status'] = r.status
        try:
            entry['response'] = json.loads(data) if data.strip() else None
        except ValueError:
            entry['response'] = data.decode('utf-8', 'replace')
        return r.status, r.reason, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP], data

    def error(self, entry, status, code, message):
        """An error in DynamoDB's shape (JSON 1.0 __type, x-amzn-ErrorType, CRC32)."""
        data = json.dumps({'__type': NS + code, 'message': message}).encode()
        self.answer(entry, status, None, [('x-amzn-RequestId', request_id()),
                                          ('x-amzn-ErrorType', code),
                                          ('x-amz-crc32', str(zlib.crc32(data))),
                                          ('Content-Type', JSON_CTYPE)], data)

    def drop(self, entry):
        """Close the connection with an RST, unanswered (journaled first)."""
        self.journal(entry)
        self.reset_connection()

    def journal(self, entry):
        # before answering: a test that has the response can read the line
        self.server.journal.write(entry)
        self.journaled = True

    def answer(self, entry, status, reason, headers, data):
        entry['status'] = status
        self.journal(entry)
        self.send_response_only(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True, help='0 picks a free port (see DIR/ready)')
    ap.add_argument('--upstream', required=True, metavar='URL',
                    help='http://127.0.0.1:PORT of the DynamoDB endpoint (dynalite)')
    ap.add_argument('--verbose', action='store_true')
    cfg = ap.parse_args()
    up = urllib.parse.urlsplit(cfg.upstream)
    try:
        port_ok = up.port is not None
    except ValueError:
        port_ok = False
    if up.scheme != 'http' or not up.hostname or not port_ok or up.path not in ('', '/'):
        ap.error('--upstream must be http://HOST:PORT')

    simlib.prepare_dir(cfg.dir)
    server = simlib.ThreadedServer(cfg.port, Handler, verbose=cfg.verbose, cfg=cfg, upstream=up,
                                   journal=simlib.Journal(os.path.join(cfg.dir, 'journal.jsonl')),
                                   counters=simlib.Counters(OPERATIONS + ('other',)),
                                   faults=simlib.Faults(OPERATIONS, FAULT_KINDS, fault_params))
    simlib.run(server, cfg.dir, 'ddb_proxy')


if __name__ == '__main__':
    main()

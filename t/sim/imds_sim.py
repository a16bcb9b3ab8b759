#!/usr/bin/python3
"""EC2 instance metadata service (IMDSv2, optionally v1-only) simulator, plain HTTP.

Serves the three requests an SDK's instance-profile provider makes:
  PUT /latest/api/token                              -> session token
  GET /latest/meta-data/iam/security-credentials/    -> role name
  GET /latest/meta-data/iam/security-credentials/R   -> credentials JSON
Every key set it hands out is also written to the keys file that lfv_sim
reads, so the upstream accepts exactly the currently valid credentials.
Tests steer it through /_sim/* (see t/sim/README.md).
"""

import argparse
import json
import os
import secrets
import threading
import time

import simlib

TOKEN_PATH = '/latest/api/token'
CREDS_PREFIX = '/latest/meta-data/iam/security-credentials'
TTL_HEADER = 'X-aws-ec2-metadata-token-ttl-seconds'
TOKEN_HEADER = 'X-aws-ec2-metadata-token'
V1_STATUSES = (403, 404, 405)


class Handler(simlib.CredHandler):
    # Real IMDS serves the credentials document as text/plain.
    credentials_ctype = 'text/plain'

    def credentials_doc(self, ks):
        # Real IMDS pretty-prints with '" : "' separators; parsers must cope.
        doc = {
            'Code': 'Success',
            'LastUpdated': simlib.iso_z(ks['issued']),
            'Type': 'AWS-HMAC',
            'AccessKeyId': ks['AccessKeyId'],
            'SecretAccessKey': ks['SecretAccessKey'],
            'Token': ks['Token'],
            'Expiration': simlib.iso_z(ks['expires']),
        }
        return json.dumps(doc, indent=2, separators=(',', ' : '))

    def handle_service(self, body):
        srv = self.server
        path = self.path.split('?', 1)[0]
        if path == TOKEN_PATH:
            kind, method = 'token', 'PUT'
        elif path in (CREDS_PREFIX, CREDS_PREFIX + '/'):
            kind, method = 'role', 'GET'
        elif path.startswith(CREDS_PREFIX + '/'):
            kind, method = 'credentials', 'GET'
        else:
            srv.counters.hit()
            return self.send(404, 'Not Found\n', 'text/plain')
        srv.counters.hit(kind)
        if self.command != method:
            return self.send(405, 'Method Not Allowed\n', 'text/plain', [('Allow', method)])
        if self.apply_fault(kind):
            return
        if kind == 'token':
            return self.issue_token()
        if not self.authorized():
            srv.counters.hit('unauthorized', total=False)
            return self.send(401, 'Unauthorized\n', 'text/plain')
        if kind == 'role':
            return self.send(200, srv.role, 'text/plain')
        if path[len(CREDS_PREFIX) + 1:] != srv.role:
            return self.send(404, 'Not Found\n', 'text/plain')
        self.send(200, self.credentials_doc(srv.issuer.get()), self.credentials_ctype)

    def issue_token(self):
        srv = self.server
        if srv.v1 is not None:
            # IMDSv1-only: the token PUT fails the way older stacks/proxies do.
            return self.send(srv.v1, '', 'text/plain')
        ttl = (self.headers.get(TTL_HEADER) or '').strip()
        if not ttl.isdigit() or not 1 <= int(ttl) <= srv.token_ttl_max:
            return self.send(400, 'Bad Request\n', 'text/plain')
        token = secrets.token_urlsafe(42)
        with srv.tokens_lock:
            now = time.time()
            for t in [t for t, exp in srv.tokens.items() if exp <= now]:
                del srv.tokens[t]
            srv.tokens[token] = now + int(ttl)
        self.send(200, token, 'text/plain', [(TTL_HEADER, ttl)])

    def authorized(self):
        srv = self.server
        if srv.v1 is not None:
            return True
        token = self.headers.get(TOKEN_HEADER)
        with srv.tokens_lock:
            exp = srv.tokens.get(token)
        return exp is not None and exp > time.time()

    def control_extra(self, route, req):
        """/_sim/mode: switch IMDSv1-only mode on ({"v1": 403|404|405}) or off (null)."""
        srv = self.server
        if route == ('POST', '/_sim/mode'):
            v1 = req.get('v1') if isinstance(req, dict) else 'bad'
            if v1 is not None and v1 not in V1_STATUSES:
                self.send_json(400, {'error': 'v1 must be 403, 404, 405 or null'})
                return True
            srv.v1 = v1
        elif route != ('GET', '/_sim/mode'):
            return False
        self.send_json(200, {'v1': srv.v1})
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True, help='0 picks a free port (see DIR/ready)')
    ap.add_argument('--keys', help='keys file shared with lfv_sim (default DIR/keys.json)')
    ap.add_argument('--role', default='lfv-role')
    ap.add_argument('--ttl', type=int, default=3600, help='credential lifetime, seconds')
    ap.add_argument('--rotate', type=int, default=0, help='issue a new key set every S seconds')
    ap.add_argument('--token-ttl-max', type=int, default=21600)
    ap.add_argument('--v1', type=int, choices=V1_STATUSES, help='start in IMDSv1-only mode')
    ap.add_argument('--fault', action='append', default=[], metavar='KIND:TARGET')
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args()

    simlib.prepare_dir(a.dir)
    counters = simlib.Counters(['token', 'role', 'credentials', 'unauthorized'])
    faults = simlib.Faults(['token', 'role', 'credentials'])
    for f in a.fault:
        kind, _, target = f.partition(':')
        faults.set(kind, target or 'all')
    issuer = simlib.Issuer(simlib.KeysFile(a.keys or os.path.join(a.dir, 'keys.json')),
                           a.ttl, a.rotate)
    server = simlib.ThreadedServer(
        a.port, Handler, verbose=a.verbose, counters=counters, faults=faults,
        issuer=issuer, role=a.role, v1=a.v1, token_ttl_max=a.token_ttl_max,
        tokens={}, tokens_lock=threading.Lock())
    simlib.run(server, a.dir, 'imds_sim')


if __name__ == '__main__':
    main()

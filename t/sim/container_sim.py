#!/usr/bin/python3
"""ECS / EKS Pod Identity container credentials endpoint simulator, plain HTTP.

  GET {path}  -> {"AccessKeyId","SecretAccessKey","Token","Expiration","RoleArn"}
With --auth-token the request must carry `Authorization: <token>` (what the
SDKs send from AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]), else 401.
Issued key sets go into the keys file lfv_sim reads, like imds_sim.
Tests steer it through /_sim/* (see t/sim/README.md).
"""

import argparse
import hmac
import json
import os

import simlib


class Handler(simlib.CredHandler):
    credentials_ctype = 'application/json'

    def credentials_doc(self, ks):
        return json.dumps({
            'AccessKeyId': ks['AccessKeyId'],
            'SecretAccessKey': ks['SecretAccessKey'],
            'Token': ks['Token'],
            'Expiration': simlib.iso_z(ks['expires']),
            'RoleArn': self.server.role_arn,
        })

    def handle_service(self, body):
        srv = self.server
        if self.path != srv.cred_path:
            srv.counters.hit()
            return self.send_json(404, {'message': 'not found'})
        srv.counters.hit('credentials')
        if self.command != 'GET':
            return self.send_json(405, {'message': 'method not allowed'}, [('Allow', 'GET')])
        if self.apply_fault('credentials'):
            return
        want = srv.auth_token
        got = self.headers.get('Authorization')
        if want is not None and (got is None or not hmac.compare_digest(got.encode(), want.encode())):
            srv.counters.hit('unauthorized', total=False)
            return self.send_json(401, {'message': 'Unauthorized'})
        self.send(200, self.credentials_doc(srv.issuer.get()), self.credentials_ctype)

    def control_extra(self, route, req):
        """/_sim/auth {"token": "..."|null}: change the required Authorization value."""
        srv = self.server
        if route == ('POST', '/_sim/auth'):
            tok = req.get('token') if isinstance(req, dict) else 0
            if tok is not None and not isinstance(tok, str):
                self.send_json(400, {'error': 'token must be a string or null'})
                return True
            srv.auth_token = tok
        elif route != ('GET', '/_sim/auth'):
            return False
        self.send_json(200, {'token': srv.auth_token})
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True, help='0 picks a free port (see DIR/ready)')
    ap.add_argument('--keys', help='keys file shared with lfv_sim (default DIR/keys.json)')
    ap.add_argument('--path', default='/v2/credentials/abc', help='credentials path (with any query)')
    ap.add_argument('--auth-token', help='required Authorization header value')
    ap.add_argument('--role-arn', default='arn:aws:iam::123456789012:role/lfv-role')
    ap.add_argument('--ttl', type=int, default=3600, help='credential lifetime, seconds')
    ap.add_argument('--rotate', type=int, default=0, help='issue a new key set every S seconds')
    ap.add_argument('--fault', action='append', default=[], metavar='KIND[:credentials]')
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args()

    simlib.prepare_dir(a.dir)
    counters = simlib.Counters(['credentials', 'unauthorized'])
    faults = simlib.Faults(['credentials'])
    for f in a.fault:
        kind, _, target = f.partition(':')
        faults.set(kind, target or 'all')
    issuer = simlib.Issuer(simlib.KeysFile(a.keys or os.path.join(a.dir, 'keys.json')),
                           a.ttl, a.rotate)
    server = simlib.ThreadedServer(
        a.port, Handler, verbose=a.verbose, counters=counters, faults=faults,
        issuer=issuer, cred_path=a.path, auth_token=a.auth_token, role_arn=a.role_arn)
    simlib.run(server, a.dir, 'container_sim')


if __name__ == '__main__':
    main()

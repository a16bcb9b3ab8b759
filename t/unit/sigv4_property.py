#!/usr/bin/python3
"""Property test of the SigV4 signer against botocore.

Generates random requests of the hosting cycle (StartModel and StopModel
with bodies, DescribeModel, ListModels with queries encoded as the SDKs
encode them, in any order; names within the API patterns, dates,
regions, keys, with and without tokens), has
build/unit/sigv4_driver sign them with ngx_http_lfv_sigv4.c, computes
the same with botocore's SigV4Auth, and compares every signature and
Authorization value.  Exits 1 on the first mismatch, printing botocore's
canonical request and ours; 2 if the driver cannot run.

Needs Debian's python3-botocore: run with /usr/bin/python3.
"""

import argparse
import datetime
import urllib.parse
import os
import random
import subprocess
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

SERVICE = 'lookoutvision'
REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-central-1',
           'eu-west-1', 'ap-northeast-1', 'ap-northeast-2']
SECRET_MAX = 256                 # NGX_HTTP_LFV_SECRET_MAX in the signer

ALNUM = ('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
         '0123456789')
NAME_REST = ALNUM + '_-'
TOKEN_CHARS = ALNUM + '-'
B64 = ALNUM + '+/'
PRINTABLE = ''.join(chr(c) for c in range(0x20, 0x7f))
JSON_WS = ' \t\r\n'

CONTENT_TYPES = [
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/json ; charset=UTF-8',
    '  application/json\t',
    'application/json;\t\t charset=utf-8',
    'application/json;   a=b    c=d',
]


def pick_length(rnd, lo, hi):
    """Uniform most of the time, but hit both ends often."""
    r = rnd.random()
    if r < 0.1:
        return lo
    if r < 0.2:
        return hi
    if r < 0.6:
        return rnd.randint(lo, min(hi, lo + 12))
    return rnd.randint(lo, hi)


def project_name(rnd):
    n = pick_length(rnd, 1, 255)
    return rnd.choice(ALNUM) + ''.join(rnd.choice(NAME_REST)
                                       for _ in range(n - 1))


def model_version(rnd):
    if rnd.random() < 0.3:
        return 'latest'
    n = pick_length(rnd, 1, 10)
    return rnd.choice('123456789') + ''.join(rnd.choice('0123456789')
                                             for _ in range(n - 1))


def ws(rnd):
    if rnd.random() < 0.5:
        return ''
    return ''.join(rnd.choice(JSON_WS) for _ in range(rnd.randint(1, 6)))


def json_body(rnd):
    r = rnd.random()
    if r < 0.03:
        return b''
    if r < 0.08:
        # the signer hashes whatever it is given
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 2048)))

    members = [('MinInferenceUnits', rnd.randint(1, 2147483647)
                if rnd.random() < 0.2 else rnd.randint(1, 10))]
    if rnd.random() < 0.5:
        members.append(('MaxInferenceUnits', rnd.randint(1, 2147483647)
                        if rnd.random() < 0.2 else rnd.randint(1, 10)))
    rnd.shuffle(members)

    parts = ['%s"%s"%s:%s%d%s' % (ws(rnd), k, ws(rnd), ws(rnd), v, ws(rnd))
             for k, v in members]
    return ('%s{%s}%s' % (ws(rnd), ','.join(parts), ws(rnd))).encode()


def amz_date(rnd):
    start = datetime.datetime(1971, 1, 1)
    end = datetime.datetime(2099, 12, 31, 23, 59, 59)
    t = start + datetime.timedelta(
        seconds=rnd.randint(0, int((end - start).total_seconds())))
    return t.strftime('%Y%m%dT%H%M%SZ')


def access_key(rnd):
    if rnd.random() < 0.9:
        return rnd.choice(['AKIA', 'ASIA']) + ''.join(
            rnd.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(16))
    # odd ones: any printable ASCII, but no tab (the driver's separator)
    return ''.join(rnd.choice(PRINTABLE)
                   for _ in range(rnd.randint(1, 128)))


def secret_key(rnd, oversized=True):
    r = rnd.random()
    if r < 0.7:
        return ''.join(rnd.choice(B64) for _ in range(40))
    if r < 0.98 or not oversized:
        return ''.join(rnd.choice(PRINTABLE)
                       for _ in range(pick_length(rnd, 0, SECRET_MAX)))
    # longer than the signer takes: it must refuse, not truncate
    return ''.join(rnd.choice(PRINTABLE)
                   for _ in range(rnd.randint(SECRET_MAX + 1, 400)))


def session_token(rnd):
    if rnd.random() < 0.5:
        return ''
    n = pick_length(rnd, 1, 1200)
    t = ''.join(rnd.choice(B64) for _ in range(n))
    if rnd.random() < 0.3:
        t = t[:-1] + '='
    return t


def client_token(rnd):
    if rnd.random() < 0.5:
        return ''
    return ''.join(rnd.choice(TOKEN_CHARS)
                   for _ in range(pick_length(rnd, 1, 64)))


def host_url(rnd, region):
    r = rnd.random()
    if r < 0.9:
        host = 'lookoutvision.%s.amazonaws.com' % region
        return host, 'https://' + host
    if r < 0.95:
        host = 'lookoutvision-fips.%s.amazonaws.com' % region
        return host, 'https://' + host
    # a local simulator: http, and a port that botocore keeps in Host
    host = '127.0.0.1:%d' % rnd.randint(1025, 65535)
    return host, 'http://' + host


def list_query(rnd):
    """A query as botocore writes one, its pairs in any order."""
    pairs = []
    if rnd.random() < 0.7:
        pairs.append(('maxResults', str(rnd.randint(1, 100))))
    if rnd.random() < 0.7:
        pairs.append(('nextToken', ''.join(
            rnd.choice(ALNUM + '/+=') for _ in range(pick_length(rnd, 1, 2048)))))
    for _ in range(rnd.choice([0, 0, 1, 3])):
        # names and values of any printable text: encoding and sorting
        pairs.append((''.join(rnd.choice(PRINTABLE)
                              for _ in range(rnd.randint(1, 12))),
                      ''.join(rnd.choice(PRINTABLE)
                              for _ in range(rnd.randint(0, 40)))))
    rnd.shuffle(pairs)
    return '&'.join('%s=%s' % (urllib.parse.quote(k, safe='-_.~'),
                               urllib.parse.quote(v, safe='-_.~'))
                    for k, v in pairs)


def target(rnd):
    """Method and request target of one of the four operations."""
    base = '/2020-11-20/projects/%s/models' % project_name(rnd)
    r = rnd.random()
    if r < 0.55:
        return 'POST', '%s/%s/start' % (base, model_version(rnd)), ''
    if r < 0.7:
        return 'POST', '%s/%s/stop' % (base, model_version(rnd)), ''
    if r < 0.85:
        return 'GET', '%s/%s' % (base, model_version(rnd)), ''
    return 'GET', base, list_query(rnd)


class Vector:
    pass


def generate(rnd, n):
    # a few credentials and dates, and runs of requests that share them,
    # so that the driver's key cache hits, misses and evicts
    creds = [(access_key(rnd), secret_key(rnd, oversized=False),
              session_token(rnd))
             for _ in range(6)]
    dates = [amz_date(rnd) for _ in range(4)]
    prev = None

    for i in range(n):
        v = Vector()
        v.id = str(i)
        r = rnd.random()
        v.mode = 'c' if r < 0.8 else ('r' if r < 0.9 else 'f')

        r = rnd.random()
        if prev and r < 0.4:
            v.akid, v.secret, v.token = prev.akid, prev.secret, prev.token
            v.date, v.region = prev.date, prev.region
        elif r < 0.8:
            v.akid, v.secret, v.token = rnd.choice(creds)
            v.date, v.region = rnd.choice(dates), rnd.choice(REGIONS)
        else:
            v.akid, v.secret, v.token = (access_key(rnd), secret_key(rnd),
                                         session_token(rnd))
            v.date, v.region = amz_date(rnd), rnd.choice(REGIONS)

        v.host, url = host_url(rnd, v.region)
        v.method, v.uri, v.query = target(rnd)
        v.url = url + v.uri + ('?' + v.query if v.query else '')

        r = rnd.random()
        if r < 0.8:
            v.content_type = 'application/json'
        elif r < 0.98:
            v.content_type = rnd.choice(CONTENT_TYPES)
        else:
            v.content_type = ''
        v.client_token = client_token(rnd)
        v.body = json_body(rnd)
        if v.method == 'GET':
            v.content_type, v.client_token, v.body = '', '', b''
        prev = v
        yield v


def line(v, mode=None):
    return '\t'.join([
        v.id, mode or v.mode, v.method,
        v.uri + ('?' + v.query if v.query else ''), v.host,
        v.content_type.encode().hex(), v.date, v.token, v.client_token,
        v.region, SERVICE, v.akid, v.secret.encode().hex(), v.body.hex(),
    ]) + '\n'


def botocore_sign(v):
    """botocore's SigV4Auth.add_auth, with the timestamp given."""
    auth = SigV4Auth(Credentials(v.akid, v.secret, v.token or None),
                     SERVICE, v.region)
    headers = {}
    if v.content_type:
        headers['Content-Type'] = v.content_type
    if v.client_token:
        headers['X-Amzn-Client-Token'] = v.client_token
    req = AWSRequest(method=v.method, url=v.url, data=v.body, headers=headers)
    req.context['timestamp'] = v.date
    auth._modify_request_before_signing(req)
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    return cr, sts, sig, req.headers['Authorization']


def run_driver(driver, data):
    try:
        p = subprocess.run([driver], input=data.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        print('cannot run %s: %s' % (driver, e))
        sys.exit(2)
    if p.returncode != 0:
        print('%s exited with %d' % (driver, p.returncode))
        sys.stdout.write(p.stderr.decode(errors='replace'))
        sys.exit(2)
    return p.stdout.decode().splitlines(), p.stderr.decode().strip()


def show(v, cr, sts, ours_cr):
    print('vector %s: mode %s region %s host %s date %s' % (
        v.id, v.mode, v.region, v.host, v.date))
    print('  %s %s query %r' % (v.method, v.uri, v.query))
    print('  access key %r, secret %r' % (v.akid, v.secret))
    print('  token %r, client token %r' % (v.token, v.client_token))
    print('  content-type %r, body %r' % (v.content_type, v.body))
    print('--- botocore canonical request\n%s' % cr)
    print('--- botocore string to sign\n%s' % sts)
    if ours_cr is not None:
        print('--- our canonical request\n%s' % ours_cr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-n', '--count', type=int, default=2000)
    ap.add_argument('-s', '--seed', type=int,
                    default=int.from_bytes(os.urandom(4), 'big'))
    ap.add_argument('--driver',
                    default=os.path.join(ROOT, 'build/unit/sigv4_driver'))
    ap.add_argument('--save', metavar='FILE',
                    help='write the driver input there')
    args = ap.parse_args()

    print('seed %d' % args.seed)
    sys.stdout.flush()

    rnd = random.Random(args.seed)
    vectors = list(generate(rnd, args.count))
    data = ''.join(line(v) for v in vectors)

    if args.save:
        with open(args.save, 'w') as f:
            f.write(data)

    out, stats = run_driver(args.driver, data)

    if len(out) != len(vectors):
        print('driver printed %d lines for %d vectors'
              % (len(out), len(vectors)))
        return 1

    refused = 0

    for v, o in zip(vectors, out):
        f = o.split('\t')
        if f[0] != v.id:
            print('driver answered %r for vector %s' % (f[0], v.id))
            return 1

        if len(v.secret) > SECRET_MAX:
            if f[1:] != ['error', 'derive']:
                print('vector %s: a %d-byte secret must be refused, got %r'
                      % (v.id, len(v.secret), f[1:]))
                return 1
            refused += 1
            continue

        cr, sts, sig, authz = botocore_sign(v)

        if f[1] == 'error' or f[1] != sig or f[2] != authz:
            print('MISMATCH (seed %d)' % args.seed)
            print('  botocore: %s\n            %s' % (sig, authz))
            print('  ours:     %s' % '\n            '.join(f[1:]))
            o = run_driver(args.driver, line(v, 'fv'))[0][0].split('\t')
            ours_cr = (bytes.fromhex(o[3]).decode('utf-8', 'replace')
                       if len(o) > 3 else None)
            show(v, cr, sts, ours_cr)
            return 1

    print(stats)
    print('ok %d vectors signed as botocore does (%d oversized secrets '
          'refused)' % (len(vectors) - refused, refused))
    return 0


if __name__ == '__main__':
    sys.exit(main())

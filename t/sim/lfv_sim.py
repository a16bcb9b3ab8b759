#!/usr/bin/python3
"""HTTPS Amazon Lookout for Vision simulator that verifies SigV4 with botocore.

The real service is gone, so this is the upstream the signing proxy talks to.
The signature is recomputed by botocore's own SigV4Auth from exactly the bytes
received, so a pass here means "an AWS SDK would have produced this
signature". Every request is journaled to DIR/journal.jsonl so tests can
assert what reached the upstream (and that rejected requests never did).

Served: StartModel, StopModel, DescribeModel and ListModels, over an in-memory
hosting state per (project, version) whose transitions are computed lazily
from timestamps (--hosting-delay).
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
import uuid

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import simlib

SERVICE = 'lookoutvision'
AUTH_RE = re.compile(
    r'AWS4-HMAC-SHA256 Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)/aws4_request,'
    r' ?SignedHeaders=([^\s,]+), ?Signature=([0-9a-f]{64})')
START_RE = re.compile(r'/2020-11-20/projects/([^/?]+)/models/([^/?]+)/start')
STOP_RE = re.compile(r'/2020-11-20/projects/([^/?]+)/models/([^/?]+)/stop')
MODEL_RE = re.compile(r'/2020-11-20/projects/([^/?]+)/models/([^/?]+)')
MODELS_RE = re.compile(r'/2020-11-20/projects/([^/?]+)/models')
PROJECT_RE = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_\-]{0,254}')
VERSION_RE = re.compile(r'[1-9][0-9]{0,9}|latest')
TOKEN_RE = re.compile(r'[a-zA-Z0-9/+=]{0,2048}')       # PaginationToken
VERSIONS_RE = re.compile(r'-v([1-9][0-9]{0,2})')        # project "x-v5": versions 1..5

# (method, path pattern, operation): the operation a request names, also
# journaled for requests that are rejected before routing
ROUTES = (('POST', START_RE, 'StartModel'), ('POST', STOP_RE, 'StopModel'),
          ('GET', MODEL_RE, 'DescribeModel'), ('GET', MODELS_RE, 'ListModels'))

ACCOUNT = '123456789012'
QUOTA_CODES = {'StartModel': 'L-LFV-START', 'StopModel': 'L-LFV-STOP',
               'DescribeModel': 'L-LFV-DESCRIBE', 'ListModels': 'L-LFV-LIST'}
DEFAULT_VERSIONS = 3            # trained versions of a project without "-v<N>"
ADDRESSABLE = 9                 # versions 1..9 exist in every project


# ---------------------------------------------------------------- certificates

def make_certs(directory, names):
    """Throwaway CA + server cert for `names` (DNS names; IP 127.0.0.1 added).

    EC P-256 keys keep start-up fast. Writes ca.pem, server.pem, server.key.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'lfv_sim test CA %d' % os.getpid())])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]
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

    pem = serialization.Encoding.PEM
    simlib.write_atomic(os.path.join(directory, 'server.key'), key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), mode=0o600)
    simlib.write_atomic(os.path.join(directory, 'server.pem'), cert.public_bytes(pem))
    simlib.write_atomic(os.path.join(directory, 'ca.pem'), ca.public_bytes(pem))


# ---------------------------------------------------------------- SigV4 check

class SigError(Exception):
    """A rejected signature: reason is a stable code for tests, code the AWS error type."""

    def __init__(self, reason, message, code='InvalidSignatureException'):
        super().__init__(message)
        self.reason, self.code = reason, code


def verify_sigv4(cfg, method, target, headers, body, info):
    """Raise SigError unless the request carries a valid SigV4 signature.

    headers is the received [(name, value), ...] list. `info` collects the
    access key id and botocore's canonical request / string to sign.
    """
    def all_of(name):
        return [v for k, v in headers if k.lower() == name]

    auth = all_of('authorization')
    if not auth:
        raise SigError('missing_authorization', 'Missing Authentication Token',
                       'MissingAuthenticationTokenException')
    m = AUTH_RE.fullmatch(auth[0].strip()) if len(auth) == 1 else None
    if not m:
        raise SigError('malformed_authorization',
                       'Authorization header is not "AWS4-HMAC-SHA256 Credential=AKID/'
                       'YYYYMMDD/region/service/aws4_request, SignedHeaders=..., Signature=<64 hex>"')
    akid, scope_date, region, service, signed_str, signature = m.groups()
    info['access_key_id'] = akid
    if service != SERVICE:
        raise SigError('wrong_service', 'Credential should be scoped to correct service: %r, not %r'
                       % (SERVICE, service))
    if region != cfg.region:
        raise SigError('wrong_region', 'Credential should be scoped to a valid region: %r, not %r'
                       % (cfg.region, region))

    amz_dates = all_of('x-amz-date')
    if len(amz_dates) != 1:
        raise SigError('missing_x_amz_date', 'exactly one X-Amz-Date header is required')
    amz_date = amz_dates[0].strip()
    try:
        when = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ').replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise SigError('bad_x_amz_date', 'X-Amz-Date %r is not YYYYMMDDTHHMMSSZ' % amz_date)
    if scope_date != amz_date[:8]:
        raise SigError('scope_date_mismatch', 'Credential scope date %s does not match X-Amz-Date %s'
                       % (scope_date, amz_date))
    if abs(time.time() - when) > cfg.max_skew:
        raise SigError('clock_skew', 'Signature expired: %s is more than %d s from the server time %s'
                       % (amz_date, cfg.max_skew, time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())))

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

    keys = simlib.read_json(cfg.keys, {})     # re-read: other simulators rotate it
    entry = keys.get(akid)
    if not isinstance(entry, dict):
        raise SigError('unknown_key', 'The security token included in the request is invalid.',
                       'UnrecognizedClientException')
    if entry.get('expires') is not None and entry['expires'] <= time.time():
        raise SigError('expired_key', 'The security token included in the request is expired',
                       'ExpiredTokenException')
    tokens = all_of('x-amz-security-token')
    want = entry.get('token')
    if want and not tokens:
        raise SigError('missing_security_token', 'key %s needs X-Amz-Security-Token' % akid,
                       'UnrecognizedClientException')
    if not want and tokens:
        raise SigError('unexpected_security_token', 'key %s has no session token' % akid,
                       'UnrecognizedClientException')
    if want and (len(tokens) != 1 or not hmac.compare_digest(tokens[0].strip().encode(), want.encode())):
        raise SigError('wrong_security_token', 'The security token included in the request is invalid.',
                       'UnrecognizedClientException')
    sha = all_of('x-amz-content-sha256')
    if sha and sha != [hashlib.sha256(body).hexdigest()]:
        # botocore would trust this header instead of hashing the body.
        raise SigError('content_sha256_mismatch', 'X-Amz-Content-SHA256 does not match the body')

    # Rebuild the request exactly as received and let botocore compute the signature.
    # The query goes in as decoded (key, value) pairs, so botocore re-encodes and
    # sorts them itself (_canonical_query_string_params): from the URL it would
    # only sort the raw pairs, trusting the client's encoding, which AWS does not.
    path, _, query = target.partition('?')
    try:
        params = parse_query(query)
    except ValueError as e:
        raise SigError('bad_query', 'query string %r: %s' % (query, e))
    signer = SigV4Auth(Credentials(akid, entry['secret'], want or None), SERVICE, cfg.region)
    req = AWSRequest(method=method, url='https://%s%s' % (cfg.host, path), data=body,
                     params=params)
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
    """The raw query as [(key, value), ...], percent-decoded, in wire order.

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


def operation_of(method, target):
    path = target.split('?', 1)[0]
    for m, rx, op in ROUTES:
        if m == method and rx.fullmatch(path):
            return op
    return None


# ---------------------------------------------------------------- models

def version_count(project):
    """How many trained versions ListModels shows (1..N) and "latest" names."""
    m = VERSIONS_RE.search(project)
    return int(m.group(1)) if m and m.end() == len(project) else DEFAULT_VERSIONS


def resolve_version(project, version):
    """The concrete version ("latest" -> N) if that model exists, else None."""
    n = version_count(project)
    if version == 'latest':
        return str(n)
    if re.fullmatch(r'[1-9][0-9]{0,9}', version) and int(version) <= max(ADDRESSABLE, n):
        return version
    return None


STATUS_MESSAGES = {
    'TRAINED': 'Training completed successfully.',
    'STARTING_HOSTING': 'Hosting starting.',
    'HOSTED': 'Model is hosted.',
    'HOSTING_FAILED': 'Hosting failed.',
    'STOPPING_HOSTING': 'Hosting stopping.',
}


class Models:
    """Hosting state per (project, version); an untouched model is TRAINED.

    STARTING_HOSTING becomes HOSTED and STOPPING_HOSTING becomes TRAINED once
    `delay` seconds have passed, worked out when the state is read (monotonic
    clock, so a stepped wall clock does not move them).
    """

    def __init__(self, delay):
        self.delay = delay
        self.lock = threading.Lock()
        self.state = {}         # (project, version) -> {status, since, min, max}
        self.tokens = {}        # StopModel client token -> (project, version, expires)

    def _get(self, key):
        rec = self.state.setdefault(key, {'status': 'TRAINED', 'since': 0.0,
                                          'min': None, 'max': None})
        if time.monotonic() - rec['since'] >= self.delay:
            if rec['status'] == 'STARTING_HOSTING':
                rec.update(status='HOSTED', since=rec['since'] + self.delay)
            elif rec['status'] == 'STOPPING_HOSTING':
                rec.update(status='TRAINED', since=rec['since'] + self.delay, min=None, max=None)
        return rec

    def get(self, project, version):
        with self.lock:
            return dict(self._get((project, version)))

    def start(self, project, version, lo, hi):
        """StartModel: anything but STARTING_HOSTING/HOSTED starts hosting anew."""
        with self.lock:
            rec = self._get((project, version))
            if rec['status'] not in ('STARTING_HOSTING', 'HOSTED'):
                rec.update(status='STARTING_HOSTING', since=time.monotonic())
            rec.update(min=lo, max=hi)

    def stop(self, project, version, token):
        """StopModel: the status before the call, or None for a replayed token.

        Only a HOSTED or STARTING_HOSTING model moves to STOPPING_HOSTING; the
        caller answers 409 for any other returned status.
        """
        now = time.monotonic()
        with self.lock:
            self.tokens = {t: v for t, v in self.tokens.items() if v[2] > now}
            if token and self.tokens.get(token, ())[:2] == (project, version):
                return None     # a retry of a stop that was accepted: same answer
            rec = self._get((project, version))
            before = rec['status']
            if before in ('STARTING_HOSTING', 'HOSTED'):
                rec.update(status='STOPPING_HOSTING', since=now)
                if token:
                    self.tokens[token] = (project, version, now + 8 * 3600)
            return before


def model_fields(cfg, project, version, status):
    """The members ModelMetadata and ModelDescription share."""
    v = int(version)
    recall, precision = 0.9 + (v % 10) / 100, 0.95 - (v % 10) / 200
    return {
        'CreationTimestamp': 1700000000.5 + 86400 * v,      # epoch seconds
        'ModelVersion': version,
        'ModelArn': 'arn:aws:lookoutvision:%s:%s:model/%s/%s' % (cfg.region, ACCOUNT, project,
                                                                version),
        'Description': 'Model %s of project %s' % (version, project),
        'Status': status,
        'StatusMessage': STATUS_MESSAGES.get(status, status),
        'Performance': {'F1Score': round(2 * recall * precision / (recall + precision), 4),
                        'Recall': round(recall, 4), 'Precision': round(precision, 4)},
    }


def page_token(project, offset):
    """An opaque NextToken with '/', '+' and '=' in it, so clients must encode it."""
    raw = ('%s:%d' % (project, offset)).encode()
    raw += b':' * ((1 - len(raw)) % 3)          # length 1 mod 3: ends in "=="
    return '/+' + base64.b64encode(raw).decode()


def page_offset(project, token):
    """The offset a token of ours for `project` stands for, else None."""
    if not token.startswith('/+'):
        return None
    try:
        raw = base64.b64decode(token[2:], validate=True).decode().rstrip(':')
    except ValueError:
        return None
    name, _, offset = raw.rpartition(':')
    if name != project or not offset.isdigit() or page_token(project, int(offset)) != token:
        return None
    if not 1 <= int(offset) < version_count(project):
        return None
    return int(offset)


# ---------------------------------------------------------------- server

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


class TLSServer(simlib.ThreadedServer):
    def finish_request(self, sock, addr):
        # Handshake in the worker thread, so a stalled client cannot block accept().
        sock.settimeout(10)
        tls = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (OSError, ValueError) as e:
            if self.verbose:
                simlib.log('TLS handshake from %s failed: %s' % (addr, e))
            tls.close()
            return
        try:
            self.RequestHandlerClass(tls, addr, self)
        finally:
            tls.close()


class Handler(simlib.BaseHandler):
    def dispatch(self):
        cfg = self.server.cfg
        rid = str(uuid.uuid4())
        headers = list(self.headers.items())
        entry = {'method': self.command, 'path': self.path, 'headers': headers, 'body': '',
                 'operation': operation_of(self.command, self.path),
                 'query': self.path.partition('?')[2],
                 'sig_ok': False, 'reason': '', 'status': 0, 'request_id': rid,
                 'access_key_id': None, 'time': time.time(),
                 'sni': getattr(self.connection, 'sni', None), 'transfer': None,
                 'peer': '%s:%d' % self.client_address}   # same peer = reused connection
        self.journaled = False
        try:
            try:
                body = self.read_body()
            except simlib.BadRequest as e:
                self.close_connection = True
                entry['reason'] = 'bad_framing'
                return self.error(entry, e.status, 'SerializationException', str(e))
            entry['body'] = body.decode('utf-8', 'replace')
            entry['transfer'] = self.transfer
            if not self.path.startswith('/'):
                entry['reason'] = 'bad_target'
                return self.error(entry, 400, 'ValidationException', 'request target must be a path')
            host = [v.strip() for k, v in headers if k.lower() == 'host']
            if cfg.check_host and host[:1] not in ([cfg.host], ['%s:%d' % (cfg.host, cfg.port)]):
                entry['reason'] = 'wrong_host'
                return self.error(entry, 403, 'InvalidSignatureException',
                                  'Host header %r is not %r' % (host, cfg.host))
            info = {}       # access_key_id, canonical_request, string_to_sign
            try:
                verify_sigv4(cfg, self.command, self.path, headers, body, info)
            except SigError as e:
                entry.update(info, reason=e.reason)
                return self.error(entry, 403, e.code, str(e))
            entry.update(info, sig_ok=True, reason='ok')
            self.route(entry, body)
        finally:
            if not self.journaled:      # e.g. the client went away mid-response
                self.server.journal.write(entry)

    def error(self, entry, status, code, message, extra=None, headers=()):
        body = {'message': message}
        body.update(extra or {})
        self.reply(entry, status, body, [('x-amzn-ErrorType', code)] + list(headers))

    def reply(self, entry, status, body, headers=()):
        # Journal before answering: a test that has the response can read the line.
        entry['status'] = status
        self.server.journal.write(entry)
        self.journaled = True
        self.send_json(status, body, [('x-amzn-RequestId', entry['request_id'])] + list(headers))

    def route(self, entry, body):
        """Only reached with a valid signature."""
        path, _, query = self.path.partition('?')
        for method, rx, op in ROUTES:
            m = rx.fullmatch(path)
            if m and method == self.command:
                return getattr(self, 'op_' + op)(entry, body, query, *m.groups())
        return self.error(entry, 404, 'UnknownOperationException',
                          'Unknown operation %s %s' % (self.command, self.path))

    def special(self, entry, op, project, version, conflict=None):
        """Answer for the special projects (True when answered); version None: ListModels."""
        resource = ({'ResourceId': project, 'ResourceType': 'PROJECT'} if version is None else
                    {'ResourceId': '%s/%s' % (project, version), 'ResourceType': 'MODEL'})
        if project == 'conflict' and conflict:
            self.error(entry, 409, 'ConflictException',
                       'Model %s is in a state that does not allow %s' % (version, conflict),
                       resource)
        elif project == 'missing':
            self.error(entry, 404, 'ResourceNotFoundException',
                       'Project %s does not exist' % project, resource)
        elif project == 'throttle':
            self.error(entry, 429, 'ThrottlingException', 'Rate exceeded',
                       {'QuotaCode': QUOTA_CODES[op], 'ServiceCode': 'lookoutvision'},
                       [('Retry-After', '1')])
        else:
            return False
        return True

    def model(self, entry, project, version, query, allowed=()):
        """Common checks of the new routes: (concrete version, params) or None if answered."""
        problem = validate_names(project, version)
        try:
            params = parse_query(query)
        except ValueError:
            params, problem = [], problem or 'query string is not UTF-8'
        keys = [k for k, _ in params]
        for k in keys:
            if problem:
                break
            if k not in allowed:
                problem = 'unknown query parameter %r' % k
            elif keys.count(k) > 1:
                problem = 'query parameter %r given more than once' % k
        if problem:
            self.error(entry, 400, 'ValidationException', problem)
            return None
        if self.special(entry, entry['operation'], project, version,
                        'stopping' if entry['operation'] == 'StopModel' else None):
            return None
        concrete = resolve_version(project, version) if version is not None else ''
        if concrete is None:
            self.error(entry, 404, 'ResourceNotFoundException',
                       'Model %s/%s does not exist' % (project, version),
                       {'ResourceId': '%s/%s' % (project, version), 'ResourceType': 'MODEL'})
            return None
        return concrete, dict(params)

    def op_StartModel(self, entry, body, query, project, version):
        if self.server.cfg.validate:
            problem = validate_start(project, version, body)
            if problem:
                return self.error(entry, 400, 'ValidationException', problem)
        if self.special(entry, 'StartModel', project, version, 'starting'):
            return
        concrete = resolve_version(project, version)
        if concrete is not None:        # other versions are accepted, as always, but not kept
            lo, hi = start_units(body)
            self.server.models.start(project, concrete, lo, hi)
        self.reply(entry, 202, {'Status': 'STARTING_HOSTING'})

    def op_StopModel(self, entry, body, query, project, version):
        try:
            doc = json.loads(body) if body.strip() else {}
        except ValueError:
            doc = None
        if doc != {}:
            return self.error(entry, 400, 'ValidationException',
                              'StopModel takes no body members: body must be empty or {}')
        got = self.model(entry, project, version, query)
        if got is None:
            return
        concrete = got[0]
        token = [v.strip() for k, v in entry['headers'] if k.lower() == 'x-amzn-client-token']
        before = self.server.models.stop(project, concrete, token[0] if token else None)
        if before not in (None, 'STARTING_HOSTING', 'HOSTED'):
            return self.error(entry, 409, 'ConflictException',
                              'Model %s/%s is %s: only a HOSTED or STARTING_HOSTING model can '
                              'be stopped' % (project, concrete, before),
                              {'ResourceId': '%s/%s' % (project, concrete),
                               'ResourceType': 'MODEL'})
        self.reply(entry, 202, {'Status': 'STOPPING_HOSTING'})

    def op_DescribeModel(self, entry, body, query, project, version):
        got = self.model(entry, project, version, query)
        if got is None:
            return
        concrete = got[0]
        rec = self.server.models.get(project, concrete)
        desc = model_fields(self.server.cfg, project, concrete, rec['status'])
        if rec['status'] in ('STARTING_HOSTING', 'HOSTED'):
            for member, key in (('MinInferenceUnits', 'min'), ('MaxInferenceUnits', 'max')):
                if rec[key] is not None:
                    desc[member] = rec[key]
        self.reply(entry, 200, {'ModelDescription': desc})

    def op_ListModels(self, entry, body, query, project):
        got = self.model(entry, project, None, query, allowed=('nextToken', 'maxResults'))
        if got is None:
            return
        params = got[1]
        size = params.get('maxResults', '100')
        if not re.fullmatch(r'[0-9]{1,3}', size) or not 1 <= int(size) <= 100:
            return self.error(entry, 400, 'ValidationException',
                              'maxResults %r must be an integer from 1 to 100' % size)
        offset = 0
        if 'nextToken' in params:
            token = params['nextToken']
            if not TOKEN_RE.fullmatch(token):
                return self.error(entry, 400, 'ValidationException',
                                  'nextToken fails to satisfy constraint [a-zA-Z0-9/+=]{0,2048}')
            offset = page_offset(project, token)
            if offset is None:
                return self.error(entry, 400, 'ValidationException', 'Invalid NextToken')
        n = version_count(project)
        end = min(n, offset + int(size))
        models = []
        for v in range(offset + 1, end + 1):
            rec = self.server.models.get(project, str(v))
            models.append(model_fields(self.server.cfg, project, str(v), rec['status']))
        out = {'Models': models}
        if end < n:
            out['NextToken'] = page_token(project, end)
        self.reply(entry, 200, out)


def validate_names(project, version):
    """projectName / modelVersion constraints (version None: not in the route)."""
    if not PROJECT_RE.fullmatch(project):
        return 'projectName %r fails to satisfy constraint' % project
    if version is not None and not VERSION_RE.fullmatch(version):
        return 'modelVersion %r fails to satisfy constraint' % version
    return None


def start_units(body):
    """(MinInferenceUnits, MaxInferenceUnits) of a StartModel body, best effort.

    Without MaxInferenceUnits the model does not scale: max = min.
    """
    try:
        doc = json.loads(body or b'{}')
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    lo, hi = (doc.get(k) if isinstance(doc.get(k), int) and not isinstance(doc.get(k), bool)
              else None for k in ('MinInferenceUnits', 'MaxInferenceUnits'))
    return lo, hi if hi is not None else lo


def validate_start(project, version, body):
    """Service-side input checks (only with --validate); returns a message or None."""
    if not PROJECT_RE.fullmatch(project):
        return 'projectName %r fails to satisfy constraint' % project
    if not VERSION_RE.fullmatch(version):
        return 'modelVersion %r fails to satisfy constraint' % version
    try:
        doc = json.loads(body or b'{}')
    except ValueError:
        return 'body is not JSON'
    if not isinstance(doc, dict):
        return 'body must be a JSON object'
    lo, hi = doc.get('MinInferenceUnits'), doc.get('MaxInferenceUnits')
    if not isinstance(lo, int) or isinstance(lo, bool) or lo < 1:
        return 'MinInferenceUnits must be an integer >= 1'
    if hi is not None and (not isinstance(hi, int) or isinstance(hi, bool) or hi < lo):
        return 'MaxInferenceUnits must be an integer >= MinInferenceUnits'
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True, help='0 picks a free port (see DIR/ready)')
    ap.add_argument('--region', default='us-east-1')
    ap.add_argument('--host', help='service host name (default lookoutvision.REGION.amazonaws.com)')
    ap.add_argument('--keys', help='accepted credentials (default DIR/keys.json)')
    ap.add_argument('--cert-name', action='append',
                    help='DNS name(s) for the server cert instead of --host (to test verification)')
    ap.add_argument('--max-skew', type=int, default=300, help='allowed X-Amz-Date skew, seconds')
    ap.add_argument('--any-host', dest='check_host', action='store_false',
                    help='do not require Host to be --host (or --host:PORT)')
    ap.add_argument('--validate', action='store_true',
                    help='400 ValidationException for bad projectName/modelVersion/body')
    ap.add_argument('--hosting-delay', type=float, default=1.0, metavar='SECONDS',
                    help='time StartModel takes to reach HOSTED and StopModel to reach TRAINED')
    ap.add_argument('--verbose', action='store_true')
    cfg = ap.parse_args()
    if not cfg.hosting_delay >= 0:
        ap.error('--hosting-delay must be >= 0')
    cfg.host = cfg.host or 'lookoutvision.%s.amazonaws.com' % cfg.region
    cfg.keys = cfg.keys or os.path.join(cfg.dir, 'keys.json')

    simlib.prepare_dir(cfg.dir)
    make_certs(cfg.dir, cfg.cert_name or [cfg.host])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(cfg.dir, 'server.pem'), os.path.join(cfg.dir, 'server.key'))

    def remember_sni(sslsock, name, _ctx):
        sslsock.sni = name                  # journaled, so tests can check proxy_ssl_name
    ctx.sni_callback = remember_sni

    server = TLSServer(cfg.port, Handler, verbose=cfg.verbose, ssl_ctx=ctx, cfg=cfg,
                       journal=Journal(os.path.join(cfg.dir, 'journal.jsonl')),
                       models=Models(cfg.hosting_delay))
    cfg.port = server.server_address[1]
    simlib.run(server, cfg.dir, 'lfv_sim')


if __name__ == '__main__':
    main()

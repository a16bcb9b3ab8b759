#!/usr/bin/python3
"""HTTPS Amazon Lookout for Vision simulator that verifies SigV4 with botocore.

The real service is gone, so this is the upstream the signing proxy talks to.
The signature is recomputed by botocore's own SigV4Auth from exactly the bytes
received, so a pass here means "an AWS SDK would have produced this
signature". Every request is journaled to DIR/journal.jsonl so tests can
assert what reached the upstream (and that rejected requests never did).

Served: StartModel, StopModel, DescribeModel and ListModels, over an in-memory
hosting state per (project, version) whose transitions are computed lazily
from timestamps (--hosting-delay). Tests steer it through /_sim/* (faults,
counters, the hosting state behind the proxy's back; see t/sim/README.md),
in plain HTTP on the same port: a connection whose first byte is not a TLS
handshake is plain.
"""

import argparse
import base64
import json
import os
import re
import threading
import time
import uuid

import simlib
from simlib import SigError, parse_query

SERVICE = 'lookoutvision'
# x-amzn-ErrorType of a rejected signature, by SigError kind
SIG_ERROR_TYPES = {
    'missing': 'MissingAuthenticationTokenException',
    'malformed': 'InvalidSignatureException',
    'signature': 'InvalidSignatureException',
    'key': 'UnrecognizedClientException',
    'expired': 'ExpiredTokenException',
}
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
OPERATIONS = ('StartModel', 'StopModel', 'DescribeModel', 'ListModels')
STATUSES = ('TRAINED', 'STARTING_HOSTING', 'HOSTED', 'STOPPING_HOSTING', 'HOSTING_FAILED')
HOSTING = ('STARTING_HOSTING', 'HOSTED')       # states with inference units

FAULT_KINDS = ('none', 'status500', 'throttle', 'reset', 'hang', 'delay', 'garbage')
HANG_LIMIT = 60.0               # a "hang" never holds a request longer
# 200 application/json that no JSON parser accepts: a NUL, a byte that is not
# UTF-8, markup, an unterminated object
GARBAGE = b'{"Status": "HOSTED", \x00\xff<html>garbage</html>\n'


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
            if rec['status'] not in HOSTING:
                rec.update(status='STARTING_HOSTING', since=time.monotonic())
            rec.update(min=lo, max=hi)

    def stop(self, project, version, token, dry=False):
        """StopModel: the status before the call, or None for a replayed token.

        Only a HOSTED or STARTING_HOSTING model moves to STOPPING_HOSTING; the
        caller answers 409 for any other returned status. dry: only tell what
        a stop would answer, changing nothing (before a fault is looked at).
        """
        now = time.monotonic()
        with self.lock:
            self.tokens = {t: v for t, v in self.tokens.items() if v[2] > now}
            if token and self.tokens.get(token, ())[:2] == (project, version):
                return None     # a retry of a stop that was accepted: same answer
            rec = self._get((project, version))
            before = rec['status']
            if before in HOSTING and not dry:
                rec.update(status='STOPPING_HOSTING', since=now)
                if token:
                    self.tokens[token] = (project, version, now + 8 * 3600)
            return before

    def set(self, project, version, status, lo=None, hi=None):
        """POST /_sim/model: the state changed behind the service's back, from
        now (STARTING_HOSTING and STOPPING_HOSTING then move on after the delay)."""
        with self.lock:
            rec = self._get((project, version))
            rec.update(status=status, since=time.monotonic(), min=lo, max=hi)

    def shown(self, project, version):
        """{status, min, max} as DescribeModel shows them (units only while hosting)."""
        return shown(self.get(project, version))

    def snapshot(self):
        """{"p/v": {status, min, max}} of every model that is not TRAINED."""
        with self.lock:
            recs = {'%s/%s' % key: shown(dict(self._get(key))) for key in list(self.state)}
        return {k: v for k, v in sorted(recs.items()) if v['status'] != 'TRAINED'}


def shown(rec):
    hosting = rec['status'] in HOSTING
    return {'status': rec['status'], 'min': rec['min'] if hosting else None,
            'max': rec['max'] if hosting else None}


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

def fault_params(kind, params):
    """The parameters POST /_sim/fault may give: seconds (delay) only."""
    return simlib.fault_param_check(kind, params, {'delay': ('seconds',)}) or {}


class Handler(simlib.ControlHandler):
    """Service requests on TLS; on a plain connection /_sim/* is the control
    API (simlib.ControlHandler) and anything else is refused (plain_http)."""

    def control_allowed(self):
        # never through TLS: what a proxy forwards cannot steer the simulator
        return not simlib.is_tls(self.connection)

    def new_entry(self):
        self.journaled = False
        return {'method': self.command, 'path': self.path, 'headers': list(self.headers.items()),
                'body': '', 'operation': operation_of(self.command, self.path),
                'query': self.path.partition('?')[2],
                'sig_ok': False, 'reason': '', 'status': None, 'fault': None,
                'request_id': str(uuid.uuid4()),
                'access_key_id': None, 'session': None, 'time': time.time(),
                'sni': getattr(self.connection, 'sni', None), 'transfer': None,
                'peer': '%s:%d' % self.client_address}   # same peer = reused connection

    def bad_framing(self, e):
        entry = self.new_entry()
        self.server.counters.hit(entry['operation'])
        entry['reason'] = 'bad_framing'
        try:
            self.error(entry, e.status, 'SerializationException', str(e))
        finally:
            if not self.journaled:
                self.server.journal.write(entry)

    def handle_service(self, body):
        cfg = self.server.cfg
        entry = self.new_entry()
        self.server.counters.hit(entry['operation'])
        headers = entry['headers']
        try:
            entry['body'] = body.decode('utf-8', 'replace')
            entry['transfer'] = self.transfer
            if not simlib.is_tls(self.connection):
                entry['reason'] = 'plain_http'
                return self.error(entry, 400, 'PlainHttpOnTlsPort',
                                  'The plain HTTP request was sent to the HTTPS port (only '
                                  '/_sim/* is served in plain HTTP)')
            if not self.path.startswith('/'):
                entry['reason'] = 'bad_target'
                return self.error(entry, 400, 'ValidationException', 'request target must be a path')
            host = [v.strip() for k, v in headers if k.lower() == 'host']
            if cfg.check_host and host[:1] not in ([cfg.host], ['%s:%d' % (cfg.host, cfg.port)]):
                entry['reason'] = 'wrong_host'
                return self.error(entry, 403, 'InvalidSignatureException',
                                  'Host header %r is not %r' % (host, cfg.host))
            info = {}       # access_key_id, session, canonical_request, string_to_sign
            try:
                simlib.verify_sigv4(self.command, self.path, headers, body, info, SERVICE,
                                    cfg.region, cfg.keys, cfg.max_skew)
            except SigError as e:
                entry.update(info, reason=e.reason)
                return self.error(entry, 403, SIG_ERROR_TYPES[e.kind], str(e))
            entry.update(info, sig_ok=True, reason='ok')
            self.route(entry, body)
        finally:
            if not self.journaled:      # reset, hang, the client went away mid-response
                self.server.journal.write(entry)

    def fault(self, entry, op):
        """The fault of `op`, met by a request about to be answered normally.

        True: the fault answered the request (or dropped it); the caller changes
        no state and answers nothing. False: go on as usual (no fault, a delay
        served, a hang released by a new POST /_sim/fault of its target).
        """
        srv = self.server
        kind, params, serial = srv.faults.take_params(op)
        if kind == 'none':
            return False
        entry['fault'] = kind
        if kind == 'status500':
            self.error(entry, 500, 'InternalServerException',
                       'Amazon Lookout for Vision experienced a service issue. Try your call again.')
        elif kind == 'throttle':
            self.error(entry, 429, 'ThrottlingException', 'Rate exceeded',
                       {'QuotaCode': QUOTA_CODES[op], 'ServiceCode': 'lookoutvision'},
                       [('Retry-After', '1')])
        elif kind == 'reset':
            self.reset_connection()
        elif kind == 'hang':
            # released: answered as usual; else the connection is closed unanswered
            return not self.hang(HANG_LIMIT, lambda: srv.faults.serial(op) != serial)
        elif kind == 'delay':
            srv.stopping.wait(params['seconds'])
            return False
        elif kind == 'garbage':
            entry['status'] = 200
            srv.journal.write(entry)
            self.journaled = True
            self.send(200, GARBAGE, 'application/json',
                      [('x-amzn-RequestId', entry['request_id'])])
        return True

    # -- control API: counters, reset, fault come from simlib.ControlHandler
    def control_sim(self, route, req):
        models = self.server.models
        if route == ('GET', '/_sim/models'):
            self.send_json(200, models.snapshot())
        elif route in (('GET', '/_sim/model'), ('POST', '/_sim/model')):
            try:
                if route[0] == 'GET':
                    try:
                        req = dict(parse_query(self.path.partition('?')[2]))
                    except ValueError:
                        raise ValueError('query string is not UTF-8')
                    project, version = model_of(req, ('project', 'version'))
                else:
                    project, version = model_of(req, ('project', 'version', 'status', 'min',
                                                      'max'))
                    models.set(project, version, *state_of(req))
            except ValueError as e:
                self.send_json(400, {'error': str(e)})
            else:
                self.send_json(200, models.shown(project, version))
        else:
            return False
        return True

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
        if self.fault(entry, 'StartModel'):
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
        token = token[0] if token else None
        # a fault only meets a stop that would be accepted, and then stops nothing
        before = self.server.models.stop(project, concrete, token, dry=True)
        if before in (None,) + HOSTING:
            if self.fault(entry, 'StopModel'):
                return
            before = self.server.models.stop(project, concrete, token)
        if before not in (None,) + HOSTING:
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
        if self.fault(entry, 'DescribeModel'):
            return
        rec = self.server.models.get(project, concrete)
        desc = model_fields(self.server.cfg, project, concrete, rec['status'])
        if rec['status'] in HOSTING:
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
        if self.fault(entry, 'ListModels'):
            return
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


def model_of(req, allowed):
    """(project, concrete version) named by a /_sim/model request; ValueError if bad."""
    if not isinstance(req, dict):
        raise ValueError('the body must be a JSON object')
    extra = sorted(set(req) - set(allowed))
    if extra:
        raise ValueError('unknown member(s): %s (allowed: %s)' % (', '.join(extra),
                                                                  ', '.join(allowed)))
    project, version = req.get('project'), req.get('version')
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(project, str) or not PROJECT_RE.fullmatch(project):
        raise ValueError('"project" must be a projectName, not %r' % (project,))
    if project in ('missing', 'throttle'):
        raise ValueError('project %r has no models' % project)
    concrete = (resolve_version(project, version)
                if isinstance(version, str) and VERSION_RE.fullmatch(version) else None)
    if concrete is None:
        raise ValueError('"version" %r is not a version of project %r' % (version, project))
    return project, concrete


def state_of(req):
    """(status, min, max) of a POST /_sim/model; ValueError if bad."""
    status, lo, hi = req.get('status'), req.get('min'), req.get('max')
    if not isinstance(status, str) or status not in STATUSES:
        raise ValueError('"status" must be one of %s' % '|'.join(STATUSES))
    for name, v in (('min', lo), ('max', hi)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ValueError('"%s" must be an integer >= 1' % name)
    if (lo is not None or hi is not None) and status not in HOSTING:
        raise ValueError('"min" and "max" only go with %s' % ' or '.join(HOSTING))
    if hi is not None and (lo is None or hi < lo):
        raise ValueError('"max" needs a "min" that is not above it')
    return status, lo, hi if hi is not None else lo


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
    ap.add_argument('--ca-from', metavar='DIR',
                    help="issue the server cert from the CA of another simulator's DIR")
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
    simlib.make_certs(cfg.dir, cfg.cert_name or [cfg.host], cfg.ca_from, 'lfv_sim')
    # the SNI is journaled, so tests can check proxy_ssl_name
    # plain_control: the /_sim/* control API in plain HTTP on the same port
    server = simlib.TLSServer(cfg.port, Handler, verbose=cfg.verbose,
                              ssl_ctx=simlib.tls_context(cfg.dir), cfg=cfg, plain_control=True,
                              journal=simlib.Journal(os.path.join(cfg.dir, 'journal.jsonl')),
                              models=Models(cfg.hosting_delay),
                              counters=simlib.Counters(OPERATIONS),
                              faults=simlib.Faults(OPERATIONS, FAULT_KINDS, fault_params))
    cfg.port = server.server_address[1]
    simlib.run(server, cfg.dir, 'lfv_sim')


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""AWS STS simulator: AssumeRole (SigV4 checked by botocore) and AssumeRoleWithWebIdentity.

The query protocol as AWS serves it: a form-encoded POST / (GET /?Action=...
works too), answered with the AWS XML documents. Every key set it issues
goes into the keys file that lfv_sim reads, with the assumed-role ARN as
its "session", so lfv_sim accepts exactly the issued credentials and
journals which role session signed each request. AssumeRole must itself be
signed by a key of that file (a base key, or an issued one: role chaining).
Every request is journaled to DIR/journal.jsonl, without secrets. Tests
steer it through /_sim/* (see t/sim/README.md), in plain HTTP on the same
port also when the service is HTTPS.
"""

import argparse
import hashlib
import hmac
import math
import os
import re
import string
import time
import unicodedata
import uuid
from xml.sax.saxutils import escape, quoteattr

import simlib
from simlib import SigError

SERVICE = 'sts'
NS = 'https://sts.amazonaws.com/doc/2011-06-15/'
API_VERSION = '2011-06-15'
ACTIONS = ('AssumeRole', 'AssumeRoleWithWebIdentity')
CALLER = 'arn:aws:iam::123456789012:user/sim'   # a signing key without a "session"
FORM = 'application/x-www-form-urlencoded'

ROLE_ARN_RE = re.compile(r'arn:aws:iam::(\d{12}):role/([\w+=,.@/-]{1,512})', re.ASCII)
NAME_RE = re.compile(r'[\w+=,.@-]{2,64}', re.ASCII)        # RoleSessionName, SourceIdentity
NAME_PATTERN = r'[\w+=,.@-]*'
EXTERNAL_ID_RE = re.compile(r'[\w+=,.@:/-]{2,1224}', re.ASCII)
TAG_RE = re.compile(r'Tags\.member\.([1-9][0-9]{0,3})\.(Key|Value)')
TRANSITIVE_RE = re.compile(r'TransitiveTagKeys\.member\.([1-9][0-9]{0,3})')
# parameters AWS defines that the simulator accepts and ignores
IGNORED = {
    'AssumeRole': re.compile(r'Policy|SerialNumber|TokenCode|PolicyArns\.member\.[1-9][0-9]*\.arn'
                             r'|ProvidedContexts\.member\.[1-9][0-9]*\.(ProviderArn|ContextAssertion)'),
    'AssumeRoleWithWebIdentity': re.compile(r'Policy|ProviderId|PolicyArns\.member\.[1-9][0-9]*\.arn'),
}
MAX_TAGS = 50
PACKED_LIMIT = 2048             # tag bytes that make PackedPolicySize 100 (%)

DEFAULT_DURATION = 3600
MIN_DURATION, MAX_DURATION = 900, 43200
TOKEN_BYTES = 601               # session token: 804 base64 chars, ends in '=='

# the web identity a token stands for (fixed: the token is not decoded)
SUBJECT = 'system:serviceaccount:default:proxy'
AUDIENCE = 'sts.amazonaws.com'
OIDC_ISSUER = 'oidc.eks.%s.amazonaws.com/id/5C1D8B9E2A3F4B6C8D0E1F2A3B4C5D6E'

FAULT_KINDS = ('none', '500', 'throttle', 'denied', 'hang', 'delay', 'garbage', 'truncated',
               'oversize', 'expired', 'reset')
HANG_LIMIT = 60.0               # a "hang" never holds a request longer
OVERSIZE_DEFAULT, OVERSIZE_MIN, OVERSIZE_MAX = 100000, 4096, 16 * 1024 * 1024

# SigError kind -> (HTTP status, STS error code)
SIG_ERRORS = {
    'missing': (403, 'MissingAuthenticationToken'),
    'malformed': (400, 'IncompleteSignature'),
    'signature': (403, 'SignatureDoesNotMatch'),
    'key': (403, 'InvalidClientTokenId'),
    'expired': (403, 'ExpiredToken'),
}

INVALID_TOKEN = ('The web identity token that was passed could not be validated by AWS. Get a '
                 'new identity token from the identity provider and then retry the request.')


class Refused(Exception):
    """An error answer: HTTP status, STS error code, message, journal reason."""

    def __init__(self, status, code, message, reason):
        super().__init__(message)
        self.status, self.code, self.reason = status, code, reason


# ---------------------------------------------------------------- XML

def render(name, content, depth=0, attrs=''):
    """One element, pretty-printed the way AWS prints its query responses:
    two spaces per level, a newline after every tag that has children."""
    pad = '  ' * depth
    if isinstance(content, list):
        inner = ''.join(render(n, c, depth + 1) for n, c in content)
        return '%s<%s%s>\n%s%s</%s>\n' % (pad, name, attrs, inner, pad, name)
    return '%s<%s%s>%s</%s>\n' % (pad, name, attrs, escape(str(content)), name)


def document(root, children):
    return render(root, children, attrs=' xmlns=%s' % quoteattr(NS))


def error_document(code, message, request_id, status):
    return document('ErrorResponse', [
        ('Error', [('Type', 'Receiver' if status >= 500 else 'Sender'), ('Code', code),
                   ('Message', message)]),
        ('RequestId', request_id)])


def role_id(role_arn):
    """A stable AROA... unique id per role, as IAM gives every role one."""
    digest = hashlib.sha256(role_arn.encode()).digest()
    alphabet = string.ascii_uppercase + string.digits
    return 'AROA' + ''.join(alphabet[b % len(alphabet)] for b in digest[:17])


# ---------------------------------------------------------------- parameters

def validation(problems):
    """Refused(ValidationError) for a list of (reason, text); AWS counts them."""
    n = len(problems)
    return Refused(400, 'ValidationError', '%d validation error%s detected: %s' % (
        n, '' if n == 1 else 's', '; '.join(text for _, text in problems)), problems[0][0])


def constraint(member, value, rule):
    return "Value %s at '%s' failed to satisfy constraint: Member must %s" % (
        'null' if value is None else "'%s'" % value, member, rule)


def tag_chars_ok(text):
    """[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* as AWS defines tag keys and values."""
    return all(c.isalnum() or unicodedata.category(c)[0] in 'LNZ' or c in '_.:/=+-@'
               for c in text)


def members(params, rx, action, what):
    """{N: {...}} of the members matching rx (N = group 1); N must run 1..len."""
    found = {}
    for k, v in params.items():
        m = rx.fullmatch(k)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2) if rx.groups > 1 else ''] = v
    if sorted(found) != list(range(1, len(found) + 1)):
        raise validation([('invalid_parameter:' + what, '%s members must be numbered 1..N, got %s'
                           % (what, sorted(found)))])
    return [found[i] for i in range(1, len(found) + 1)]


def check_params(action, params):
    """The validated request: {role_arn, session_name, duration, ...} or Refused."""
    known = {'Action', 'Version', 'RoleArn', 'RoleSessionName', 'DurationSeconds'}
    known |= ({'WebIdentityToken'} if action == 'AssumeRoleWithWebIdentity'
              else {'SourceIdentity', 'ExternalId'})
    for k in params:
        if k in known or IGNORED[action].fullmatch(k):
            continue
        if action == 'AssumeRole' and (TAG_RE.fullmatch(k) or TRANSITIVE_RE.fullmatch(k)):
            continue
        raise validation([('unknown_parameter:' + k, 'Unknown parameter: %s' % k)])

    problems = []
    req = {'role_arn': params.get('RoleArn'), 'session_name': params.get('RoleSessionName')}

    arn = req['role_arn']
    m = ROLE_ARN_RE.fullmatch(arn) if arn is not None else None
    if arn is None:
        problems.append(('missing_parameter:RoleArn', constraint('roleArn', None, 'not be null')))
    elif not m or m.group(2).endswith('/'):
        problems.append(('invalid_parameter:RoleArn', constraint(
            'roleArn', arn, 'satisfy regular expression pattern: '
            r'arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}')))
    else:
        req['account'], req['role_name'] = m.group(1), m.group(2).rpartition('/')[2]

    for param, member in (('RoleSessionName', 'roleSessionName'),
                          ('SourceIdentity', 'sourceIdentity')):
        value = params.get(param)
        if value is None:
            if param == 'RoleSessionName':
                problems.append(('missing_parameter:' + param, constraint(member, None,
                                                                          'not be null')))
        elif len(value) < 2:
            problems.append(('invalid_parameter:' + param, constraint(
                member, value, 'have length greater than or equal to 2')))
        elif len(value) > 64:
            problems.append(('invalid_parameter:' + param, constraint(
                member, value, 'have length less than or equal to 64')))
        elif not NAME_RE.fullmatch(value):
            problems.append(('invalid_parameter:' + param, constraint(
                member, value, 'satisfy regular expression pattern: ' + NAME_PATTERN)))
    req['source_identity'] = params.get('SourceIdentity')

    duration = params.get('DurationSeconds')
    req['duration'] = duration
    if duration is not None:
        if not re.fullmatch(r'[0-9]{1,9}', duration):
            problems.append(('invalid_parameter:DurationSeconds', constraint(
                'durationSeconds', duration, 'be an integer')))
        else:
            req['duration'] = int(duration)
            if req['duration'] < MIN_DURATION:
                problems.append(('invalid_parameter:DurationSeconds', constraint(
                    'durationSeconds', duration, 'have value greater than or equal to %d'
                    % MIN_DURATION)))
            elif req['duration'] > MAX_DURATION:
                problems.append(('invalid_parameter:DurationSeconds', constraint(
                    'durationSeconds', duration, 'have value less than or equal to %d'
                    % MAX_DURATION)))

    external = params.get('ExternalId')
    req['external_id'] = external
    if external is not None and not EXTERNAL_ID_RE.fullmatch(external):
        problems.append(('invalid_parameter:ExternalId', constraint(
            'externalId', external, r'satisfy regular expression pattern: [\w+=,.@:\/-]* '
            'and have length from 2 to 1224')))

    token = params.get('WebIdentityToken')
    req['token'] = token
    if action == 'AssumeRoleWithWebIdentity':
        if token is None:
            problems.append(('missing_parameter:WebIdentityToken',
                             constraint('webIdentityToken', None, 'not be null')))
        elif not 4 <= len(token) <= 20000:
            problems.append(('invalid_parameter:WebIdentityToken', constraint(
                'webIdentityToken', '***', 'have length from 4 to 20000')))
    if problems:
        raise validation(problems)

    req['tags'], req['transitive'] = None, None
    if action == 'AssumeRole':
        check_tags(params, req)
    return req


def check_tags(params, req):
    tags = members(params, TAG_RE, 'AssumeRole', 'Tags')
    transitive = [t[''] for t in members(params, TRANSITIVE_RE, 'AssumeRole', 'TransitiveTagKeys')]
    problems = []
    if len(tags) > MAX_TAGS:
        problems.append(('invalid_parameter:Tags', constraint(
            'tags', '%d tags' % len(tags), 'have length less than or equal to %d' % MAX_TAGS)))
    for i, tag in enumerate(tags, 1):
        key, value = tag.get('Key'), tag.get('Value')
        where = 'tags.%d.member.' % i
        if key is None:
            problems.append(('missing_parameter:Tags', constraint(where + 'key', None,
                                                                  'not be null')))
        elif not 1 <= len(key) <= 128 or not tag_chars_ok(key):
            problems.append(('invalid_parameter:Tags', constraint(
                where + 'key', key, r'satisfy regular expression pattern: '
                r'[\p{L}\p{Z}\p{N}_.:/=+\-@]+ and have length from 1 to 128')))
        if value is None:
            problems.append(('missing_parameter:Tags', constraint(where + 'value', None,
                                                                  'not be null')))
        elif len(value) > 256 or not tag_chars_ok(value):
            problems.append(('invalid_parameter:Tags', constraint(
                where + 'value', value, r'satisfy regular expression pattern: '
                r'[\p{L}\p{Z}\p{N}_.:/=+\-@]* and have length less than or equal to 256')))
    if len(transitive) > MAX_TAGS:
        problems.append(('invalid_parameter:TransitiveTagKeys', constraint(
            'transitiveTagKeys', '%d keys' % len(transitive),
            'have length less than or equal to %d' % MAX_TAGS)))
    if problems:
        raise validation(problems)
    lower = [t['Key'].lower() for t in tags]
    if len(set(lower)) != len(lower):
        raise validation([('duplicate_tag_key', 'Duplicate tag keys found. Please note that '
                           'Tag keys are case insensitive.')])
    for k in transitive:
        if k.lower() not in lower:
            raise Refused(400, 'InvalidParameterValue', 'The specified transitive tag key must '
                          'be included in the requested tags.', 'invalid_parameter:TransitiveTagKeys')
    if tags:
        req['tags'] = {t['Key']: t['Value'] for t in tags}
        packed = sum(len(t['Key'].encode()) + len(t['Value'].encode()) for t in tags)
        req['packed'] = max(1, math.ceil(100 * packed / PACKED_LIMIT))
        if req['packed'] > 100:
            raise Refused(400, 'PackedPolicyTooLarge', 'Packed size of consumed session policies '
                          'and session tags exceeds the limit (%d%% of the allowed size).'
                          % req['packed'], 'packed_policy_too_large')
    if transitive:
        req['transitive'] = transitive


# ---------------------------------------------------------------- server

def fault_params(kind, params):
    """The parameters POST /_sim/fault may give: seconds (delay), size (oversize)."""
    checked = simlib.fault_param_check(kind, params, {'delay': ('seconds',),
                                                      'oversize': ('size',)})
    if checked is not None:
        return checked
    if kind == 'oversize':
        n = params.get('size', OVERSIZE_DEFAULT)
        if isinstance(n, bool) or not isinstance(n, int) or not OVERSIZE_MIN <= n <= OVERSIZE_MAX:
            raise ValueError('"oversize" takes a "size" from %d to %d' % (OVERSIZE_MIN, OVERSIZE_MAX))
        return {'size': n}
    return {}


class Handler(simlib.ControlHandler):

    def log_message(self, fmt, *args):
        # a GET's query may hold a web identity token: never logged
        if self.server.verbose:
            msg = fmt % args
            query = getattr(self, 'path', '').partition('?')[2]
            simlib.log('%s %s' % (self.address_string(),
                                  msg.replace(query, '<query>') if query else msg))

    def new_entry(self):
        self.journaled = False
        return {
            'time': time.time(), 'request_id': str(uuid.uuid4()),
            'method': self.command, 'path': self.path.partition('?')[0],
            'peer': '%s:%d' % self.client_address, 'sni': getattr(self.connection, 'sni', None),
            'transfer': getattr(self, 'transfer', None),
            'action': None, 'version': None, 'role_arn': None, 'session_name': None,
            'source_identity': None, 'tags': None, 'transitive_tag_keys': None,
            'external_id': None, 'duration': None, 'token_sha256': None,
            'signed_by': None, 'sig_ok': None, 'session': None,
            'reason': None, 'code': None, 'status': None, 'fault': None,
            'issued': None, 'expiration': None,
        }

    def bad_framing(self, e):
        self.server.counters.hit()
        entry = self.new_entry()
        self.error(entry, Refused(e.status, 'InvalidRequest', str(e), 'bad_framing'))

    def handle_service(self, body):
        entry = self.new_entry()
        try:
            self.serve(entry, body)
        except Refused as e:
            self.error(entry, e)
        finally:
            if not self.journaled:      # hang, reset, the client went away mid-answer
                self.server.journal.write(entry)

    def error(self, entry, e):
        entry.update(reason=e.reason, code=e.code)
        self.reply(entry, e.status, error_document(e.code, str(e), entry['request_id'], e.status))

    def reply(self, entry, status, body):
        # Journal before answering: a test that has the response can read the line.
        entry['status'] = status
        self.server.journal.write(entry)
        self.journaled = True
        self.send(status, body, 'text/xml', [('x-amzn-RequestId', entry['request_id'])])

    # -- the request, up to its answer
    def serve(self, entry, body):
        srv, cfg = self.server, self.server.cfg
        path, _, query = self.path.partition('?')
        if srv.tls and not simlib.is_tls(self.connection):
            srv.counters.hit()
            raise Refused(400, 'PlainHttpOnTlsPort', 'The plain HTTP request was sent to the '
                          'HTTPS port (only /_sim/* is served in plain HTTP)', 'plain_http')
        params = self.params(entry, path, query, body)  # counts the request
        action, version = params.get('Action'), params.get('Version')
        entry['version'] = version
        if action is None:
            raise Refused(400, 'MissingAction', 'Missing Action', 'missing_action')
        if action not in ACTIONS:
            raise Refused(400, 'InvalidAction', 'Could not find operation %s for version %s'
                          % (action, version or 'NULL'), 'unknown_action')
        if version != API_VERSION:
            raise Refused(400, 'InvalidAction', 'Could not find operation %s for version %s'
                          % (action, version or 'NULL'), 'bad_version')
        for k, field in (('RoleArn', 'role_arn'), ('RoleSessionName', 'session_name'),
                         ('SourceIdentity', 'source_identity'), ('ExternalId', 'external_id'),
                         ('DurationSeconds', 'duration')):
            entry[field] = params.get(k)
        if params.get('WebIdentityToken') is not None:
            entry['token_sha256'] = hashlib.sha256(params['WebIdentityToken'].encode()).hexdigest()

        if action == 'AssumeRole':
            # unsigned, AssumeRoleWithWebIdentity ignores Authorization and X-Amz-Security-Token
            self.check_signature(entry, body)
        req = check_params(action, params)
        entry.update(duration=req['duration'], tags=req['tags'],
                     transitive_tag_keys=req['transitive'])
        if action == 'AssumeRoleWithWebIdentity':
            self.check_token(req['token'])
        if cfg.roles and req['role_arn'] not in cfg.roles:
            raise Refused(403, 'AccessDenied', self.denied_message(entry, req), 'role_not_allowed')
        self.answer(entry, action, req)

    def params(self, entry, path, query, body):
        """The form's parameters; counts the request, under its Action when it is ours."""
        srv = self.server
        if path != '/' or self.command not in ('GET', 'POST'):
            srv.counters.hit()
            raise Refused(404 if path != '/' else 405, 'InvalidAction',
                          'Could not find operation for %s %s' % (self.command, path), 'bad_route')
        if self.command == 'POST':
            ctype = (self.headers.get('Content-Type') or '').partition(';')[0].strip().lower()
            if ctype != FORM:
                srv.counters.hit()
                raise Refused(400, 'MissingAction', 'Missing Action (a POST must carry '
                              'Content-Type: %s, not %r)' % (FORM, self.headers.get('Content-Type')),
                              'bad_content_type')
            if query:
                srv.counters.hit()
                raise Refused(400, 'InvalidParameterCombination', 'the parameters of a POST go '
                              'in its form body, not in the query string', 'query_on_post')
            form = body
        else:
            form = query.encode('latin-1')
        try:
            pairs = [p for p in simlib.parse_query(form.decode('utf-8')) if p != ('', '')]
        except ValueError as e:
            srv.counters.hit()
            raise Refused(400, 'MalformedInput', 'the form is not UTF-8: %s' % e, 'bad_form')
        params = {}
        for k, v in pairs:
            params.setdefault(k, []).append(v)
        action = entry['action'] = params.get('Action', [None])[0]
        srv.counters.hit(action if action in ACTIONS else None)
        twice = sorted(k for k, v in params.items() if len(v) > 1)
        if twice:
            raise validation([('duplicate_parameter:' + twice[0],
                               'Parameter %s given more than once' % twice[0])])
        return {k: v[0] for k, v in params.items()}

    def check_signature(self, entry, body):
        cfg = self.server.cfg
        info = {}
        try:
            simlib.verify_sigv4(self.command, self.path, list(self.headers.items()), body, info,
                                SERVICE, cfg.region, cfg.keys, cfg.max_skew)
        except SigError as e:
            self.journal_signature(entry, info, False)
            status, code = SIG_ERRORS[e.kind]
            message = 'Request is missing Authentication Token' if e.kind == 'missing' else str(e)
            raise Refused(status, code, message, e.reason)
        self.journal_signature(entry, info, True)

    def journal_signature(self, entry, info, ok):
        entry.update(sig_ok=ok, signed_by=info.get('access_key_id'), session=info.get('session'))
        if 'canonical_request' in info:
            # the session token is signed: the journal keeps its hash only
            entry['canonical_request'] = re.sub(
                r'(?m)^(x-amz-security-token:)(.*)$',
                lambda m: m.group(1) + 'sha256:' + hashlib.sha256(m.group(2).encode()).hexdigest(),
                info['canonical_request'])
            entry['string_to_sign'] = info['string_to_sign']

    def check_token(self, token):
        path = self.server.cfg.token_file
        if path is None:
            return                      # any non-empty token
        try:
            with open(path, 'rb') as f:
                want = f.read().rstrip()
        except OSError:
            raise Refused(400, 'InvalidIdentityToken', INVALID_TOKEN, 'token_file_unreadable')
        if not want or not hmac.compare_digest(token.encode(), want):
            raise Refused(400, 'InvalidIdentityToken', INVALID_TOKEN, 'invalid_identity_token')

    def denied_message(self, entry, req):
        if entry['action'] == 'AssumeRoleWithWebIdentity':
            return 'Not authorized to perform sts:AssumeRoleWithWebIdentity'
        return 'User: %s is not authorized to perform: sts:AssumeRole on resource: %s' % (
            entry['session'] or CALLER, req['role_arn'])

    # -- faults, issuing
    def answer(self, entry, action, req):
        srv = self.server
        kind, params, serial = srv.faults.take_params(action)
        if kind != 'none':
            entry['fault'] = kind
        if kind == '500':
            raise Refused(500, 'InternalFailure', 'The request processing has failed because of '
                          'an unknown error, exception or failure.', 'fault:500')
        if kind == 'throttle':
            raise Refused(400, 'Throttling', 'Rate exceeded', 'fault:throttle')
        if kind == 'denied':
            raise Refused(403, 'AccessDenied', self.denied_message(entry, req), 'fault:denied')
        if kind == 'reset':
            entry['reason'] = 'fault:reset'
            return self.reset_connection()
        if kind == 'hang':
            if not self.hang(HANG_LIMIT, lambda: srv.faults.serial(action) != serial):
                entry['reason'] = 'fault:hang'
                return
        if kind == 'delay':
            srv.stopping.wait(params['seconds'])
        if kind == 'garbage':
            return self.reply(entry, 200, garbage(action))
        if kind in ('truncated', 'expired'):
            # key sets that are never put in the keys file: unusable upstream
            ks = simlib.new_keyset(-60 if kind == 'expired' else self.lifetime(req),
                                   token_bytes=TOKEN_BYTES)
            doc = self.success(entry, action, req, ks)
            return self.reply(entry, 200, doc[:len(doc) // 2] if kind == 'truncated' else doc)

        ks = simlib.new_keyset(self.lifetime(req), token_bytes=TOKEN_BYTES)
        extra = {'session': self.assumed_arn(req)}
        if req['source_identity'] is not None:
            extra['source_identity'] = req['source_identity']
        if req['tags']:
            extra['tags'] = req['tags']
        srv.keys.update(add=simlib.keys_entry(ks, **extra))    # prunes expired entries
        srv.counters.hit('issued', total=False)
        entry.update(issued=ks['AccessKeyId'], expiration=simlib.iso_z(ks['expires']))
        pad = params['size'] if kind == 'oversize' else None
        self.reply(entry, 200, self.success(entry, action, req, ks, pad))

    def lifetime(self, req):
        ttl = req['duration'] or DEFAULT_DURATION
        return min(ttl, self.server.cfg.ttl) if self.server.cfg.ttl else ttl

    def assumed_arn(self, req):
        return 'arn:aws:sts::%s:assumed-role/%s/%s' % (req['account'], req['role_name'],
                                                      req['session_name'])

    def success(self, entry, action, req, ks, size=None):
        """The AWS document; with size, padded to exactly size bytes in an unknown element."""
        user = [('AssumedRoleId', '%s:%s' % (role_id(req['role_arn']), req['session_name'])),
                ('Arn', self.assumed_arn(req))]
        creds = [('AccessKeyId', ks['AccessKeyId']), ('SecretAccessKey', ks['SecretAccessKey']),
                 ('SessionToken', ks['Token']), ('Expiration', simlib.iso_z(ks['expires']))]
        if action == 'AssumeRole':
            result = [('SourceIdentity', req['source_identity'])] if req['source_identity'] else []
            result += [('AssumedRoleUser', user), ('Credentials', creds)]
            if req['tags']:
                result.append(('PackedPolicySize', req['packed']))
        else:
            result = [('SubjectFromWebIdentityToken', SUBJECT), ('Audience', AUDIENCE),
                      ('AssumedRoleUser', user), ('Credentials', creds),
                      ('Provider', 'arn:aws:iam::%s:oidc-provider/%s'
                       % (req['account'], OIDC_ISSUER % self.server.cfg.region))]
        children = [(action + 'Result', result),
                    ('ResponseMetadata', [('RequestId', entry['request_id'])])]
        if size is None:
            return document(action + 'Response', children)
        result.insert(result.index(('Credentials', creds)) + 1, ('SimPadding', ''))
        bare = len(document(action + 'Response', children).encode())
        result[result.index(('SimPadding', ''))] = ('SimPadding', 'x' * max(size - bare, 0))
        return document(action + 'Response', children)


def garbage(action):
    """200 text/xml that no XML parser accepts: a mismatched end tag, an
    undefined entity, '<<' and a NUL; no key material."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">\n  <%sResult>\n'
            '    <Credentials>\n      <AccessKeyId>ASIA&bogus;</SecretAccessKey>\n'
            '    <</Credentials>\x00\n' % (action, NS, action))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True, help='0 picks a free port (see DIR/ready)')
    ap.add_argument('--region', default='us-east-1')
    ap.add_argument('--keys', help='keys file shared with lfv_sim (default DIR/keys.json)')
    ap.add_argument('--plain', action='store_true', help='plain HTTP instead of HTTPS')
    ap.add_argument('--cert-name', action='extend', nargs='+', metavar='NAME',
                    help='the only DNS name(s) of the server cert, instead of '
                    'sts.REGION.amazonaws.com, localhost and IP 127.0.0.1 (to test a failing '
                    'verification)')
    ap.add_argument('--ca-from', metavar='DIR',
                    help="issue the server cert from the CA of another simulator's DIR")
    ap.add_argument('--token-file', help='the only web identity token accepted (re-read on '
                    'every request); without it any non-empty token is')
    ap.add_argument('--role', dest='roles', action='extend', nargs='+', metavar='ARN',
                    help='the only role ARNs that may be assumed (else any well-formed one)')
    ap.add_argument('--ttl', type=int, help='cap on the lifetime of issued credentials, seconds')
    ap.add_argument('--max-skew', type=int, default=300, help='allowed X-Amz-Date skew, seconds')
    ap.add_argument('--verbose', action='store_true')
    cfg = ap.parse_args()
    if cfg.ttl is not None and cfg.ttl < 1:
        ap.error('--ttl must be >= 1')
    if cfg.plain and (cfg.cert_name or cfg.ca_from):
        ap.error('--cert-name and --ca-from need HTTPS (no --plain)')
    cfg.keys = cfg.keys or os.path.join(cfg.dir, 'keys.json')

    simlib.prepare_dir(cfg.dir)
    state = dict(verbose=cfg.verbose, cfg=cfg, tls=not cfg.plain,
                 journal=simlib.Journal(os.path.join(cfg.dir, 'journal.jsonl')),
                 keys=simlib.KeysFile(cfg.keys),
                 counters=simlib.Counters(list(ACTIONS) + ['issued']),
                 faults=simlib.Faults(ACTIONS, FAULT_KINDS, fault_params))
    if cfg.plain:
        server = simlib.ThreadedServer(cfg.port, Handler, **state)
    else:
        # --cert-name: those names only, no IP either, so that verifying 127.0.0.1 fails
        simlib.make_certs(cfg.dir, cfg.cert_name or ['sts.%s.amazonaws.com' % cfg.region,
                                                     'localhost'], cfg.ca_from, 'sts_sim',
                          ip=not cfg.cert_name)
        server = simlib.TLSServer(cfg.port, Handler, ssl_ctx=simlib.tls_context(cfg.dir),
                                  plain_control=True, **state)
    simlib.run(server, cfg.dir, 'sts_sim')


if __name__ == '__main__':
    main()

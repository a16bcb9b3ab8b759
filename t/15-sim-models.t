#!/usr/bin/perl

# The simulator's model hosting state and its read routes, driven by a
# real SDK without nginx: boto3 signs with the simulator's static key and
# walks TRAINED -> STARTING_HOSTING -> HOSTED -> STOPPING_HOSTING ->
# TRAINED, pages through ListModels (a NextToken with '/', '+' and '='
# goes out percent-encoded in the query) and gets the modelled errors.
# Two hand-made requests check that the simulator canonicalizes the
# query as received (decoded, re-encoded the SigV4 way, sorted by key)
# instead of trusting the client's encoding.
# Then its /_sim/* control API, in plain HTTP on the TLS port: every fault
# kind on every operation (a faulted StopModel stops nothing), count,
# target all, the hosting state set and read behind the service's back
# (HOSTING_FAILED in DescribeModel, StopModel's 409 on it), the counters.

use strict;
use warnings;

use Test::More;
use JSON::PP;

# only the simulator runs here: no nginx, so no module is needed
BEGIN { $ENV{LFV_NO_MODULE} = 1 }

use lib 't/lib';
use LFV::Test;
use LFV::Sim;

my $t = LFV::Test->new;

my ($akid, $secret) = ('AKIDSIMMODELS0000001', 'sim/models+secret/000000000000000000001');

my $sim = LFV::Sim->lfv($t, keys => { $akid => { secret => $secret } },
    args => [ '--any-host', '--hosting-delay', '0.5' ]);

my $script = $t->write_file('models.py', <<'EOF');
import http.client
import json
import ssl
import sys
import time

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

port, ca, akid, secret = sys.argv[1:5]
endpoint = 'https://127.0.0.1:%s' % port
client = boto3.client(
    'lookoutvision', region_name='us-east-1', endpoint_url=endpoint, verify=ca,
    aws_access_key_id=akid, aws_secret_access_key=secret,
    config=Config(retries={'max_attempts': 1}, connect_timeout=5, read_timeout=5))
P = 'sim-models'
out = {'ops': []}


def call(op, **kw):
    out['ops'].append(op)
    name = ''.join('_' + c.lower() if c.isupper() else c for c in op).lstrip('_')
    return getattr(client, name)(**kw)


def error(op, **kw):
    try:
        call(op, **kw)
    except client.exceptions.ClientError as e:
        return {'code': e.response['Error']['Code'],
                'message': e.response['Error'].get('Message'),
                'resource': e.response.get('ResourceId'),
                'http': e.response['ResponseMetadata']['HTTPStatusCode']}
    return {'code': None}


def status():
    return call('DescribeModel', ProjectName=P, ModelVersion='1')['ModelDescription']


def poll(want):
    """Describe until `want`, ~10 s at most; returns the last description."""
    deadline = time.monotonic() + 10
    d = status()
    while d['Status'] != want and time.monotonic() < deadline:
        time.sleep(0.1)
        d = status()
    return d


d = status()
out['initial'] = d['Status']
out['initial_units'] = 'MinInferenceUnits' in d
out['timestamp_parsed'] = type(d['CreationTimestamp']).__name__
out['arn'] = d['ModelArn']
out['performance'] = sorted(d['Performance'])
out['start'] = call('StartModel', ProjectName=P, ModelVersion='1', MinInferenceUnits=1,
                    MaxInferenceUnits=2)['Status']
d = poll('HOSTED')
out['hosted'] = d['Status']
out['units'] = [d.get('MinInferenceUnits'), d.get('MaxInferenceUnits')]
out['stop'] = call('StopModel', ProjectName=P, ModelVersion='1')['Status']
d = poll('TRAINED')
out['trained'] = d['Status']
out['trained_units'] = 'MinInferenceUnits' in d

pages, tokens, kw = [], [], {}
for _ in range(10):                         # 3 pages expected
    r = call('ListModels', ProjectName=P, MaxResults=1, **kw)
    pages.append([m['ModelVersion'] for m in r['Models']])
    if 'NextToken' not in r:
        break
    tokens.append(r['NextToken'])
    kw = {'NextToken': r['NextToken']}
out['pages'], out['tokens'] = pages, tokens

d = call('DescribeModel', ProjectName=P, ModelVersion='latest')['ModelDescription']
out['latest'] = [d['ModelVersion'], d['ModelArn'], d['Status']]
d = call('DescribeModel', ProjectName='demo-v5', ModelVersion='latest')['ModelDescription']
out['latest_v5'] = d['ModelVersion']
r = call('ListModels', ProjectName='demo-v5')
out['list_v5'] = [[m['ModelVersion'] for m in r['Models']], 'NextToken' in r]

out['stop_trained'] = error('StopModel', ProjectName=P, ModelVersion='2')
out['bogus_token'] = error('ListModels', ProjectName=P, NextToken='bogus')
out['missing'] = error('DescribeModel', ProjectName='missing', ModelVersion='1')


# By hand: the query on the wire is not in canonical form (keys out of
# order, lower-case hex, '=' left bare), signed over the canonical form;
# then signed over the wire form as it stands; then a bare '+', which the
# simulator decodes as a space, as form decoding does.

ctx = ssl.create_default_context(cafile=ca)


def raw(target, query_for_signing, params):
    req = AWSRequest(method='GET', url=endpoint + target.split('?')[0]
                     + ('?' + query_for_signing if query_for_signing else ''), params=params)
    SigV4Auth(Credentials(akid, secret), 'lookoutvision', 'us-east-1').add_auth(req)
    conn = http.client.HTTPSConnection('127.0.0.1', int(port), context=ctx, timeout=5)
    conn.putrequest('GET', target, skip_host=True, skip_accept_encoding=True)
    conn.putheader('Host', '127.0.0.1:%s' % port)
    for k, v in req.headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    out['ops'].append('ListModels')
    return {'http': resp.status, 'type': resp.getheader('x-amzn-ErrorType'), 'body': body}


token = tokens[0]
wire = token.replace('/', '%2f').replace('+', '%2b')    # '=' stays bare
target = '/2020-11-20/projects/%s/models?nextToken=%s&maxResults=1' % (P, wire)
r = raw(target, None, [('maxResults', '1'), ('nextToken', token)])
out['raw_canonical'] = [r['http'], [m['ModelVersion'] for m in r['body'].get('Models', [])],
                        type(r['body']['Models'][0]['CreationTimestamp']).__name__
                        if r['http'] == 200 else None]
r = raw(target, 'maxResults=1&nextToken=%s' % wire, None)
out['raw_as_is'] = [r['http'], r['type']]
out['wire_target'] = target
bare = '/2020-11-20/projects/%s/models?maxResults=1&nextToken=%s' % (P, token.replace('/', '%2F'))
r = raw(bare, None, [('maxResults', '1'), ('nextToken', token)])
out['raw_bare_plus'] = [r['http'], r['type']]

print(json.dumps(out))
EOF

my $out = do {
    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^AWS_/ } keys %ENV;
    $ENV{AWS_CONFIG_FILE} = $ENV{AWS_SHARED_CREDENTIALS_FILE} = '/dev/null';
    open my $fh, '-|', '/usr/bin/python3', $script, $sim->{port}, $sim->{ca}, $akid, $secret
        or die "python3: $!";
    local $/;
    my $o = <$fh> // '';
    close $fh;
    $o;
};
my $r = eval { decode_json($out) } || {};
ok(%$r, 'script printed its results') or diag $out;

is($r->{initial}, 'TRAINED', 'untouched model is TRAINED');
ok(!$r->{initial_units}, 'no inference units when not hosted');
is($r->{timestamp_parsed}, 'datetime', 'CreationTimestamp parsed by botocore');
is($r->{arn}, 'arn:aws:lookoutvision:us-east-1:123456789012:model/sim-models/1', 'ModelArn');
is_deeply($r->{performance}, [qw(F1Score Precision Recall)], 'Performance members');
is($r->{start}, 'STARTING_HOSTING', 'StartModel');
is($r->{hosted}, 'HOSTED', 'HOSTED after the hosting delay');
is_deeply($r->{units}, [1, 2], 'inference units of the start');
is($r->{stop}, 'STOPPING_HOSTING', 'StopModel');
is($r->{trained}, 'TRAINED', 'TRAINED again after the delay');
ok(!$r->{trained_units}, 'no inference units once stopped');

is_deeply($r->{pages}, [ ['1'], ['2'], ['3'] ], 'ListModels pages, one model each');
is(scalar @{ $r->{tokens} || [] }, 2, 'two NextTokens');
ok(!grep({ !m{/} || !/\+/ || !/=/ } @{ $r->{tokens} || [] }), "tokens hold '/', '+' and '='")
    or diag explain $r->{tokens};
is_deeply($r->{latest},
    [ '3', 'arn:aws:lookoutvision:us-east-1:123456789012:model/sim-models/3', 'TRAINED' ],
    '"latest" is the highest version');
is($r->{latest_v5}, '5', 'project -v5: latest is 5');
is_deeply($r->{list_v5}, [ [1 .. 5], JSON::PP::false ], 'project -v5: five models, one page');

is($r->{stop_trained}{code}, 'ConflictException', 'stopping a TRAINED model');
is($r->{stop_trained}{http}, 409, 'conflict status');
like($r->{stop_trained}{message} // '', qr/TRAINED/, 'message names the state');
is($r->{bogus_token}{code}, 'ValidationException', 'unknown NextToken');
is($r->{bogus_token}{http}, 400, 'unknown NextToken status');
is($r->{missing}{code}, 'ResourceNotFoundException', 'project "missing"');

is_deeply($r->{raw_canonical}, [ 200, ['2'], 'float' ],
    'non-canonical query on the wire, signed over the canonical form');
is_deeply($r->{raw_as_is}, [ 403, 'InvalidSignatureException' ],
    'signed over the wire form as it stands: rejected');
is_deeply($r->{raw_bare_plus}, [ 403, 'InvalidSignatureException' ],
    "a bare '+' is a space, not the signed plus sign");

# what the simulator saw

my @j = $sim->journal;
my @ops = @{ $r->{ops} || [] };
is(scalar @j, scalar @ops, 'one journal entry per request') or diag explain [ map { $_->{path} } @j ];
is_deeply([ map { $_->{operation} } @j ], \@ops, 'operation of every entry');
is_deeply([ map { $_->{sig_ok} ? 1 : 0 } @j ], [ ((1) x (@j - 2)), 0, 0 ],
    'every request signed correctly but the last two')
    or diag explain [ map { $_->{reason} } @j ];
is_deeply([ map { $_->{reason} } @j[-2, -1] ], [ ('signature_mismatch') x 2 ],
    'the last two are signature mismatches');

my @list = grep { $_->{operation} eq 'ListModels' && $_->{sig_ok} } @j;
is($list[0]{query}, 'maxResults=1', 'first page query');
my $enc = $r->{tokens}[0] // '';
$enc =~ s{([^A-Za-z0-9_.~-])}{sprintf '%%%02X', ord $1}ge;
is($list[1]{query}, "maxResults=1&nextToken=$enc", 'token percent-encoded by the SDK');
like($list[1]{canonical_request}, qr/^maxResults=1&nextToken=\Q$enc\E$/m,
    'canonical query as botocore computed it');
my ($hand) = grep { $_->{path} eq $r->{wire_target} && $_->{sig_ok} } @j;
like($hand->{canonical_request} // '', qr/^maxResults=1&nextToken=\Q$enc\E$/m,
    'hand-made query re-encoded and sorted');
my ($stop) = grep { $_->{operation} eq 'StopModel' } @j;
ok($stop->{body} eq '' || $stop->{body} eq '{}', "StopModel body '$stop->{body}'");
my ($describe) = grep { $_->{operation} eq 'DescribeModel' } @j;
like($describe->{canonical_request} // '',
    qr/\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855$/,
    'GET without a body hashes as the empty string');
is($describe->{query}, '', 'no query: empty');

# ---------------------------------------------------------------- control API, faults

my $control = $t->write_file('control.py', <<'EOF');
import http.client
import json
import ssl
import sys
import threading
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

port, ca, akid, secret, journal = sys.argv[1:6]
port = int(port)
ctx = ssl.create_default_context(cafile=ca)
P = 'sim-faults-v60'                # versions 1..60: a fresh one per case
OPS = ('StartModel', 'StopModel', 'DescribeModel', 'ListModels')
res = {}
fresh = iter(range(1, 50))      # 60: "latest"


def control(method, what, body=None, raw=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    data = raw if raw is not None else json.dumps(body) if body is not None else None
    conn.request(method, '/_sim/' + what, body=data, headers={'Content-Type': 'application/json'})
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text.decode('utf-8', 'replace')


def fault(kind, target, **kw):
    return control('POST', 'fault', dict(kw, kind=kind, target=target))


def model(version, project=P):
    return control('GET', 'model?project=%s&version=%s' % (project, version))[1]


def set_model(version, status, project=P, **kw):
    return control('POST', 'model', dict(kw, project=project, version=str(version),
                                         status=status))


def target_of(op, version, project):
    base = '/2020-11-20/projects/%s/models' % project
    return {'StartModel': ('POST', '%s/%s/start' % (base, version), b'{"MinInferenceUnits": 1}'),
            'StopModel': ('POST', '%s/%s/stop' % (base, version), b'{}'),
            'DescribeModel': ('GET', '%s/%s' % (base, version), None),
            'ListModels': ('GET', base + '?maxResults=2', None)}[op]


def call(op, version='1', project=P, timeout=20, key_secret=None, plain=False):
    """One signed request on a new TLS connection: {status, type, ...} or {exception}."""
    method, target, body = target_of(op, version, project)
    path, _, query = target.partition('?')
    params = [tuple(kv.split('=', 1)) for kv in query.split('&')] if query else None
    host = '127.0.0.1:%d' % port
    headers = {'Host': host}
    if body is not None:
        headers['Content-Type'] = 'application/json'
    req = AWSRequest(method=method, url='https://%s%s' % (host, path), data=body or b'',
                     params=params, headers=headers)
    SigV4Auth(Credentials(akid, key_secret or secret), 'lookoutvision',
              'us-east-1').add_auth(req)
    if plain:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, target, body=body, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        data = resp.read()
    except Exception as e:
        return {'exception': type(e).__name__, 'elapsed': time.monotonic() - t0}
    finally:
        conn.close()
    r = {'status': resp.status, 'type': resp.getheader('x-amzn-ErrorType'),
         'retry_after': resp.getheader('Retry-After'), 'ctype': resp.getheader('Content-Type'),
         'length_ok': int(resp.getheader('Content-Length', -1)) == len(data),
         'elapsed': time.monotonic() - t0}
    try:
        r['json'] = json.loads(data)
    except ValueError:
        r['json'] = None
    return r


def settle():
    """Wait (15 s at most) until every counted request is journaled: an
    unanswered one is journaled once the simulator sees the client close."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        total = control('GET', 'counters')[1]['total']
        with open(journal) as f:
            if sum(1 for line in f if line.strip()) >= total:
                return True
        time.sleep(0.05)
    return False


def brief(r):
    """What a faulted answer is made of, for the comparison in Perl."""
    body = r.get('json')
    return {'status': r.get('status'), 'type': r.get('type'), 'retry_after': r.get('retry_after'),
            'json': body is not None, 'answered': 'status' in r,
            'message': isinstance(body, dict) and isinstance(body.get('message'), str)}


# -- the control API
res['plain_only'] = call('DescribeModel', plain=True)
res['plain_only'] = [res['plain_only'].get('status'), res['plain_only'].get('type')]
conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=10)
conn.request('GET', '/_sim/counters')
resp = conn.getresponse()
resp.read()
res['control_on_tls'] = [resp.status, resp.getheader('x-amzn-ErrorType')]
conn.close()
res['control_unknown'] = control('GET', 'rotate')[0]
res['fault_initial'] = control('GET', 'fault')[1]
res['fault_bad'] = [fault('bogus', 'StopModel')[0], fault('status500', 'CreateModel')[0],
                    fault('status500', 'StopModel', count=0)[0], fault('delay', 'StopModel')[0],
                    fault('delay', 'StopModel', seconds=61)[0],
                    fault('status500', 'StopModel', seconds=1)[0],
                    control('POST', 'fault', raw='{')[0]]
res['fault_after_bad'] = control('GET', 'fault')[1]

# -- every kind on every target, count 1: the next request meets it, the one after does not
for kind in ('status500', 'throttle', 'garbage', 'reset', 'hang'):
    for op in OPS:
        v = next(fresh)
        if op == 'StopModel':
            set_model(v, 'HOSTED', min=1)
        before = model(v)['status']
        res.setdefault('set_%s' % kind, {})[op] = fault(kind, op, count=1)[1][op]
        r = call(op, v, timeout=2 if kind == 'hang' else 20)
        settle()
        case = brief(r)
        case['state'] = [before, model(v)['status']]
        case['timed_out'] = r.get('exception') == 'TimeoutError' and r['elapsed'] >= 1.9
        case['consumed'] = control('GET', 'fault')[1][op]['kind']
        case['next'] = call(op, v).get('status')
        res['%s_%s' % (kind, op)] = case

# -- target all, no count: until set again
fault('status500', 'all')
res['all_state'] = control('GET', 'fault')[1]
v = next(fresh)
set_model(v, 'HOSTED')
res['all'] = [call(op, v).get('status') for op in OPS] + [model(v)['status']]
res['all_again'] = [call(op, v).get('status') for op in ('DescribeModel', 'ListModels')]
fault('none', 'all')
res['all_none'] = [call(op, v).get('status') for op in OPS]

# -- count 2
fault('throttle', 'DescribeModel', count=2)
res['count2'] = [call('DescribeModel').get('status'), control('GET', 'fault')[1]['DescribeModel'],
                 call('DescribeModel').get('status'), call('DescribeModel').get('status')]

# -- a fault meets only a request that would be answered normally, of its target
fault('status500', 'StopModel', count=1)
v = next(fresh)
res['not_normal'] = [call('StopModel', v).get('type'),                    # TRAINED: 409
                     call('StopModel', v, key_secret='wrong').get('type'),  # bad signature
                     call('StopModel', v, project='missing').get('type'),
                     call('StopModel', v, project='conflict').get('type'),
                     call('DescribeModel', v).get('status'),
                     call('StartModel', next(fresh)).get('status')]
res['not_normal_kept'] = control('GET', 'fault')[1]['StopModel']
set_model(v, 'HOSTED')
res['not_normal_then'] = [call('StopModel', v).get('status'), model(v)['status']]

# -- delay: the usual answer, late
fault('delay', 'DescribeModel', seconds=1, count=1)
r = call('DescribeModel')
res['delay'] = [r.get('status'), r['elapsed'] >= 0.95, r['json'] and 'ModelDescription' in r['json']]

# -- hang released by a new POST /_sim/fault: then answered as usual (the stop happens then)
v = next(fresh)
set_model(v, 'HOSTED')
fault('hang', 'StopModel', count=1)
box = {}
th = threading.Thread(target=lambda: box.update(call('StopModel', v, timeout=60)))
th.start()
deadline = time.monotonic() + 30
while control('GET', 'fault')[1]['StopModel']['kind'] == 'hang' and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
res['hang_waiting'] = [th.is_alive(), model(v)['status']]
fault('none', 'StopModel')
th.join(60)
res['hang_released'] = [box.get('status'), box.get('json'), model(v)['status'] != 'HOSTED']

# -- the hosting state behind the service's back
v = next(fresh)
res['set_hosted'] = set_model(v, 'HOSTED', min=2, max=3)
res['get_hosted'] = model(v)
d = call('DescribeModel', v)['json']['ModelDescription']
res['describe_hosted'] = [d['Status'], d.get('MinInferenceUnits'), d.get('MaxInferenceUnits')]
res['set_min_only'] = set_model(v, 'HOSTED', min=4)
res['latest'] = [set_model('latest', 'HOSTING_FAILED')[1], model('60')]

v = next(fresh)
res['set_failed'] = set_model(v, 'HOSTING_FAILED')
d = call('DescribeModel', v)['json']['ModelDescription']
res['describe_failed'] = [d['Status'], d['StatusMessage'], 'MinInferenceUnits' in d]
r = call('StopModel', v)
res['stop_failed'] = [r['status'], r['type'], 'HOSTING_FAILED' in r['json']['message'],
                      r['json'].get('ResourceId'), model(v)['status']]
r = call('StartModel', v)
res['start_failed'] = [r['status'], r['json']]
deadline = time.monotonic() + 20
while model(v)['status'] != 'HOSTED' and time.monotonic() < deadline:
    time.sleep(0.05)
res['failed_then_hosted'] = model(v)['status']

models = {}
for status, want in (('STARTING_HOSTING', 'HOSTED'), ('STOPPING_HOSTING', 'TRAINED')):
    v = next(fresh)
    set_model(v, status)
    deadline = time.monotonic() + 20
    while model(v)['status'] != want and time.monotonic() < deadline:
        time.sleep(0.05)
    models[status] = [model(v)['status'],
                      call('DescribeModel', v)['json']['ModelDescription']['Status']]
res['delayed'] = models

v = next(fresh)
set_model(v, 'HOSTED')
res['set_trained'] = [set_model(v, 'TRAINED')[1],
                      call('DescribeModel', v)['json']['ModelDescription']['Status']]
res['models'] = control('GET', 'models')[1]
res['trained_listed'] = ('%s/%d' % (P, v)) in res['models']

v = next(fresh)
set_model(v, 'HOSTED', min=1)
bad = {
    'status': dict(project=P, version=str(v), status='RUNNING'),
    'no_status': dict(project=P, version=str(v)),
    'no_project': dict(version=str(v), status='TRAINED'),
    'bad_project': dict(project='bad name', version=str(v), status='TRAINED'),
    'missing': dict(project='missing', version='1', status='TRAINED'),
    'no_version': dict(project='demo', version='10', status='TRAINED'),
    'bad_version': dict(project=P, version='abc', status='TRAINED'),
    'member': dict(project=P, version=str(v), status='TRAINED', colour='red'),
    'units_trained': dict(project=P, version=str(v), status='TRAINED', min=1),
    'max_below_min': dict(project=P, version=str(v), status='HOSTED', min=3, max=2),
    'min_zero': dict(project=P, version=str(v), status='HOSTED', min=0),
    'min_string': dict(project=P, version=str(v), status='HOSTED', min='1'),
}
res['bad_set'] = {k: control('POST', 'model', b) for k, b in bad.items()}
res['bad_set']['not_json'] = control('POST', 'model', raw='{"project":')
res['bad_set']['array'] = control('POST', 'model', raw='[]')
res['bad_get'] = [control('GET', 'model?project=' + P)[0],
                  control('GET', 'model?project=%s&version=1&x=1' % P)[0],
                  control('GET', 'model?project=%s&version=61' % P)[0],
                  control('GET', 'model')[0]]
res['bad_unchanged'] = model(v)

settle()
print(json.dumps(res))
EOF

my $res = do {
    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^AWS_/ } keys %ENV;
    $ENV{AWS_CONFIG_FILE} = $ENV{AWS_SHARED_CREDENTIALS_FILE} = '/dev/null';
    open my $fh, '-|', '/usr/bin/timeout', '240', '/usr/bin/python3', $control, $sim->{port},
        $sim->{ca}, $akid, $secret, $sim->{journal} or die "python3: $!";
    local $/;
    my $o = <$fh> // '';
    close $fh;
    eval { decode_json($o) } || { raw => $o, status => $? };
};
ok(!exists $res->{raw}, 'control script printed its results') or diag explain $res;

my ($T, $F) = (JSON::PP::true, JSON::PP::false);
my @operations = qw(StartModel StopModel DescribeModel ListModels);

is_deeply($res->{plain_only}, [ 400, 'PlainHttpOnTlsPort' ],
    'plain HTTP on the TLS port: only /_sim/* is served');
is_deeply($res->{control_on_tls}, [ 403, 'MissingAuthenticationTokenException' ],
    'no control API through TLS: /_sim/* there is a service request');
is($res->{control_unknown}, 404, 'unknown control endpoint: 404');
is_deeply($res->{fault_initial}, { map { $_ => { kind => 'none', count => undef } } @operations },
    'GET /_sim/fault: no fault at start');
is_deeply($res->{fault_bad}, [ (400) x 7 ], 'bad fault requests refused');
is_deeply($res->{fault_after_bad}, $res->{fault_initial}, 'a refused fault request sets nothing');

my %answer = (      # what each kind answers in place of the usual answer
    status500 => { status => 500, type => 'InternalServerException', retry_after => undef,
                   json => $T, answered => $T, message => $T },
    throttle  => { status => 429, type => 'ThrottlingException', retry_after => '1',
                   json => $T, answered => $T, message => $T },
    garbage   => { status => 200, type => undef, retry_after => undef,
                   json => $F, answered => $T, message => $F },
    reset     => { status => undef, type => undef, retry_after => undef,
                   json => $F, answered => $F, message => $F },
    hang      => { status => undef, type => undef, retry_after => undef,
                   json => $F, answered => $F, message => $F },
);
my %unchanged = (StartModel => 'TRAINED', StopModel => 'HOSTED', DescribeModel => 'TRAINED',
    ListModels => 'TRAINED');
my %next = (StartModel => 202, StopModel => 202, DescribeModel => 200, ListModels => 200);
for my $kind (sort keys %answer) {
    is_deeply($res->{"set_$kind"}, { map { $_ => { kind => $kind, count => 1 } } @operations },
        "fault $kind: set on each target with count 1");
    for my $op (@operations) {
        my $c = $res->{"${kind}_$op"} || {};
        is_deeply({ map { $_ => $c->{$_} } keys %{ $answer{$kind} } }, $answer{$kind},
            "fault $kind, $op: its answer") or diag explain $c;
        is_deeply($c->{state}, [ ($unchanged{$op}) x 2 ], "fault $kind, $op: model state unchanged")
            or diag explain $c;
        is_deeply([ $c->{consumed}, $c->{next} ], [ 'none', $next{$op} ],
            "fault $kind, $op: count 1 used up, the next request answered as usual");
    }
}
ok(!grep({ !$res->{"hang_$_"}{timed_out} } @operations), 'fault hang: no answer until the client gave up');

is_deeply($res->{all_state}, { map { $_ => { kind => 'status500', count => undef } } @operations },
    'target all: every operation, no count');
is_deeply($res->{all}, [ 500, 500, 500, 500, 'HOSTED' ], 'target all: every operation faulted');
is_deeply($res->{all_again}, [ 500, 500 ], 'without count: until set again');
is_deeply($res->{all_none}, [ 202, 202, 200, 200 ], 'kind none, target all: answered as usual');
is_deeply($res->{count2}, [ 429, { kind => 'throttle', count => 1 }, 429, 200 ],
    'count 2: two requests, one left after the first');
is_deeply($res->{not_normal}, [ 'ConflictException', 'InvalidSignatureException',
    'ResourceNotFoundException', 'ConflictException', 200, 202 ],
    'a fault meets only a request of its target that would be answered normally');
is_deeply($res->{not_normal_kept}, { kind => 'status500', count => 1 }, '... and is not used up');
is_deeply($res->{not_normal_then}, [ 500, 'HOSTED' ],
    'then it meets the StopModel that would stop, which stops nothing');
is_deeply($res->{delay}, [ 200, $T, $T ], 'fault delay: the usual answer after 1 s');
is_deeply($res->{hang_waiting}, [ $T, 'HOSTED' ], 'fault hang: waiting, the model not stopped');
is_deeply($res->{hang_released}, [ 202, { Status => 'STOPPING_HOSTING' }, $T ],
    'fault hang released by setting the fault again: answered, the stop done then')
    or diag explain $res->{hang_released};

is_deeply($res->{set_hosted}, [ 200, { status => 'HOSTED', min => 2, max => 3 } ],
    'POST /_sim/model: HOSTED with units');
is_deeply($res->{get_hosted}, { status => 'HOSTED', min => 2, max => 3 }, 'GET /_sim/model');
is_deeply($res->{describe_hosted}, [ 'HOSTED', 2, 3 ], 'DescribeModel shows the state set');
is_deeply($res->{set_min_only}, [ 200, { status => 'HOSTED', min => 4, max => 4 } ],
    'no max: max = min');
is_deeply($res->{latest}, [ ({ status => 'HOSTING_FAILED', min => undef, max => undef }) x 2 ],
    '"latest" sets the highest version');
is_deeply($res->{set_failed}, [ 200, { status => 'HOSTING_FAILED', min => undef, max => undef } ],
    'POST /_sim/model: HOSTING_FAILED');
is_deeply($res->{describe_failed}, [ 'HOSTING_FAILED', 'Hosting failed.', $F ],
    'DescribeModel: HOSTING_FAILED, no units');
my $failed_v = $res->{stop_failed}[3] // '';
is_deeply($res->{stop_failed}, [ 409, 'ConflictException', $T, $failed_v, 'HOSTING_FAILED' ],
    'StopModel of a HOSTING_FAILED model: 409 naming the state, nothing changed');
like($failed_v, qr{^sim-faults-v60/\d+$}, 'conflict ResourceId');
is_deeply($res->{start_failed}, [ 202, { Status => 'STARTING_HOSTING' } ],
    'StartModel of a HOSTING_FAILED model');
is($res->{failed_then_hosted}, 'HOSTED', '... then HOSTED after the delay');
is_deeply($res->{delayed}, { STARTING_HOSTING => [ ('HOSTED') x 2 ],
    STOPPING_HOSTING => [ ('TRAINED') x 2 ] }, 'a state set moves on after the hosting delay');
is_deeply($res->{set_trained}, [ { status => 'TRAINED', min => undef, max => undef }, 'TRAINED' ],
    'POST /_sim/model: back to TRAINED');
my $m = $res->{models} || {};
is_deeply($m->{ $res->{stop_failed}[3] // '' }, { status => 'HOSTED', min => 1, max => 1 },
    'GET /_sim/models: a model started');
is_deeply($m->{'sim-faults-v60/60'}, { status => 'HOSTING_FAILED', min => undef, max => undef },
    'GET /_sim/models: a model set');
ok(!grep({ $_->{status} eq 'TRAINED' } values %$m) && !$res->{trained_listed},
    'GET /_sim/models: no TRAINED model');
my $bad = $res->{bad_set} || {};
is_deeply({ map { $_ => $bad->{$_}[0] } keys %$bad }, { map { $_ => 400 } keys %$bad },
    'bad POST /_sim/model: 400') or diag explain $bad;
ok(!grep({ ref $_->[1] ne 'HASH' || !$_->[1]{error} } values %$bad), '... with an error');
is_deeply($res->{bad_get}, [ 400, 400, 400, 400 ], 'bad GET /_sim/model: 400');
is_deeply($res->{bad_unchanged}, { status => 'HOSTED', min => 1, max => 1 },
    'a refused POST /_sim/model changes nothing');

# ---------------------------------------------------------------- counters, journal

@j = $sim->journal;
my $c = $sim->control(GET => 'counters');
is($c->{total}, scalar @j, 'counter total: one per journaled request') or diag explain $c;
for my $op (@operations) {
    is($c->{$op}, scalar(grep { ($_->{operation} // '') eq $op } @j), "counter $op");
}
is_deeply($sim->control(POST => 'reset'), { (map { $_ => 0 } @operations), total => 0 },
    'POST /_sim/reset zeroes the counters');
is_deeply($sim->control(GET => 'counters'), { (map { $_ => 0 } @operations), total => 0 },
    'GET /_sim/counters after the reset');

ok(!grep({ !exists $_->{fault} } @j), 'every journal record has "fault"');
my %met;
$met{"$_->{fault} $_->{operation}"}++ for grep { defined $_->{fault} } @j;
is_deeply([ sort keys %met ],
    [ sort 'delay DescribeModel',
      map { my $k = $_; map { "$k $_" } @operations } qw(status500 throttle garbage reset hang) ],
    'journal: every kind met on every operation (delay and the released hang on theirs)')
    or diag explain \%met;
my @faulted = grep { defined $_->{fault} } @j;
ok(!grep({ !$_->{sig_ok} || $_->{reason} ne 'ok' } @faulted), 'journal: faulted requests were signed');
my %status;
push @{ $status{ $_->{fault} } }, $_->{status} // 'null' for @faulted;
is_deeply({ map { my %u = map { $_ => 1 } @{ $status{$_} }; ($_ => [ sort keys %u ]) } keys %status },
    { status500 => [500], throttle => [429], garbage => [200], reset => ['null'],
      hang => [ 202, 'null' ], delay => [200] }, 'journal: the status sent, null when none')
    or diag explain \%status;

$t->kill_spawned;       # its log complete
my $log = LFV::Test::_slurp($t->prefix . '/lfv.log') // '';
unlike($log, qr/Traceback/, 'no traceback in the simulator\'s log') or diag $log;
like($log, qr/^lfv_sim: listening on 127\.0\.0\.1:\d+ .*\nlfv_sim: stopped\n\z/,
    'lfv_sim log: started and stopped cleanly');

$t->done;

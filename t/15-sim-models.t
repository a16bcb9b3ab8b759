#!/usr/bin/perl

# The simulator's model hosting state and its read routes, driven by a
# real SDK without nginx: boto3 signs with the simulator's static key and
# walks TRAINED -> STARTING_HOSTING -> HOSTED -> STOPPING_HOSTING ->
# TRAINED, pages through ListModels (a NextToken with '/', '+' and '='
# goes out percent-encoded in the query) and gets the modelled errors.
# Two hand-made requests check that the simulator canonicalizes the
# query as received (decoded, re-encoded the SigV4 way, sorted by key)
# instead of trusting the client's encoding.

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

$t->done;

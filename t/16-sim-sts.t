#!/usr/bin/perl

# The STS simulator, driven by a real SDK without nginx. boto3 gets keys
# with AssumeRoleWithWebIdentity (the token file's token; a stale one
# after the file is rewritten is refused) and with AssumeRole signed by
# a base key of the shared keys file; lfv_sim accepts the issued keys and
# journals the role session that signed. Wrong signatures, unknown and
# expired keys, a role not in --role, bad parameters are refused with the
# AWS codes; every fault kind answers as t/sim/README.md says; --plain,
# --ttl, --cert-name and --ca-from work; the journal holds one record
# per request and, like the simulator's log, no secret.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time sleep);

# only the simulators run here: no nginx, so no module is needed
BEGIN { $ENV{LFV_NO_MODULE} = 1 }

use lib 't/lib';
use LFV::Test;
use LFV::Sim;

my $t = LFV::Test->new;

my ($base, $base_secret) = ('AKIDSTSBASE000000001', 'sts/base+secret/000000000000000000000001');
my $account = '123456789012';
my $role = "arn:aws:iam::$account:role/lfv-proxy";
my $web_role = "arn:aws:iam::$account:role/eks/lfv-web";
my @tokens = ('web-token-one-5f0c1e', 'web-token-two-9a7d3b', 'plain-any-token-41c2');

my $lfv = LFV::Sim->lfv($t, keys => { $base => { secret => $base_secret } },
    args => [ '--any-host' ]);
my $token_file = $t->write_file('web-identity-token', "$tokens[0]\n");
my $sts = LFV::Sim->sts($t, args => [ '--token-file', $token_file, '--role', $role, $web_role,
    '--ca-from', $lfv->{dir} ]);

my $sts_ep = "https://127.0.0.1:$sts->{port}";
my $lfv_ep = "https://127.0.0.1:$lfv->{port}";
my $ca = $lfv->{ca};            # --ca-from: lfv_sim's CA verifies both
my @secrets = ($base_secret, @tokens);

# a python command under a time bound, AWS_* of the caller's environment out
sub python {
    my @cmd = @_;
    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^AWS_/ } keys %ENV;
    $ENV{AWS_CONFIG_FILE} = $ENV{AWS_SHARED_CREDENTIALS_FILE} = '/dev/null';
    open my $fh, '-|', '/usr/bin/timeout', '120', '/usr/bin/python3', @cmd
        or die "python3: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return eval { decode_json($out) } || { raw => $out, status => $? };
}

sub sdk {
    my $r = python($t->repo . '/t/sdk/sts_client.py', @_);
    if (my $c = $r->{ok} && $r->{ok}{Credentials}) {
        push @secrets, $c->{SecretAccessKey}, $c->{SessionToken};
    }
    return $r;
}

sub keys_file { decode_json(LFV::Test::_slurp($sts->{keys}) || '{}') }

# seconds from now to an ISO 8601 time as boto3 prints it (UTC)
sub until_iso {
    my ($iso) = @_;
    my ($y, $mo, $d, $h, $mi, $s) = ($iso // '') =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)/
        or return undef;
    require Time::Local;
    return Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y) - time;
}

is(LFV::Test::_slurp("$sts->{dir}/ca.pem"), LFV::Test::_slurp($lfv->{ca}),
    '--ca-from: the same CA file in both directories');

# ---------------------------------------------------------------- web identity

my $r = sdk('web', $sts_ep, $ca, $web_role, 'web-session', "\@$token_file");
my $web = $r->{ok} || {};
ok($r->{ok}, 'AssumeRoleWithWebIdentity with the file\'s token') or diag explain $r;
my $wc = $web->{Credentials} || {};
like($wc->{AccessKeyId} // '', qr/^ASIA[A-Z0-9]{16}$/, 'access key id: ASIA + 16');
is(length($wc->{SecretAccessKey} // ''), 40, '40-char secret');
cmp_ok(length($wc->{SessionToken} // ''), '>', 700, 'a long session token');
my $left = until_iso($wc->{Expiration});
ok(defined $left && $left > 3000 && $left <= 3600, 'default lifetime 3600 s')
    or diag "expires in " . ($left // 'undef');
my $web_arn = "arn:aws:sts::$account:assumed-role/lfv-web/web-session";
is($web->{AssumedRoleUser}{Arn}, $web_arn, 'assumed-role ARN (role path dropped)');
like($web->{AssumedRoleUser}{AssumedRoleId} // '', qr/^AROA[A-Z0-9]{17}:web-session$/,
    'AssumedRoleId');
is($web->{SubjectFromWebIdentityToken}, 'system:serviceaccount:default:proxy', 'subject');
is($web->{Audience}, 'sts.amazonaws.com', 'audience');
like($web->{Provider} // '', qr{^arn:aws:iam::$account:oidc-provider/oidc\.eks\.}, 'provider');

my $k = keys_file()->{ $wc->{AccessKeyId} // '' } || {};
is($k->{session}, $web_arn, 'keys file: the issued key with its session');
is($k->{secret}, $wc->{SecretAccessKey}, 'keys file: its secret');

$r = sdk('lfv', $lfv_ep, $ca, @$wc{qw(AccessKeyId SecretAccessKey SessionToken)},
    'describe_model', 'sts-project', '1');
is($r->{ok} && $r->{ok}{ModelDescription}{Status}, 'TRAINED', 'lfv_sim accepts the web identity keys')
    or diag explain $r;
my @lj = $lfv->journal;
is($lj[-1]{session}, $web_arn, 'lfv_sim journal: the role session that signed');

$t->write_file('web-identity-token', "$tokens[1]\n");
$r = sdk('web', $sts_ep, $ca, $web_role, 'web-session', $tokens[0]);
is($r->{error}, 'InvalidIdentityToken', 'the stale token after the file was rewritten');
is($r->{http}, 400, 'InvalidIdentityToken status');
$r = sdk('web', $sts_ep, $ca, $web_role, 'web-session-2', "\@$token_file");
ok($r->{ok}, 'the new token of the file') or diag explain $r;

$r = sdk('web', $sts_ep, $ca, "arn:aws:iam::$account:role/not-listed", 'web-session', $tokens[1]);
is($r->{error}, 'AccessDenied', 'web identity: a role not in --role');
is($r->{http}, 403, 'AccessDenied status');
is($r->{message}, 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 'its message');

# ---------------------------------------------------------------- AssumeRole

$r = sdk('assume', $sts_ep, $ca, $base, $base_secret, '-', $role, 'proxy-session',
    '--duration', 1800, '--source-identity', 'alice@example', '--tag', 'team=vision',
    '--tag', 'env=ci', '--transitive', 'team', '--external-id', 'ext-123');
my $ar = $r->{ok} || {};
ok($r->{ok}, 'AssumeRole signed by boto3 with a base key') or diag explain $r;
my $ac = $ar->{Credentials} || {};
my $role_arn = "arn:aws:sts::$account:assumed-role/lfv-proxy/proxy-session";
is($ar->{AssumedRoleUser}{Arn}, $role_arn, 'assumed-role ARN');
is($ar->{SourceIdentity}, 'alice@example', 'SourceIdentity');
cmp_ok($ar->{PackedPolicySize} // 0, '>=', 1, 'PackedPolicySize with tags');
$left = until_iso($ac->{Expiration});
ok(defined $left && $left > 1200 && $left <= 1800, 'DurationSeconds 1800')
    or diag "expires in " . ($left // 'undef');
$k = keys_file()->{ $ac->{AccessKeyId} // '' } || {};
is($k->{session}, $role_arn, 'keys file: session');
is($k->{source_identity}, 'alice@example', 'keys file: source_identity');
is_deeply($k->{tags}, { team => 'vision', env => 'ci' }, 'keys file: tags');

$r = sdk('lfv', $lfv_ep, $ca, @$ac{qw(AccessKeyId SecretAccessKey SessionToken)},
    'start_model', 'sts-project', '1');
is($r->{ok} && $r->{ok}{Status}, 'STARTING_HOSTING', 'StartModel signed with the assumed keys')
    or diag explain $r;
$r = sdk('lfv', $lfv_ep, $ca, $base, $base_secret, '-', 'describe_model', 'sts-project', '1');
ok($r->{ok}, 'DescribeModel signed with the base key');
@lj = $lfv->journal;
is_deeply([ map { [ $_->{operation}, $_->{sig_ok} ? 1 : 0, $_->{session} ] } @lj[-2, -1] ],
    [ [ 'StartModel', 1, $role_arn ], [ 'DescribeModel', 1, undef ] ],
    'lfv_sim journal: session of the assumed keys, null for the base key');

# role chaining: AssumeRole signed with assumed keys
$r = sdk('assume', $sts_ep, $ca, @$ac{qw(AccessKeyId SecretAccessKey SessionToken)}, $web_role,
    'chained');
ok($r->{ok}, 'AssumeRole signed with assumed keys (role chaining)') or diag explain $r;

# refusals
my %refused;
$refused{signature} = sdk('assume', $sts_ep, $ca, $base, 'wrong/secret', '-', $role, 'x-session');
$refused{unknown} = sdk('assume', $sts_ep, $ca, 'AKIDSTSUNKNOWN000001', $base_secret, '-', $role,
    'x-session');
$refused{role} = sdk('assume', $sts_ep, $ca, $base, $base_secret, '-',
    "arn:aws:iam::$account:role/not-listed", 'x-session');
$refused{session_name} = sdk('assume', $sts_ep, $ca, $base, $base_secret, '-', $role, 'bad name');
$refused{duration} = sdk('assume', $sts_ep, $ca, $base, $base_secret, '-', $role, 'x-session',
    '--duration', 50000);
$refused{unsigned} = sdk('assume', $sts_ep, $ca, $base, $base_secret, '-', $role, 'x-session',
    '--unsigned');
$refused{no_token} = sdk('assume', $sts_ep, $ca, @$ac{qw(AccessKeyId SecretAccessKey)}, '-', $role,
    'x-session');
$sts->add_keys({ AKIDSTSEXPIRED000001 => { secret => $base_secret, expires => int(time) - 5 } });
$refused{expired} = sdk('assume', $sts_ep, $ca, 'AKIDSTSEXPIRED000001', $base_secret, '-', $role,
    'x-session');

my %want = (
    signature    => [ 403, 'SignatureDoesNotMatch' ],
    unknown      => [ 403, 'InvalidClientTokenId' ],
    role         => [ 403, 'AccessDenied' ],
    session_name => [ 400, 'ValidationError' ],
    duration     => [ 400, 'ValidationError' ],
    unsigned     => [ 403, 'MissingAuthenticationToken' ],
    no_token     => [ 403, 'InvalidClientTokenId' ],
    expired      => [ 403, 'ExpiredToken' ],
);
for my $case (sort keys %want) {
    is_deeply([ $refused{$case}{http}, $refused{$case}{error} ], $want{$case}, "refused: $case")
        or diag explain $refused{$case};
}
is($refused{role}{message}, "User: arn:aws:iam::$account:user/sim is not authorized to perform: "
    . "sts:AssumeRole on resource: arn:aws:iam::$account:role/not-listed", 'AccessDenied message');
like($refused{session_name}{message} // '',
    qr/^1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint/,
    'ValidationError message');
like($refused{duration}{message} // '', qr/less than or equal to 43200/, 'DurationSeconds range');

# ---------------------------------------------------------------- --plain, --ttl, --cert-name

my $plain = LFV::Sim->sts($t, name => 'sts-plain', args => [ '--plain', '--ttl', 5 ]);
ok(!defined $plain->{ca}, '--plain: no CA');
my $plain_ep = "http://127.0.0.1:$plain->{port}";
$r = sdk('web', $plain_ep, '-', "arn:aws:iam::$account:role/any-role", 'plain-session', $tokens[2]);
ok($r->{ok}, '--plain, no --token-file, no --role: any token, any role') or diag explain $r;
$left = until_iso($r->{ok} && $r->{ok}{Credentials}{Expiration});
ok(defined $left && $left <= 5, '--ttl caps the lifetime') or diag "expires in " . ($left // 'undef');
$r = sdk('assume', $plain_ep, '-', $base, $base_secret, '-', $role, 'plain-session');
ok($r->{ok}, '--plain: AssumeRole') or diag explain $r;

# (its handshakes are made by the script below, with the names to verify)
my $badname = LFV::Sim->sts($t, name => 'sts-badname', args => [ '--cert-name', 'other.example' ]);

# ---------------------------------------------------------------- raw requests, faults

my $script = $t->write_file('sts_raw.py', <<'EOF');
import hashlib
import http.client
import json
import socket
import ssl
import sys
import threading
import time
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

port, ca, token_file, keys_path, akid, secret, role, web_role, bad_port, bad_ca = sys.argv[1:11]
port, bad_port = int(port), int(bad_port)
NS = '{https://sts.amazonaws.com/doc/2011-06-15/}'
FORM = 'application/x-www-form-urlencoded; charset=utf-8'
ctx = ssl.create_default_context(cafile=ca)
out = {'secrets': []}


def token():
    with open(token_file) as f:
        return f.read().strip()


def form(pairs):
    from urllib.parse import urlencode
    return urlencode(pairs).encode()


def web_form(session='raw-session', extra=()):
    return form([('Action', 'AssumeRoleWithWebIdentity'), ('Version', '2011-06-15'),
                 ('RoleArn', web_role), ('RoleSessionName', session),
                 ('WebIdentityToken', token())] + list(extra))


def role_form(session='raw-session', extra=()):
    return form([('Action', 'AssumeRole'), ('Version', '2011-06-15'), ('RoleArn', role),
                 ('RoleSessionName', session)] + list(extra))


def signed(body, host='127.0.0.1:%d' % port):
    req = AWSRequest(method='POST', url='https://%s/' % host, data=body,
                     headers={'Content-Type': FORM, 'Host': host})
    SigV4Auth(Credentials(akid, secret), 'sts', 'us-east-1').add_auth(req)
    return dict(req.headers.items())


def request(body, headers=None, method='POST', target='/', timeout=20, plain=False,
            chunked=False):
    """One request on a new connection: {status, ctype, length, size, text, ...} or {exception}."""
    if plain:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=timeout)
    h = {'Content-Type': FORM} if headers is None else headers
    t0 = time.monotonic()
    try:
        if chunked:
            half = len(body) // 2
            conn.request(method, target, body=iter([body[:half], body[half:]]), headers=h,
                         encode_chunked=True)
        else:
            conn.request(method, target, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
    except Exception as e:
        return {'exception': type(e).__name__, 'elapsed': time.monotonic() - t0}
    finally:
        conn.close()
    r = {'status': resp.status, 'ctype': resp.getheader('Content-Type'),
         'length': int(resp.getheader('Content-Length', -1)), 'size': len(data),
         'request_id': resp.getheader('x-amzn-RequestId'), 'elapsed': time.monotonic() - t0,
         'text': data.decode('utf-8', 'replace')}
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        r['parses'] = False
        return r
    r['parses'] = True
    r['root'] = root.tag.replace(NS, '')
    err = root.find(NS + 'Error')
    if err is not None:
        r['error'] = {c.tag.replace(NS, ''): c.text for c in err}
        r['error_request_id'] = root.findtext(NS + 'RequestId')
    result = root[0] if len(root) else None
    if result is not None and result.tag.endswith('Result'):
        r['result_children'] = [c.tag.replace(NS, '') for c in result]
        creds = result.find(NS + 'Credentials')
        if creds is not None:
            r['creds'] = {c.tag.replace(NS, ''): c.text for c in creds}
            out['secrets'] += [r['creds']['SecretAccessKey'], r['creds']['SessionToken']]
        r['metadata_request_id'] = root.findtext(NS + 'ResponseMetadata/' + NS + 'RequestId')
    return r


def control(method, what, body=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request(method, '/_sim/' + what, body=json.dumps(body) if body is not None else None,
                 headers={'Content-Type': 'application/json'})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def fault(kind, target='AssumeRoleWithWebIdentity', **kw):
    return control('POST', 'fault', dict(kw, kind=kind, target=target))


def in_keys(akid):
    with open(keys_path) as f:
        return akid in json.load(f)


def expires_in(creds):
    t = time.strptime(creds['Expiration'], '%Y-%m-%dT%H:%M:%SZ')
    import calendar
    return calendar.timegm(t) - time.time()


def handshake(p, cafile, name):
    """A TLS handshake with 127.0.0.1:p verifying the certificate for `name`."""
    c = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection(('127.0.0.1', p), timeout=10) as raw:
            with c.wrap_socket(raw, server_hostname=name):
                return 'ok'
    except ssl.SSLCertVerificationError:
        return 'verify_failed'
    except Exception as e:
        return type(e).__name__


res = out['results'] = {}

# -- the certificates
res['tls'] = [handshake(port, ca, n) for n in ('sts.us-east-1.amazonaws.com', 'localhost',
                                               '127.0.0.1', 'sts.eu-west-1.amazonaws.com')]
res['tls_cert_name'] = [handshake(bad_port, bad_ca, n) for n in ('sts.us-east-1.amazonaws.com',
                                                                 'localhost', '127.0.0.1',
                                                                 'other.example')]

# -- the protocol
r = request(role_form('raw-role', [('SourceIdentity', 'bob'), ('Tags.member.1.Key', 'k'),
                                   ('Tags.member.1.Value', 'v')]), None)
res['unsigned_role'] = [r['status'], r.get('error', {}).get('Code')]
body = role_form('raw-role', [('SourceIdentity', 'bob'), ('Tags.member.1.Key', 'k'),
                              ('Tags.member.1.Value', 'v')])
r = request(body, signed(body))
res['role_doc'] = {k: r.get(k) for k in ('status', 'ctype', 'root', 'result_children')}
res['role_doc']['ids'] = r.get('request_id') == r.get('metadata_request_id')
res['role_doc']['pretty'] = r['text'].startswith(
    '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <AssumeRoleResult>\n'
    '    <SourceIdentity>bob</SourceIdentity>\n    <AssumedRoleUser>\n      <AssumedRoleId>AROA')
res['role_doc']['ends'] = r['text'].endswith('</RequestId>\n  </ResponseMetadata>\n'
                                             '</AssumeRoleResponse>\n')
res['role_doc']['in_keys'] = in_keys(r['creds']['AccessKeyId'])

r = request(web_form())
res['web_doc'] = {k: r.get(k) for k in ('status', 'ctype', 'root', 'result_children')}

host = 'sts.us-east-1.amazonaws.com'
body = role_form('raw-host')
h = signed(body, host)
r = request(body, h)
res['any_host'] = r['status']
h['Host'] = '127.0.0.1:%d' % port          # signed for another Host than the one sent
r = request(body, h)
res['host_as_received'] = [r['status'], r.get('error', {}).get('Code')]

r = request(web_form('raw-get'), method='GET',
            target='/?' + web_form('raw-get').decode(), headers={})
res['get'] = [r['status'], r.get('root')]
r = request(web_form('raw-chunked'), chunked=True)
res['chunked'] = r['status']
r = request(web_form('raw-plus').replace(b'raw-plus', b'raw%2Bplus'))
res['percent'] = r['status']
r = request(web_form(), {'Content-Type': FORM, 'Authorization': 'AWS4-HMAC-SHA256 junk',
                         'X-Amz-Security-Token': 'junk'})
res['web_ignores_auth'] = r['status']

bad = {
    'version': form([('Action', 'AssumeRoleWithWebIdentity'), ('Version', '2010-01-01')]),
    'no_version': form([('Action', 'AssumeRoleWithWebIdentity')]),
    'no_action': form([('Version', '2011-06-15')]),
    'unknown_action': form([('Action', 'GetCallerIdentity'), ('Version', '2011-06-15')]),
    'no_role': form([('Action', 'AssumeRoleWithWebIdentity'), ('Version', '2011-06-15'),
                     ('RoleSessionName', 'ab'), ('WebIdentityToken', token())]),
    'bad_arn': web_form(extra=()).replace(b'role%2Feks', b'user%2Feks'),
    'short_name': web_form('a'),
    'unknown_param': web_form(extra=[('Bogus', '1')]),
    'twice': web_form(extra=[('RoleSessionName', 'again')]),
    'bad_token': web_form().replace(token().encode(), b'not-the-token'),
}
for name, body in bad.items():
    r = request(body)
    res['bad_' + name] = [r['status'], r.get('error', {}).get('Code'),
                          r.get('error', {}).get('Message'), r.get('error', {}).get('Type'),
                          r.get('request_id') == r.get('error_request_id')]
r = request(web_form(), {'Content-Type': 'application/json'})
res['bad_ctype'] = [r['status'], r.get('error', {}).get('Code')]
r = request(web_form(), target='/?x=1')
res['bad_query_on_post'] = [r['status'], r.get('error', {}).get('Code')]
r = request(web_form(), plain=True)
res['plain_on_tls'] = [r['status'], r.get('error', {}).get('Code')]

# a chunked body that is not: 400, the connection closed
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10),
                    server_hostname='localhost')
s.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: ' + FORM.encode() +
          b'\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nAction=AssumeRoleWithWebIdentity&\r\n0\r\n\r\n')
data = b''
try:
    for _ in range(100):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except (OSError, ssl.SSLError):
    pass                        # closed without close_notify
s.close()
res['bad_framing'] = data.split(b'\r\n', 1)[0].decode()

# -- faults
res['fault_bad'] = [fault('bogus')[0], fault('delay')[0], fault('oversize', size=10)[0],
                    fault('500', target='GetCallerIdentity')[0], fault('500', seconds=1)[0]]


def web_status(r):
    return [r.get('status'), r.get('ctype'), r.get('error', {}).get('Code'),
            r.get('error', {}).get('Message'), r.get('error', {}).get('Type')]


fault('500')
res['f500'] = web_status(request(web_form()))
body = role_form('raw-other-target')
res['f500_other_target'] = request(body, signed(body))['status']
fault('throttle')
res['fthrottle'] = web_status(request(web_form()))
fault('denied', target='all')
res['fdenied'] = web_status(request(web_form()))
body = role_form('raw-denied')
res['fdenied_role'] = web_status(request(body, signed(body)))

fault('garbage')
r = request(web_form())
res['fgarbage'] = [r['status'], r['ctype'], r['parses'], r['length'] == r['size'],
                   'SecretAccessKey>' in r['text'] and 'SessionToken' in r['text']]

fault('truncated')
r = request(web_form())
akid_seen = r['text'].partition('<AccessKeyId>')[2].partition('<')[0]
res['ftruncated'] = [r['status'], r['ctype'], r['parses'], r['length'] == r['size'],
                     r['text'].startswith('<AssumeRoleWithWebIdentityResponse'),
                     len(akid_seen) == 20 and not in_keys(akid_seen)]
if '<SecretAccessKey>' in r['text']:
    out['secrets'].append(r['text'].partition('<SecretAccessKey>')[2].partition('<')[0])

fault('oversize')
r = request(web_form())
res['foversize'] = [r['status'], r['size'], r['parses'], r.get('result_children'),
                    in_keys(r['creds']['AccessKeyId'])]
fault('oversize', size=5000)
r = request(web_form())
res['foversize_5000'] = [r['status'], r['size'], r['parses']]

fault('expired')
r = request(web_form())
res['fexpired'] = [r['status'], r['parses'], expires_in(r['creds']) < 0,
                   in_keys(r['creds']['AccessKeyId'])]

fault('reset')
r = request(web_form())
res['freset'] = ['status' in r, r.get('exception')]

fault('delay', seconds=1)
r = request(web_form())
res['fdelay'] = [r['status'], r['elapsed'] >= 0.95]

fault('throttle', count=1)
res['fcount'] = [request(web_form())['status'], request(web_form())['status']]
fault('none', target='all')

# hang: the client gives up; nothing was answered
fault('hang', count=1)
r = request(web_form('raw-hang-timeout'), timeout=2)
res['fhang_timeout'] = ['status' in r, r.get('exception'), r['elapsed'] >= 1.9]

# hang: answered once the fault is changed
fault('hang', count=1)
box = {}
th = threading.Thread(target=lambda: box.update(request(web_form('raw-hang-released'),
                                                        timeout=60)))
th.start()
deadline = time.monotonic() + 30
while control('GET', 'fault')[1]['AssumeRoleWithWebIdentity']['kind'] == 'hang':
    if time.monotonic() > deadline:     # the hang was not reached: the check below fails
        break
    time.sleep(0.05)
time.sleep(0.5)
res['fhang_waiting'] = th.is_alive()
fault('none')
th.join(60)
res['fhang_released'] = [box.get('status'), box.get('parses'),
                         box.get('creds') and in_keys(box['creds']['AccessKeyId'])]

res['counters'] = control('GET', 'counters')[1]
print(json.dumps(out))
EOF

my $raw = python($script, $sts->{port}, $ca, $token_file, $sts->{keys}, $base, $base_secret,
    $role, $web_role, $badname->{port}, $badname->{ca});
my $res = $raw->{results} || {};
ok(%$res, 'raw script printed its results') or diag explain $raw;
push @secrets, @{ $raw->{secrets} || [] };

is_deeply($res->{tls}, [ 'ok', 'ok', 'ok', 'verify_failed' ],
    'server cert: sts.REGION.amazonaws.com, localhost, 127.0.0.1, no other name');
is_deeply($res->{tls_cert_name}, [ 'verify_failed', 'verify_failed', 'verify_failed', 'ok' ],
    '--cert-name: the cert names only that (no localhost, no IP): other names fail');
ok(!-s "$badname->{dir}/journal.jsonl", '--cert-name: no request reached that simulator');
is_deeply($res->{unsigned_role}, [ 403, 'MissingAuthenticationToken' ], 'unsigned AssumeRole');
is_deeply($res->{role_doc}, { status => 200, ctype => 'text/xml', root => 'AssumeRoleResponse',
    result_children => [qw(SourceIdentity AssumedRoleUser Credentials PackedPolicySize)],
    map { $_ => JSON::PP::true } qw(ids pretty ends in_keys) }, 'AssumeRoleResponse document')
    or diag explain $res->{role_doc};
is_deeply($res->{web_doc}, { status => 200, ctype => 'text/xml',
    root => 'AssumeRoleWithWebIdentityResponse',
    result_children => [qw(SubjectFromWebIdentityToken Audience AssumedRoleUser Credentials
        Provider)] }, 'AssumeRoleWithWebIdentityResponse document')
    or diag explain $res->{web_doc};
is($res->{any_host}, 200, 'any Host accepted, signed as sent');
is_deeply($res->{host_as_received}, [ 403, 'SignatureDoesNotMatch' ],
    'the signature is checked with the Host as received');
is_deeply($res->{get}, [ 200, 'AssumeRoleWithWebIdentityResponse' ], 'GET /?Action=...');
is($res->{chunked}, 200, 'chunked form body');
is($res->{percent}, 200, 'percent-decoded form');
is($res->{web_ignores_auth}, 200, 'web identity: Authorization and X-Amz-Security-Token ignored');

my $v = "1 validation error detected: Value";
my %bad = (
    version        => [ 400, 'InvalidAction', 'Could not find operation AssumeRoleWithWebIdentity for version 2010-01-01' ],
    no_version     => [ 400, 'InvalidAction', 'Could not find operation AssumeRoleWithWebIdentity for version NULL' ],
    no_action      => [ 400, 'MissingAction', 'Missing Action' ],
    unknown_action => [ 400, 'InvalidAction', 'Could not find operation GetCallerIdentity for version 2011-06-15' ],
    no_role        => [ 400, 'ValidationError', "$v null at 'roleArn' failed to satisfy constraint: Member must not be null" ],
    bad_arn        => [ 400, 'ValidationError', qr/^\Q$v 'arn:aws:iam::$account:user\/eks\/lfv-web' at 'roleArn'\E/ ],
    short_name     => [ 400, 'ValidationError', "$v 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2" ],
    unknown_param  => [ 400, 'ValidationError', '1 validation error detected: Unknown parameter: Bogus' ],
    twice          => [ 400, 'ValidationError', '1 validation error detected: Parameter RoleSessionName given more than once' ],
    bad_token      => [ 400, 'InvalidIdentityToken', qr/^The web identity token that was passed could not be validated by AWS/ ],
);
for my $case (sort keys %bad) {
    my ($status, $code, $msg) = @{ $bad{$case} };
    my $got = $res->{"bad_$case"} || [];
    is_deeply([ @$got[0, 1, 3, 4] ], [ $status, $code, 'Sender', JSON::PP::true ],
        "refused: $case")
        or diag explain $got;
    if (ref $msg) { like($got->[2] // '', $msg, "refused: $case, message") }
    else          { is($got->[2], $msg, "refused: $case, message") }
}
is_deeply($res->{bad_ctype}, [ 400, 'MissingAction' ], 'POST without a form content type');
is_deeply($res->{bad_query_on_post}, [ 400, 'InvalidParameterCombination' ], 'POST with a query');
is_deeply($res->{plain_on_tls}, [ 400, 'PlainHttpOnTlsPort' ], 'plain HTTP service request, TLS port');
like($res->{bad_framing} // '', qr{^HTTP/1\.1 400 }, 'bad chunked framing: 400');

is_deeply($res->{fault_bad}, [ 400, 400, 400, 400, 400 ], 'bad fault requests refused');
my $internal = 'The request processing has failed because of an unknown error, exception or failure.';
is_deeply($res->{f500}, [ 500, 'text/xml', 'InternalFailure', $internal, 'Receiver' ], 'fault 500');
is($res->{f500_other_target}, 200, 'a fault hits its target only');
is_deeply($res->{fthrottle}, [ 400, 'text/xml', 'Throttling', 'Rate exceeded', 'Sender' ],
    'fault throttle');
is_deeply($res->{fdenied}, [ 403, 'text/xml', 'AccessDenied',
    'Not authorized to perform sts:AssumeRoleWithWebIdentity', 'Sender' ], 'fault denied');
is_deeply($res->{fdenied_role}, [ 403, 'text/xml', 'AccessDenied', "User: arn:aws:iam::$account:"
    . "user/sim is not authorized to perform: sts:AssumeRole on resource: $role", 'Sender' ],
    'fault denied, target all: AssumeRole');
is_deeply($res->{fgarbage}, [ 200, 'text/xml', JSON::PP::false, JSON::PP::true, JSON::PP::false ],
    'fault garbage: 200 text/xml, malformed, no key material');
is_deeply($res->{ftruncated}, [ 200, 'text/xml', JSON::PP::false, JSON::PP::true, JSON::PP::true,
    JSON::PP::true ], 'fault truncated: a document cut short, its key not issued');
is_deeply($res->{foversize}, [ 200, 100000, JSON::PP::true,
    [qw(SubjectFromWebIdentityToken Audience AssumedRoleUser Credentials SimPadding Provider)],
    JSON::PP::true ], 'fault oversize: 100000 bytes, a valid document, its key issued');
is_deeply($res->{foversize_5000}, [ 200, 5000, JSON::PP::true ], 'fault oversize, size 5000');
is_deeply($res->{fexpired}, [ 200, JSON::PP::true, JSON::PP::true, JSON::PP::false ],
    'fault expired: Expiration in the past, key not issued');
is_deeply($res->{freset}, [ JSON::PP::false, $res->{freset}[1] ], 'fault reset: no answer');
like($res->{freset}[1] // '', qr/Reset|Disconnected|EOF|SSL|Broken/i,
    "fault reset: the connection broke ($res->{freset}[1])");
is_deeply($res->{fdelay}, [ 200, JSON::PP::true ], 'fault delay: answered after 1 s');
is_deeply($res->{fcount}, [ 400, 200 ], 'fault with count 1: the next request only');
is_deeply([ @{ $res->{fhang_timeout} || [] }[0, 2] ], [ JSON::PP::false, JSON::PP::true ],
    'fault hang: no answer until the client gives up');
ok($res->{fhang_waiting}, 'fault hang: still waiting');
is_deeply($res->{fhang_released}, [ 200, JSON::PP::true, JSON::PP::true ],
    'fault hang: answered once the fault was changed');

# ---------------------------------------------------------------- counters, journal

my @j;
my $c;
for (1 .. 100) {        # the hang that timed out is journaled once the sim sees the close
    @j = $sts->journal;
    $c = $sts->control(GET => 'counters');
    last if @j == $c->{total};
    sleep 0.1;
}
is(scalar @j, $c->{total}, 'one journal record per counted request');
for my $action (qw(AssumeRole AssumeRoleWithWebIdentity)) {
    is($c->{$action}, scalar(grep { ($_->{action} // '') eq $action } @j), "counter $action");
}
is($c->{issued}, scalar(grep { $_->{issued} } @j), 'counter issued');
is_deeply($sts->control(POST => 'reset'), { AssumeRole => 0, AssumeRoleWithWebIdentity => 0,
    issued => 0, total => 0 }, 'POST reset zeroes the counters');

my @fields = qw(action role_arn session_name source_identity tags duration signed_by sig_ok
    reason status issued token_sha256 session fault request_id time);
is_deeply([ grep { my $e = $_; grep { !exists $e->{$_} } @fields } @j ], [],
    'every record has every field');

my ($first) = grep { ($_->{session_name} // '') eq 'web-session' } @j;
is_deeply([ @$first{qw(action role_arn status reason sig_ok signed_by issued token_sha256)} ],
    [ 'AssumeRoleWithWebIdentity', $web_role, 200, undef, undef, undef, $wc->{AccessKeyId},
      sha256_hex($tokens[0]) ], 'journal: web identity, the token as its SHA-256');
my ($assume) = grep { ($_->{session_name} // '') eq 'proxy-session' } @j;
is_deeply([ @$assume{qw(action status sig_ok signed_by source_identity duration issued)},
    $assume->{tags}, $assume->{reason} ],
    [ 'AssumeRole', 200, JSON::PP::true, $base, 'alice@example', 1800, $ac->{AccessKeyId},
      { team => 'vision', env => 'ci' }, undef ], 'journal: AssumeRole');
my ($chained) = grep { ($_->{session_name} // '') eq 'chained' } @j;
is_deeply([ @$chained{qw(signed_by session)} ], [ $ac->{AccessKeyId}, $role_arn ],
    'journal: role chaining, the signing session');

my @refusals = grep { ($_->{action} // '') eq 'AssumeRole'
    && ($_->{session_name} // '') =~ /^(x-session|bad name)$/ } @j;
is_deeply([ map { [ $_->{reason}, $_->{signed_by}, $_->{sig_ok}, $_->{status} ] } @refusals ], [
    [ 'signature_mismatch', $base, JSON::PP::false, 403 ],
    [ 'unknown_key', 'AKIDSTSUNKNOWN000001', JSON::PP::false, 403 ],
    [ 'role_not_allowed', $base, JSON::PP::true, 403 ],
    [ 'invalid_parameter:RoleSessionName', $base, JSON::PP::true, 400 ],
    [ 'invalid_parameter:DurationSeconds', $base, JSON::PP::true, 400 ],
    [ 'missing_authorization', undef, JSON::PP::false, 403 ],
    [ 'missing_security_token', $ac->{AccessKeyId}, JSON::PP::false, 403 ],
    [ 'expired_key', 'AKIDSTSEXPIRED000001', JSON::PP::false, 403 ],
], 'journal: the refusals, who signed, why') or diag explain \@refusals;
ok((grep { ($_->{reason} // '') eq 'role_not_allowed' && $_->{status} == 403 } @j) == 2,
    'journal: role_not_allowed, twice');
is(scalar(grep { ($_->{reason} // '') eq 'invalid_identity_token' } @j), 2,
    'journal: invalid_identity_token, twice');

my %fault = map { ($_->{fault} // '') => $_ } grep { $_->{fault} } @j;
is_deeply([ sort keys %fault ],
    [ sort qw(500 throttle denied garbage truncated oversize expired reset delay hang) ],
    'journal: every fault kind');
is_deeply([ @{ $fault{reset} }{qw(status reason)} ], [ undef, 'fault:reset' ], 'journal: reset');
my @hang = grep { ($_->{fault} // '') eq 'hang' } @j;
is_deeply([ map { [ $_->{session_name}, $_->{status}, $_->{reason} ] } @hang ],
    [ [ 'raw-hang-timeout', undef, 'fault:hang' ], [ 'raw-hang-released', 200, undef ] ],
    'journal: hangs, unanswered and released');
is_deeply([ map { $fault{$_}{issued} ? 1 : 0 } qw(garbage truncated expired oversize) ],
    [ 0, 0, 0, 1 ], 'journal: only the oversize document issued a key');

# ---------------------------------------------------------------- no secrets

$t->kill_spawned;       # logs complete
my $journal = join '', map { LFV::Test::_slurp("$_->{dir}/journal.jsonl") // '' }
    $sts, $plain, $badname;
my $logs = join '', map { LFV::Test::_slurp($t->prefix . "/$_.log") // '' }
    qw(sts sts-plain sts-badname lfv);
my @s = grep { defined && length > 8 } @secrets;
cmp_ok(scalar @s, '>', 20, 'secrets collected: ' . scalar @s);
is_deeply([ grep { index($journal, $_) >= 0 } @s ], [], 'no secret in the sts journals');
is_deeply([ grep { index($logs, $_) >= 0 } @s ], [], 'no secret in the simulators\' logs');
unlike($logs, qr/Traceback/, 'no traceback in the logs') or diag $logs;
like(LFV::Test::_slurp($t->prefix . '/sts.log'), qr/^sts_sim: listening on 127\.0\.0\.1:\d+ .*\nsts_sim: stopped\n\z/,
    'sts log: started and stopped cleanly');

$t->done;

#!/usr/bin/perl

# IAM roles for service accounts: credentials from STS's
# AssumeRoleWithWebIdentity over the module's HTTPS client, shared by all
# workers, refreshed ahead of expiry with the token file read again each
# time; kept while STS fails, refused past expiry and grace; STS's errors,
# broken answers and untrusted certificates logged clearly; nothing
# forwarded unsigned; no secret in the logs.

use strict;
use warnings;

use Test::More;
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;

my $role = 'arn:aws:iam::123456789012:role/lfv-proxy';
my $token_file = $t->write_file('irsa/token', "eyJ.first-token.sig\n");

# short-lived credentials: a refresh every few seconds

my $sts = LFV::Sim->sts($t, args => [ '--token-file', $token_file,
    '--role', $role, '--ttl', 12 ]);

sub provider {
    my (%o) = @_;
    return "web_identity role_arn=" . ($o{role} // $role)
        . " token_file=$token_file session_name=proxy-a region=us-east-1"
        . " endpoint=https://127.0.0.1:$sts->{port}";
}

my $lfv;

sub conf {
    my (%o) = @_;
    (undef, $lfv) = LFV::Conf->setup(t => $t, sim => $lfv, workers => 2,
        credentials => $o{credentials} // provider(%o),
        server => "location = /lfv-status { lfv_status; }\n",
        http => 'lfv_ssl_trusted_certificate ' . ($o{ca} // $sts->{ca})
                . ";\nlfv_credentials_grace " . ($o{grace} // '1s') . ";\n"
                . "lfv_credentials_wait 10s;\n"
                . ($o{http} // ''));
}

conf();
$t->run;

sub start { LFV::Conf->request($t, project => 'irsa', @_) }
sub refreshes { scalar(() = $t->error_log =~ /credentials refreshed/g) }
sub sts_calls { scalar(grep { ($_->{action} // '') eq 'AssumeRoleWithWebIdentity' } $sts->journal) }

sub wait_for {
    my ($cond, $seconds) = @_;
    my $deadline = time + ($seconds // 20);
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

# 1. signed with the role's credentials, fetched once for both workers

my $r = start();
is($r->{status}, 202, 'a start is signed with credentials from STS');
my @j = $lfv->journal;
ok($j[-1]{sig_ok}, 'botocore accepts the signature') or diag $j[-1]{reason};
is($j[-1]{session}, 'arn:aws:sts::123456789012:assumed-role/lfv-proxy/proxy-a',
    'by the role session of the proxy, as CloudTrail would show');
is(sts_calls(), 1, 'one AssumeRoleWithWebIdentity for two workers');

my @s = $sts->journal;
is($s[0]{role_arn}, $role, 'for the configured role');
is($s[0]{session_name}, 'proxy-a', 'with the configured session name');
ok(!defined $s[0]{signed_by}, 'unsigned, as the SDKs send it');
is($s[0]{token_sha256}, sha256_hex('eyJ.first-token.sig'),
    'with the token of the file, its newline removed');

like($t->error_log, qr/STS issued credentials of arn:aws:sts::123456789012:assumed-role\/lfv-proxy\/proxy-a/,
    'the role session is logged');

{
    my $st = eval { decode_json($t->http(path => '/lfv-status')->{body}) } || {};
    is($st->{credentials}{source}, 'web_identity', 'the status page names the provider');
    like($st->{credentials}{access_key_id} // '', qr/^ASIA[A-Z0-9]{16}$/, 'and the key id');
}

# boto3, unsigned, through the proxy: the application holds no keys

{
    my $endpoint = 'http://127.0.0.1:' . $t->port('http');
    my $out = `/usr/bin/python3 t/sdk/hosting_cycle.py $endpoint - call start_model irsa-boto 1 2>&1`;
    my $res = eval { decode_json($out) } || { raw => $out };
    is($res->{ok}{Status}, 'STARTING_HOSTING', 'boto3 start_model through the proxy')
        or diag explain $res;
    my ($last) = reverse $lfv->journal;
    is($last->{session}, 'arn:aws:sts::123456789012:assumed-role/lfv-proxy/proxy-a',
        "signed by the service account's role session");
}

# 2. Kubernetes rotates the token: the next refresh sends the new one

$t->write_file('irsa/token', "eyJ.second-token.sig\n");
my $n = sts_calls();
ok(wait_for(sub { grep { ($_->{token_sha256} // '') eq sha256_hex('eyJ.second-token.sig') && $_->{status} == 200 } $sts->journal }),
    'a refresh after the rotation sends the new token, and STS takes it');
is(start()->{status}, 202, 'and requests are signed');

# 3. requests flow through refreshes: none fails

my ($ok, $failed) = (0, 0);
my $until = time + 8;
while (time < $until) {
    start()->{status} == 202 ? $ok++ : $failed++;
    sleep 0.05;
}
is($failed, 0, "no failed request across refreshes ($ok signed)");
ok(sts_calls() > $n + 1, 'refreshed ahead of expiry, more than once');

# 4. STS fails while the cached keys are valid: no request fails

$sts->control(POST => 'fault', { kind => '500', target => 'all' });
$n = sts_calls();
ok(wait_for(sub { sts_calls() > $n }), 'a refresh meets the failure');
is(start()->{status}, 202, 'requests are still signed with the cached keys');
like($t->error_log, qr/credentials refresh failed: STS answered 500 InternalFailure/,
    "STS's error code is logged");
$sts->control(POST => 'fault', { kind => 'none', target => 'all' });
$n = refreshes();
ok(wait_for(sub { refreshes() > $n }), 'and the refresher recovers');

# 5. STS refuses past expiry and grace: 503, nothing forwarded unsigned

$sts->control(POST => 'fault', { kind => 'denied', target => 'all' });
ok(wait_for(sub { start()->{status} == 503 }, 30),
    'past expiry and grace, starts are refused with 503');
my $forwarded = scalar(() = $lfv->journal);
$r = start();
is($r->{status}, 503, 'still 503');
ok($r->{headers}{'retry-after'}, 'with Retry-After');
is(scalar(() = $lfv->journal), $forwarded, 'and nothing was forwarded');
like($t->error_log, qr/STS answered 403 AccessDenied/, 'AccessDenied is logged');
$sts->control(POST => 'fault', { kind => 'none', target => 'all' });
ok(wait_for(sub { start()->{status} == 202 }, 70), 'signed again once STS answers');

# 6. broken answers: a clear log line each, no crash

for my $fault ([ garbage => qr/invalid STS answer/ ],
               [ truncated => qr/invalid STS answer/ ],
               [ oversize => qr/response too large/ ],
               [ expired => qr/already expired/ ],
               [ reset => qr/connection reset|STS request/ ],
               [ hang => qr/timed out/ ])
{
    my ($kind, $re) = @$fault;
    my $mark = $t->error_log_mark;
    $sts->control(POST => 'fault', { kind => $kind, target => 'all' });
    ok(wait_for(sub { $t->error_log($mark) =~ /credentials refresh failed: .*$re/ }, 30),
        "fault $kind: logged");
    $sts->control(POST => 'fault', { kind => 'none', target => 'all' });
    $n = refreshes();
    ok(wait_for(sub { refreshes() > $n }, 70), "fault $kind: recovered");
}
ok($t->running, 'nginx is running');

# 7. reload: the credentials stay, nothing is fetched

$n = sts_calls();
$t->reload;
is(start()->{status}, 202, 'signed after a reload');
ok(sts_calls() <= $n + 1, 'no burst of STS calls');

# 8. no secret in any log

my @secrets;
my $keys = eval { decode_json(LFV::Test::_slurp($t->prefix . '/keys.json')) } // {};
for my $k (values %$keys) {
    push @secrets, $k->{secret}, $k->{token} // ();
}
ok(@secrets >= 2, 'the keys STS issued are known to the test');
my $logs = $t->error_log . $t->access_log;
is(scalar(grep { length $_ > 8 && index($logs, $_) >= 0 } @secrets), 0,
    'no secret key or session token in the logs');
unlike($logs, qr/first-token|second-token/, 'no web identity token either');

$t->stop(keep_spawned => 1);

# 9. an untrusted certificate: another CA, or a certificate of another name

my $mark9 = $t->error_log_mark;
conf(ca => $lfv->{ca});
$t->run;
ok(wait_for(sub { $t->error_log($mark9) =~ /certificate of 127\.0\.0\.1 not trusted \(2[01]: unable to (?:get local issuer|verify the first) certificate\)/ }),
    'a certificate of an unknown CA is refused');
is(start()->{status}, 503, 'and nothing is signed');
$t->stop(keep_spawned => 1);

my $other = LFV::Sim->sts($t, name => 'sts-other',
    args => [ '--cert-name', 'sts.example.com' ]);
conf(credentials => provider() =~ s/:$sts->{port}/:$other->{port}/r,
    ca => $other->{ca});
$mark9 = $t->error_log_mark;
$t->run;
ok(wait_for(sub { $t->error_log($mark9) =~ /certificate of 127\.0\.0\.1 not trusted \(64: IP address mismatch\)/ }),
    'a certificate of another name is refused');
is(start()->{status}, 503, 'and nothing is signed');
$t->stop(keep_spawned => 1);

# 9b. a name: resolved with nginx's resolver, the certificate verified
# for the name (SNI), an unknown name logged as such

my $dns = LFV::Sim->dns($t, args => [ '--name', 'sts.test=127.0.0.1' ]);
my $named = LFV::Sim->sts($t, name => 'sts-named',
    args => [ '--cert-name', 'sts.test', '--token-file', $token_file ]);
$mark9 = $t->error_log_mark;
conf(credentials => provider() =~ s{https://127\.0\.0\.1:$sts->{port}}{https://sts.test:$named->{port}}r,
    ca => $named->{ca},
    http => "resolver 127.0.0.1:$dns->{port} ipv6=off valid=1s;\n");
$t->run;
ok(wait_for(sub { start()->{status} == 202 }),
    'an endpoint by name: resolved by the resolver, verified, signed');
my ($first) = $named->journal;
is($first && $first->{sni}, 'sts.test', 'the TLS handshake named the host (SNI)');
ok($dns->control(GET => 'counters')->{queries}{'sts.test'}{A} >= 1,
    'the name was asked of the resolver');
$t->stop(keep_spawned => 1);

$mark9 = $t->error_log_mark;
conf(credentials => provider() =~ s{https://127\.0\.0\.1:$sts->{port}}{https://nowhere.test:$named->{port}}r,
    ca => $named->{ca},
    http => "resolver 127.0.0.1:$dns->{port} ipv6=off valid=1s;\n");
$t->run;
ok(wait_for(sub { $t->error_log($mark9) =~ /STS request: nowhere\.test could not be resolved \(3: Host not found\)/ }),
    'an unknown name: "could not be resolved" logged');
is(start()->{status}, 503, 'and nothing is signed');
$t->stop(keep_spawned => 1);

# 10. a role STS refuses: AccessDenied logged, 503

conf(role => 'arn:aws:iam::123456789012:role/someone-else');
my $mark = $t->error_log_mark;
$t->run;
ok(wait_for(sub { $t->error_log($mark) =~ /STS answered 403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity/ }),
    "a role STS does not let us assume: AccessDenied logged with STS's message");
is(start()->{status}, 503, 'and nothing is signed');
is(scalar(grep { ($_->{reason} // '') =~ /missing_authorization|missing_security_token/ } $lfv->journal), 0,
    'no request ever reached AWS unsigned');

# 10b. STS not listening: the connect error is said as such

$mark = $t->error_log_mark;
$t->stop(keep_spawned => 1);
$t->kill_spawned('sts-other');
conf(credentials => provider() =~ s/:$sts->{port}/:$other->{port}/r,
    ca => $other->{ca});
$t->run;
ok(wait_for(sub { $t->error_log($mark) =~ /STS request: connect\(\) to 127\.0\.0\.1:$other->{port} failed \(111: Connection refused\)/ }),
    'an STS that is not listening: connect() failed, logged');
$t->stop(keep_spawned => 1);

# 11. nginx -t: what is missing or wrong is said at once

for my $case (
    [ 'web_identity token_file=/x region=us-east-1', qr/needs role_arn= or AWS_ROLE_ARN/ ],
    [ "web_identity role_arn=$role region=us-east-1", qr/needs token_file= or AWS_WEB_IDENTITY_TOKEN_FILE/ ],
    [ "web_identity role_arn=$role token_file=/x region=us-east-1 session_name=a", qr/invalid role session name "a"/ ],
    [ "web_identity role_arn=$role token_file=/x region=us-east-1 session_name=a/b", qr/invalid role session name/ ],
    [ "web_identity role_arn=$role token_file=/x region=us-east-1", qr/STS endpoint "https:\/\/sts\.us-east-1\.amazonaws\.com" needs a "resolver" in the http block to resolve "sts\.us-east-1\.amazonaws\.com"/ ],
    [ "web_identity role_arn=$role token_file=/x region=us-east-1 endpoint=http://10.1.2.3", qr/http:\/\/ is only for a loopback address/ ],
    [ "web_identity role_arn=$role token_file=/x region=US_EAST", qr/invalid STS region "US_EAST"/ ],
    [ "web_identity role_arn=role token_file=/x region=us-east-1", qr/invalid role ARN "role"/ ],
    [ "web_identity role_arn=$role token_file=/x region=us-east-1 secret=abc", qr/invalid parameter "secret"/ ],
) {
    my ($provider, $re) = @$case;
    conf(credentials => $provider, http => '');
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok, "nginx -t refuses: $provider");
    like($out, $re, 'and says why');
    unlike($out, qr/abc/, 'without echoing a value') if $provider =~ /secret=/;
}

{
    conf(credentials => "web_identity role_arn=$role token_file=/x region=us-east-1",
        http => 'resolver 127.0.0.1;');
    my ($ok, $out) = $t->nginx_test;
    ok($ok, 'with a resolver in the http block, a name is taken') or diag $out;
}

# 12. auto: the environment of the EKS pod identity webhook

{
    local $ENV{AWS_ROLE_ARN} = $role;
    local $ENV{AWS_WEB_IDENTITY_TOKEN_FILE} = $token_file;
    local $ENV{AWS_ROLE_SESSION_NAME} = 'proxy-auto';
    local $ENV{AWS_REGION} = 'us-east-1';
    $t->write_file('irsa/token', "eyJ.first-token.sig\n");
    conf(credentials => 'auto', http => '');
    my ($ok, $out) = $t->nginx_test;
    like($out, qr/needs a "resolver"/,
        'auto picks web identity from the environment (and wants a resolver for STS)');
}

$t->done;

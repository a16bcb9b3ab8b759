#!/usr/bin/perl

# Credentials from nginx's environment, with a session token; and the
# same request refused with 503 when no credentials exist at all.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my $audit_format = <<'EOF';
    log_format audit '$lfv_decision $lfv_reason $lfv_credential_source '
                     '$lfv_access_key_id $lfv_project $lfv_model_version '
                     '$lfv_min_units $lfv_max_units $lfv_client_token';
    access_log %%PREFIX%%/audit.log audit;
EOF

# the master reads the environment while parsing configuration

local $ENV{AWS_ACCESS_KEY_ID} = 'ASIAENV0000000000001';
local $ENV{AWS_SECRET_ACCESS_KEY} = 'env-secret-1';
local $ENV{AWS_SESSION_TOKEN} = 'env-session-token/+=';

my ($t, $sim) = LFV::Conf->start(credentials => 'env', http => $audit_format,
    keys => { ASIAENV0000000000001 => { secret => 'env-secret-1',
                                        token => 'env-session-token/+=' } });

my $uri = '/2020-11-20/projects/env/models/latest/start';

my $r = $t->http(method => 'POST', path => $uri,
    headers => [ 'X-Amzn-Client-Token' => 'abc-123' ],
    body => '{"MinInferenceUnits":2,"MaxInferenceUnits":3}');
is($r->{status}, 202, 'env credentials with session token');

my @j = $sim->journal;
ok($j[0]{sig_ok}, 'accepted by botocore') or diag $j[0]{reason};

my %h = map { lc $_->[0] => $_->[1] } @{ $j[0]{headers} };
is($h{'x-amz-security-token'}, 'env-session-token/+=', 'token sent');
like($h{authorization}, qr/x-amz-date;x-amz-security-token;x-amzn-client-token/,
    'token signed');

$t->stop;

my $audit = do { local $/; open my $fh, '<', $t->prefix . '/audit.log'; <$fh> };
is($audit, "forwarded forwarded env ASIAENV0000000000001 env latest 2 3 abc-123\n",
    'audit variables');

# "env" with nothing in the environment fails at nginx -t

delete local $ENV{AWS_ACCESS_KEY_ID};
delete local $ENV{AWS_SECRET_ACCESS_KEY};
delete local $ENV{AWS_SESSION_TOKEN};

LFV::Conf->setup(t => $t, sim => $sim, credentials => 'env');

my ($ok, $out) = $t->nginx_test;
ok(!$ok, 'env provider without variables fails nginx -t');
like($out, qr/\[emerg\] "lfv_credentials env" needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in nginx's environment/,
    'env error message');

$t->done;

#!/usr/bin/perl

# ECS / EKS Pod Identity container credentials: the endpoint and the
# Authorization token come from the environment, the token file is read
# again on every fetch; the endpoint must be a host the SDKs allow.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;

my $container = LFV::Sim->container($t,
    args => [ '--path', '/v2/credentials/pod-1', '--auth-token', 'pod-token-1',
              '--ttl', 20, '--rotate', 4 ]);

# the same configuration each time, with another credentials provider

sub conf {
    my ($provider, $sim) = @_;
    return LFV::Conf->setup(t => $t, sim => $sim, workers => 2,
        credentials => $provider);
}

my $token_file = $t->write_file('pod-token', "pod-token-1\n");

local $ENV{AWS_CONTAINER_CREDENTIALS_FULL_URI} =
    "http://127.0.0.1:$container->{port}/v2/credentials/pod-1";
local $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE} = $token_file;

my (undef, $sim) = conf('auto');
$t->run;

my $uri = '/2020-11-20/projects/pod/models/2/start';

my $r = $t->http(method => 'POST', path => $uri, body => '{"MinInferenceUnits":3}');
is($r->{status}, 202, 'auto chain picks the container endpoint');

my @j = $sim->journal;
ok($j[0]{sig_ok}, 'signed with container credentials') or diag $j[0]{reason};

my $c = $container->control(GET => 'counters');
is($c->{credentials}, 1, 'one fetch for two workers');
is($c->{unauthorized}, 0, 'token from the file accepted');

# the token rotates in the file: fetches after that send the new one
# (one fetch may race the change and be refused once)

sub refreshes { scalar(() = $t->error_log =~ /credentials refreshed/g) }

my $before = refreshes();

$container->control(POST => 'auth', { token => 'pod-token-2' });
$t->write_file('pod-token', "pod-token-2\n");

my $deadline = time + 25;
sleep 0.2 while time < $deadline && refreshes() < $before + 2;

ok(refreshes() >= $before + 2, 'refreshed with the new token from the file');

$c = $container->control(GET => 'counters');
ok($c->{unauthorized} <= 1, "token file read again on each fetch ($c->{unauthorized} refused)");

$r = $t->http(method => 'POST', path => $uri, body => '{"MinInferenceUnits":3}');
is($r->{status}, 202, 'signed after rotations');

$t->stop;

# endpoints the SDKs do not trust are refused at nginx -t

$ENV{AWS_CONTAINER_CREDENTIALS_FULL_URI} = 'http://192.0.2.10/creds';
conf('container', $sim);

my ($ok, $out) = $t->nginx_test;
ok(!$ok, 'untrusted container host refused');
like($out, qr/\[emerg\] container credentials endpoint "http:\/\/192\.0\.2\.10\/creds" is not a loopback address/,
    'message names the endpoint');

$ENV{AWS_CONTAINER_CREDENTIALS_FULL_URI} = 'https://127.0.0.1/creds';
conf('container', $sim);
($ok, $out) = $t->nginx_test;
like($out, qr/\[emerg\] credentials endpoint "https:\/\/127\.0\.0\.1\/creds" must be an http:\/\/ URL/,
    'https refused with a clear message');

delete $ENV{AWS_CONTAINER_CREDENTIALS_FULL_URI};
conf('container', $sim);
($ok, $out) = $t->nginx_test;
like($out, qr/\[emerg\] "lfv_credentials container" needs endpoint=/,
    'container without an endpoint');

$t->done;

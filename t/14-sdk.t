#!/usr/bin/perl

# Real clients: boto3 with signature_version=UNSIGNED and endpoint_url at
# the proxy gets a parsed Status, and modelled exceptions for errors.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start;

my $endpoint = 'http://127.0.0.1:' . $t->port('http');

sub sdk {
    my $out = `/usr/bin/python3 t/sdk/start_model.py $endpoint @_ 2>&1`;
    return eval { decode_json($out) } || { raw => $out };
}

my $r = sdk('sdk-project', 1, 1, 2);
is($r->{status}, 'STARTING_HOSTING', 'boto3 gets Status') or diag explain $r;

my @j = $sim->journal;
ok($j[0]{sig_ok}, 'boto3 request signed') or diag $j[0]{reason};
my %h = map { lc $_->[0] => $_->[1] } @{ $j[0]{headers} };
like($h{'x-amzn-client-token'}, qr/^[0-9a-f-]{36}$/, 'SDK idempotency token kept');

$r = sdk('conflict', 1, 1);
is($r->{error}, 'ConflictException', 'upstream error parsed by boto3');
is($r->{class}, 'ConflictException', 'modelled exception class');

$r = sdk('sdk-project', 1, 3, 2);
is($r->{error}, 'ValidationException', 'local validation error parsed');
is($r->{http}, 400, 'local validation status');
like($r->{message}, qr/MaxInferenceUnits must not be below MinInferenceUnits/,
    'message names the rule');

is(scalar(() = $sim->journal), 2, 'rejected request not forwarded');

$t->done;

#!/usr/bin/perl

# The recipe of operations.md for limiting read traffic (DescribeModel,
# ListModels) per team with nginx's own limit_req: reads over the rate
# are refused before anything is signed or forwarded, each team has its
# own bucket, and starts and stops are not held back by it.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;
my $sim = LFV::Sim->lfv($t,
    keys => { $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } },
    args => [ '--hosting-delay', '0.2' ]);

# the recipe, as docs/operations.md gives it (the team from X-Team)

($t, $sim) = LFV::Conf->start(t => $t, sim => $sim,
    http => <<'EOF',
    lfv_policy_zone teams:1m;
    lfv_policy alpha projects=alpha-.*;
    lfv_policy beta projects=beta-.*;

    map $request_method $lfv_read_key {
        GET      $http_x_team;
        default  "";
    }

    limit_req_zone $lfv_read_key zone=lfv_reads:1m rate=1r/m;
EOF
    location => <<'EOF');
            lfv_team $http_x_team;
            lfv_operations start stop describe list;
            limit_req zone=lfv_reads;
            limit_req_status 429;
EOF

my $P = '/2020-11-20/projects';

sub req {
    my ($team, $method, $path, $body) = @_;
    return $t->http(method => $method, path => $path, body => $body,
        headers => [ 'X-Team' => $team,
                     defined $body ? ('Content-Type' => 'application/json') : () ]);
}

sub forwarded { scalar(() = $sim->journal) }

my $r = req('alpha', GET => "$P/alpha-a/models/1");
is($r->{status}, 200, 'a read within the rate is forwarded');

my $n = forwarded();
$r = req('alpha', GET => "$P/alpha-a/models");
is($r->{status}, 429, 'the next read of the team, over its rate: 429');
is($r->{headers}{'x-amzn-errortype'}, 'ThrottlingException',
    'in the shape the SDKs retry');
is(forwarded(), $n, 'and nothing was forwarded');

$r = req('beta', GET => "$P/beta-b/models/1");
is($r->{status}, 200, 'another team has a bucket of its own');

$r = req('alpha', POST => "$P/alpha-a/models/1/start", '{"MinInferenceUnits":1}');
is($r->{status}, 202, 'starts are not held back by the read limit');
$r = req('alpha', POST => "$P/alpha-a/models/1/stop", '');
is($r->{status}, 202, 'nor are stops');

$t->done;

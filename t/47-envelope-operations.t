#!/usr/bin/perl

# lfv_error_format envelope across the hosting cycle: every answer of
# every operation is in the envelope, AWS's errors included (the code
# from x-amzn-ErrorType, AWS's message, the status kept); successful
# reads carry AWS's members under "data".

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

($t, $sim) = LFV::Conf->start(t => $t, sim => $sim,
    location => <<'EOF');
            lfv_operations start stop describe list;
            lfv_error_format envelope;
EOF

my $P = '/2020-11-20/projects';

sub call {
    my ($method, $path, $body) = @_;
    my $r = $t->http(method => $method, path => $path, body => $body,
        headers => [ defined $body ? ('Content-Type' => 'application/json') : () ]);
    my $j = eval { decode_json($r->{body}) };
    return ($r, $j);
}

my ($r, $j) = call(GET => "$P/env/models/1");
is($r->{status}, 200, 'DescribeModel: 200');
is($j->{success}, JSON::PP::true, 'success') or diag $r->{body};
is($j->{data}{ModelDescription}{Status}, 'TRAINED',
    "AWS's ModelDescription under data");
is($j->{data}{ModelDescription}{ModelVersion}, '1', 'with its members');

($r, $j) = call(GET => "$P/env/models?maxResults=2");
is($r->{status}, 200, 'ListModels: 200');
is(scalar @{ $j->{data}{Models} || [] }, 2, "AWS's Models under data")
    or diag $r->{body};
ok($j->{data}{NextToken}, 'and its NextToken');

($r, $j) = call(POST => "$P/env/models/1/stop", '');
is($r->{status}, 409, "StopModel of a TRAINED model: AWS's 409 kept");
is($j->{success}, JSON::PP::false, 'not a success') or diag $r->{body};
is($j->{error}{code}, 'CONFLICT', 'ConflictException is CONFLICT');
like($j->{error}{message}, qr/TRAINED/, "AWS's message");
is($r->{headers}{'content-type'}, 'application/json', 'JSON');

($r, $j) = call(GET => "$P/missing/models/1");
is($r->{status}, 404, "DescribeModel of a missing project: AWS's 404");
is($j->{error}{code}, 'NOT_FOUND', 'ResourceNotFoundException is NOT_FOUND')
    or diag $r->{body};
ok(length $j->{error}{message}, "with AWS's message");

($r, $j) = call(POST => "$P/env/models/1/start", '{"MinInferenceUnits":1}');
is($r->{status}, 202, 'StartModel: 202');
is($j->{data}{status}, 'STARTING_HOSTING', 'the start keeps its data shape');

($r, $j) = call(POST => "$P/throttle/models/1/stop", '');
is($r->{status}, 429, "AWS's throttling on a stop: 429 kept");
is($j->{error}{code}, 'THROTTLED', 'ThrottlingException is THROTTLED')
    or diag $r->{body};

($r, $j) = call(GET => "$P/env/models?maxResults=0");
is($j->{error}{code}, 'VALIDATION_ERROR', 'a local refusal: as before');

$t->done;

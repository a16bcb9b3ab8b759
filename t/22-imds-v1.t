#!/usr/bin/perl

# IMDSv1 fallback only on 403/404/405 from the token call, never when
# AWS_EC2_METADATA_V1_DISABLED is true; no credentials at all is a 503
# with Retry-After after a bounded wait, and nothing is forwarded.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $http = <<'EOF';
    log_format audit '$lfv_decision $lfv_reason';
    access_log %%PREFIX%%/audit.log audit;

    lfv_credentials_wait 700ms;
    lfv_credentials_timeout 300ms;
EOF

my $uri = '/2020-11-20/projects/v1/models/1/start';

sub setup {
    my (%o) = @_;

    my $t = LFV::Test->new;
    my $imds = LFV::Sim->imds($t, args => $o{imds});
    my $sim;

    ($t, $sim) = LFV::Conf->start(t => $t, workers => 2, http => $http,
        credentials => "imds endpoint=http://127.0.0.1:$imds->{port}");

    return ($t, $imds, $sim);
}

for my $status (403, 404, 405) {
    my ($t, $imds, $sim) = setup(imds => [ '--v1', $status ]);

    my $r = $t->http(method => 'POST', path => $uri,
        body => '{"MinInferenceUnits":1}');
    is($r->{status}, 202, "token call answered $status: IMDSv1 used");
    like($t->error_log, qr/IMDS token request answered $status, falling back to IMDSv1/,
        "fallback on $status logged");

    $t->checks;
}

{
    local $ENV{AWS_EC2_METADATA_V1_DISABLED} = 'true';

    my ($t, $imds, $sim) = setup(imds => [ '--v1', 403 ]);

    my $start = time;
    my $r = $t->http(method => 'POST', path => $uri,
        body => '{"MinInferenceUnits":1}');
    my $took = time - $start;

    is($r->{status}, 503, 'v1 disabled: no credentials, 503');
    is($r->{headers}{'x-amzn-errortype'}, 'InternalServerException',
        '503 error type');
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'Retry-After');
    ok($took < 2, "bounded wait ($took s)");
    is(scalar(() = $sim->journal), 0, 'nothing forwarded');
    like($t->error_log, qr/AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1/,
        'reason logged');

    $t->checks;
}

{
    # a token call failing otherwise (500) is not a reason for IMDSv1

    my ($t, $imds, $sim) = setup(imds => [ '--fault', '500:token' ]);

    my $r = $t->http(method => 'POST', path => $uri,
        body => '{"MinInferenceUnits":1}');
    is($r->{status}, 503, 'token call answered 500: no fallback, 503');
    is($imds->control(GET => 'counters')->{role}, 0, 'no IMDSv1 role call');
    is(scalar(() = $sim->journal), 0, 'nothing forwarded');

    $t->stop;
    like(do { local $/; open my $f, '<', $t->prefix . '/audit.log'; <$f> },
        qr/^rejected credentials_unavailable$/m, 'audit names the failure');

    $t->checks;
}

{
    # a metadata service that never answers: hop limit hint, fast

    my ($t, $imds, $sim) = setup(imds => [ '--fault', 'hang:token' ]);

    my $r = $t->http(method => 'POST', path => $uri,
        body => '{"MinInferenceUnits":1}');
    is($r->{status}, 503, 'hanging IMDS: 503');
    like($t->error_log, qr/hop limit must be at least 2/, 'hop limit hint');
    is(scalar(() = $sim->journal), 0, 'nothing forwarded');

    $t->done;
}

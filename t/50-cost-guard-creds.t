#!/usr/bin/perl

# The cost guard's own calls are signed with the credentials of the
# moment: IMDS rotates short-lived keys every 3 s while leases of 1 s
# end one after another over two workers; every StopModel is signed
# correctly (botocore), with the key set current when it was sent, and
# the audit line names that key.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;
my $imds = LFV::Sim->imds($t, args => [ '--ttl', 8, '--rotate', 3 ]);
my $sim = LFV::Sim->lfv($t, keys => undef, args => [ '--hosting-delay', '0.2' ]);

LFV::Conf->setup(t => $t, sim => $sim, workers => 2,
    credentials => "imds endpoint=http://127.0.0.1:$imds->{port}",
    location => 'lfv_team $http_x_team;',
    http => <<"EOF");
    lfv_credentials_timeout 500ms;
    lfv_policy_zone teams:1m;
    lfv_policy alpha running_units=10 lease=1s;
    lfv_lease_endpoint https://127.0.0.1:$sim->{port};
    lfv_lease_log %%PREFIX%%/lease.log;
    lfv_ssl_trusted_certificate $sim->{ca};
EOF
$t->run;

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

sub stops {
    grep { ($_->{operation} // '') eq 'StopModel' } $sim->journal;
}

my $began = time;
my $n = 0;

while (time < $began + 10 && $n < 20) {
    $n++;
    my $r = $t->http(method => 'POST',
        path => "/2020-11-20/projects/rot-v99/models/$n/start",
        headers => [ 'X-Team' => 'alpha', 'Content-Type' => 'application/json' ],
        body => '{"MinInferenceUnits":1}');
    is($r->{status}, 202, "start $n");
    my $want = $n;
    ok(wait_for(10, sub { stops() >= $want }), "stop $n sent");
}

my @stops = stops();
is(scalar(@stops), $n, 'one StopModel per lease');
is(scalar(grep { $_->{reason} eq 'ok' && $_->{status} == 202 } @stops), $n,
    'every one signed correctly and accepted');
my %keys = map { $_->{access_key_id} => 1 } @stops;
ok(keys(%keys) >= 2, 'signed with rotated keys (' . keys(%keys) . ')');

my @lines = map { decode_json($_) } grep { length }
    split /\n/, LFV::Test::_slurp($t->prefix . '/lease.log') // '';
is(scalar(grep { $_->{outcome} eq 'stopped' } @lines), $n, 'an audit line each');
my %by = map { $_->{path} =~ m{/models/(\d+)/} ? ($1 => $_->{access_key_id}) : () } @stops;
is(scalar(grep { ($by{$_->{model_version}} // '') eq $_->{access_key_id} } @lines), $n,
    'naming the key that signed the stop');
is(scalar(grep { $_->{credential_source} eq 'imds' } @lines), $n, 'from IMDS');

unlike($t->error_log, qr/\[(?:crit|emerg)\]|exited on signal/, 'no crash');

$t->done;

#!/usr/bin/perl

# Reload under load: a bounded stream of valid requests from several
# clients while nginx reloads several times: no request fails, the
# credentials are not fetched again and the buckets are kept.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;

my $imds = LFV::Sim->imds($t, args => [ '--ttl', 3600 ]);
my $sim;

($t, $sim) = LFV::Conf->start(t => $t, workers => 2,
    credentials => "imds endpoint=http://127.0.0.1:$imds->{port}",
    http => <<'EOF',
    lfv_policy_zone teams:1m;
    lfv_policy load rate=100r/s burst=1000 nodelay;
    lfv_policy capped rate=1r/m nodelay;
EOF
    location => 'lfv_team $http_x_team;');

sub start {
    my ($team) = @_;
    return $t->http(method => 'POST', path => '/2020-11-20/projects/p/models/1/start',
        headers => [ 'X-Team' => $team ], body => '{"MinInferenceUnits":1}');
}

is(start('load')->{status}, 202, 'credentials fetched');
is(start('capped')->{status}, 202, 'capped: first');
is(start('capped')->{status}, 429, 'capped: throttled');

my $fetches = $imds->control(GET => 'counters')->{credentials};

# four clients, 60 requests each, while nginx reloads three times

my @kids;
for my $k (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $failed = 0;
        for (1 .. 60) {
            my $r = start('load');
            $failed++ unless ($r->{status} // 0) == 202;
            sleep 0.02;
        }
        POSIX::_exit($failed > 255 ? 255 : $failed);
    }
    push @kids, $pid;
}

for (1 .. 3) {
    sleep 0.5;
    $t->reload;
}

my $failed = 0;
my $deadline = time + 60;
for my $pid (@kids) {
    my $got;
    $got = waitpid($pid, WNOHANG), $got == 0 && sleep 0.1
        while (!defined $got || $got == 0) && time < $deadline;
    $failed += ($got == $pid) ? $? >> 8 : 60;
}

is($failed, 0, 'no request failed across three reloads (240 requests)');

is($imds->control(GET => 'counters')->{credentials}, $fetches,
    'no credential fetch caused by the reloads');
is(start('capped')->{status}, 429, 'buckets kept across reloads');

my @j = $sim->journal;
is(scalar(grep { !$_->{sig_ok} } @j), 0, 'every signature valid');
ok(@j >= 242, 'all forwarded (' . scalar(@j) . ')');

$t->done;

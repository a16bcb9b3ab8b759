#!/usr/bin/perl

# Per-team rates in one shared zone (limit_req's semantics), shared
# exactly by all workers; unit budgets per window; both survive reload.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start(
    workers => 2,
    http => <<'EOF',
    lfv_policy_zone teams:1m;
    lfv_policy shared rate=1r/m burst=4 nodelay;
    lfv_policy beta rate=1r/m burst=1 nodelay;
    lfv_policy gamma rate=1r/m;
    lfv_policy budget budget=5/4s;
    lfv_policy slow rate=2r/s burst=3;
    lfv_policy trial rate=1r/m dry_run;
    lfv_policy default rate=1r/m burst=1 nodelay;
EOF
    location => 'lfv_team $http_x_team;');

sub start { LFV::Conf->request($t, @_) }

# a burst from several connections at once, over both workers

sub burst {
    my ($team, $n) = @_;

    my $port = $t->port('http');
    my $req = "POST /2020-11-20/projects/p/models/1/start HTTP/1.1\r\n"
        . "Host: x\r\nX-Team: $team\r\nContent-Type: application/json\r\n"
        . "Content-Length: 23\r\nConnection: close\r\n\r\n"
        . '{"MinInferenceUnits":1}';

    my @s = map {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
            or die "connect: $!"
    } 1 .. $n;

    print $_ $req for @s;

    my %status;
    for my $s (@s) {
        my $sel = IO::Select->new($s);
        my $buf = '';
        while ($sel->can_read(5)) {
            my $got = sysread($s, $buf, 4096, length $buf);
            last unless $got;
        }
        my ($code) = $buf =~ m{^HTTP/1\.1 (\d+)};
        $status{$code // 'none'}++;
    }

    return \%status;
}

my $before = () = $sim->journal;
my $st = burst('shared', 12);
is($st->{202}, 5, 'burst=4 over two workers: exactly 5 accepted');
is($st->{429}, 7, 'the other 7 throttled');
is(scalar(() = $sim->journal) - $before, 5, 'only the accepted went upstream');

my %pids = map { $_ => 1 } $t->worker_pids;
is(scalar keys %pids, 2, 'two workers');

# refusal shape: 429 ThrottlingException with Retry-After from the bucket

my $r = start(team => 'shared');
is($r->{status}, 429, 'still throttled');
is($r->{headers}{'x-amzn-errortype'}, 'ThrottlingException', 'error type');
ok($r->{headers}{'retry-after'} >= 55 && $r->{headers}{'retry-after'} <= 300,
    "Retry-After from the bucket ($r->{headers}{'retry-after'} s)");

# teams are independent

is(start(team => 'beta')->{status}, 202, 'beta: first');
is(start(team => 'beta')->{status}, 202, 'beta: burst of 1');
is(start(team => 'beta')->{status}, 429, 'beta: third throttled');
is(start(team => 'gamma')->{status}, 202, 'gamma unaffected by beta');
is(start(team => 'gamma')->{status}, 429, 'gamma: no burst');

# the default policy's limits are shared: varying the name does not help

is(start(team => 'anon-1')->{status}, 202, 'default: first');
is(start(team => 'anon-2')->{status}, 202, 'default: burst of 1');
is(start(team => 'anon-3')->{status}, 429, 'default: one bucket for all names');
is(start()->{status}, 429, 'default: no team shares it too');

# dry run: over the rate, still forwarded, counted

is(start(team => 'trial')->{status}, 202, 'dry run: first');
is(start(team => 'trial')->{status}, 202, 'dry run: over the rate, forwarded');
like($t->error_log, qr/team "trial" over its rate, dry run/, 'dry run logged');

# delay: without nodelay, excess requests wait instead of failing

my $t0 = time;
my @codes = map { start(team => 'slow')->{status} } 1 .. 3;
my $took = time - $t0;
is("@codes", '202 202 202', 'delayed, not refused');
ok($took >= 0.8, sprintf('requests over the rate were delayed (%.2f s)', $took));

# unit budget: 5 units per 4 s window, MaxInferenceUnits counts

sub window_start { my $n = time; sleep(4 - ($n - int($n / 4) * 4) + 0.1) }

window_start();
is(start(team => 'budget', body => '{"MinInferenceUnits":1,"MaxInferenceUnits":3}')
    ->{status}, 202, 'budget: 3 of 5');
is(start(team => 'budget', body => '{"MinInferenceUnits":2}')->{status}, 202,
    'budget: 5 of 5');
$r = start(team => 'budget', body => '{"MinInferenceUnits":1}');
is($r->{status}, 429, 'budget exhausted');
like(decode_json($r->{body})->{message}, qr/budget/, 'message names the budget');
ok($r->{headers}{'retry-after'} >= 1 && $r->{headers}{'retry-after'} <= 4,
    'Retry-After: the end of the window');
sleep $r->{headers}{'retry-after'} + 0.2;
is(start(team => 'budget', body => '{"MinInferenceUnits":1}')->{status}, 202,
    'budget recovers in the next window');

# buckets survive reload

$t->reload;
is(start(team => 'beta')->{status}, 429, 'beta still throttled after reload');
is(start(team => 'shared')->{status}, 429, 'shared still throttled after reload');

$t->done;

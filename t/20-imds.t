#!/usr/bin/perl

# EC2 instance credentials (IMDSv2) fetched in the event loop by one
# refresher for all workers, rotated while requests flow, kept through
# metadata-service faults, kept across reload; secrets never logged.

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

# short-lived credentials, rotated by the service half-way through their
# life as IMDS does: a refresh is due every few seconds

my $imds = LFV::Sim->imds($t, args => [ '--ttl', 12, '--rotate', 6 ]);
my $sim;
($t, $sim) = LFV::Conf->start(t => $t, workers => 3,
    credentials => "imds endpoint=http://127.0.0.1:$imds->{port}",
    http => 'lfv_credentials_timeout 500ms;');

my $uri = '/2020-11-20/projects/imds/models/1/start';

sub start {
    return $t->http(method => 'POST', path => $uri,
        body => '{"MinInferenceUnits":1}', @_);
}

# the first request may wait for the first fetch

my $r = start();
is($r->{status}, 202, 'first request signed with IMDS credentials');

my $c = $imds->control(GET => 'counters');
is($c->{token}, 1, 'one token request');
is($c->{role}, 1, 'one role request');
is($c->{credentials}, 1, 'one credentials request, not one per worker');

# many requests over several workers: no more metadata traffic

for (1 .. 20) {
    $r = start();
    last if $r->{status} != 202;
}
is($r->{status}, 202, 'twenty more requests');
is($imds->control(GET => 'counters')->{credentials}, 1,
    'cached credentials used by every worker');

# rotation: requests flow for a while, every one signed and accepted

my $began = time;
my ($ok, $failed, $deadline) = (0, 0, time + 14);
while (time < $deadline && $ok + $failed < 2000) {
    $r = start();
    $r->{status} == 202 ? $ok++ : $failed++;
    sleep 0.02;
}
is($failed, 0, "no failures during rotation ($ok requests)");

$c = $imds->control(GET => 'counters');
ok($c->{credentials} >= 2, "refreshed before expiry ($c->{credentials} fetches)");
is($c->{token}, 1, 'IMDSv2 token reused');
my $most = int((time - $began) / 2) + 2;
ok($c->{credentials} <= $most,
    "one refresher, not one per worker ($c->{credentials} <= $most)");

my @keys = keys %{{ map { $_->{access_key_id} => 1 } $sim->journal }};
ok(@keys >= 2, 'requests signed with rotated keys');
is(scalar(grep { !$_->{sig_ok} } $sim->journal), 0, 'all signatures valid');

# the IMDSv2 token is the record's, not a worker's: the worker that takes
# over from a killed fetcher asks IMDS for no token of its own

{
    my @pids = $t->error_log =~ /(\d+)#\d+: lfv: credentials refreshed/g;
    my $fetcher = $pids[-1];
    my $tokens = $imds->control(GET => 'counters')->{token};

    $t->allow_log(qr/worker process $fetcher exited on signal 9/);
    $t->allow_log(qr/shared memory zone "lfv_credentials" was locked by $fetcher/);
    $t->allow_log(qr/lfv: a process died while writing the credentials record/);

    my $mark = $t->error_log_mark;
    kill 'KILL', $fetcher;

    my $deadline = time + 20;
    my $other;
    until ($other || time > $deadline) {
        sleep 0.2;
        ($other) = grep { $_ != $fetcher }
            $t->error_log($mark) =~ /(\d+)#\d+: lfv: credentials refreshed/g;
    }

    ok($other, "another worker refreshed after the fetcher was killed");
    is($imds->control(GET => 'counters')->{token}, $tokens,
        'and reused the IMDSv2 token');
}

# faults while cached credentials are valid: each fault is served to a
# refresh, requests are still signed; then the refresher recovers

sub wait_for {
    my ($what, $cond) = @_;
    my $deadline = time + 10;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

sub refreshes { scalar(() = $t->error_log =~ /credentials refreshed/g) }

for my $kind (qw(500 hang garbage reset oversize expired)) {
    my $before = $imds->control(GET => 'counters')->{credentials};

    $imds->control(POST => 'fault', { kind => $kind, target => 'credentials' });

    ok(wait_for("$kind served", sub {
        $imds->control(GET => 'counters')->{credentials} > $before + 1 }),
        "fault $kind: served to the refresher");

    $r = start();
    is($r->{status}, 202, "fault $kind: request still signed");

    my $n = refreshes();
    $imds->control(POST => 'fault', { kind => 'none', target => 'all' });
    ok(wait_for("$kind recovery", sub { refreshes() > $n }),
        "fault $kind: refresher recovers");
}

like($t->error_log, qr/\[warn\].*lfv: credentials refresh failed/,
    'failures logged as warnings');

# the size limit's edge: a whole answer of 16,384 bytes is taken, one
# byte more is refused

{
    my $n = refreshes();
    $imds->control(POST => 'fault',
        { kind => 'exact', size => 16384, target => 'credentials' });
    ok(wait_for('16384 bytes', sub { refreshes() > $n }),
        'an answer of exactly 16,384 bytes is taken');

    my $mark = $t->error_log_mark;
    $imds->control(POST => 'fault',
        { kind => 'exact', size => 16385, target => 'credentials' });
    ok(wait_for('16385 bytes', sub {
        $t->error_log($mark) =~ /credentials request: response too large/ }),
        'an answer of 16,385 bytes is refused as too large');

    $n = refreshes();
    $imds->control(POST => 'fault', { kind => 'none', target => 'all' });
    ok(wait_for('recovery', sub { refreshes() > $n }), 'and then recovers');
}

# reload keeps the credentials: no new fetch needed

sleep 1.5;
$imds->control(POST => 'reset');
$t->reload;
$r = start();
is($r->{status}, 202, 'signed after reload');
$c = $imds->control(GET => 'counters');
ok($c->{total} <= 1, "no burst of metadata calls on reload ($c->{total})");

my $cur = $imds->control(GET => 'current');
ok($cur->{SecretAccessKey} && $cur->{Token}, 'current credentials known');

my $took = $t->stop;
ok($took < 3, "quit is prompt ($took s)");

# the error log holds no secret

my $log = $t->error_log;
unlike($log, qr/\Q$cur->{SecretAccessKey}\E/, 'no secret key in the log');
unlike($log, qr/\Q$cur->{Token}\E/, 'no session token in the log');
like($log, qr/credentials refreshed from imds/, 'refresh logged');

$t->done;

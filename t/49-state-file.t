#!/usr/bin/perl

# The state file of the policy zone (lfv_policy_zone ... state=path):
# leases, running units, budgets and rate buckets survive a restart and
# a binary upgrade (USR2); a lease whose end passed while nginx was down
# is stopped right after start; a corrupt or truncated file is reported,
# kept aside and never overwritten, and the zone starts empty ("nginx
# -t" only reports it); a file that cannot be written keeps the previous
# one and shows on the status page; a zone full of leases refuses starts
# cleanly and admits them again when one ends.

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
my $sim = LFV::Sim->lfv($t,
    keys => { $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } },
    args => [ '--hosting-delay', '0.3' ]);

my $state = $t->prefix . '/lfv.state';
my $P = '/2020-11-20/projects';

sub conf {
    my (%o) = @_;
    my $path = $o{state} // $state;
    my $zone = $o{zone} // '1m';
    LFV::Conf->setup(t => $t, sim => $sim, workers => 2,
        http => <<"EOF",
    lfv_policy_zone teams:$zone state=$path;
    lfv_policy alpha running_units=4 lease=3s;
    lfv_policy gamma running_units=4 lease=1h budget=3/1d;
    lfv_policy zeta rate=1r/m nodelay;
    lfv_policy omega running_units=100000 lease=1h;
    lfv_lease_endpoint https://127.0.0.1:$sim->{port};
    lfv_lease_log %%PREFIX%%/lease.log;
    lfv_ssl_trusted_certificate $sim->{ca};
EOF
        server => <<'EOF',
        location = /lfv-status {
            lfv_status;
        }
EOF
        location => <<'EOF');
            lfv_team $http_x_team;
            lfv_operations start stop describe list;
EOF
}

sub start {
    my ($team, $project, $version, $units) = @_;
    return $t->http(method => 'POST',
        path => "$P/$project/models/$version/start",
        headers => [ 'X-Team' => $team, 'Content-Type' => 'application/json' ],
        body => qq({"MinInferenceUnits":$units}));
}

sub status {
    my $r = $t->http(path => '/lfv-status');
    return eval { decode_json($r->{body}) } || {};
}

sub leases { map { "$_->{team} $_->{project}/$_->{model_version}" } @{ status()->{leases} || [] } }

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

sub file { LFV::Test::_slurp($_[0]) // '' }

sub stops { grep { ($_->{operation} // '') eq 'StopModel' && $_->{path} =~ m{/\Q$_[0]\E/} } $sim->journal }

# ------------------------------------------------------------ written, 0600

conf();
$t->run;

like($t->error_log, qr/no state file "\Q$state\E" yet: the zone starts empty/,
    'no state file at first: said so');

is(start('gamma', 'g1', 1, 2)->{status}, 202, 'gamma starts 2 units, leased for 1h');
is(start('zeta', 'z1', 1, 1)->{status}, 202, 'zeta starts once');
is(start('zeta', 'z1', 2, 1)->{status}, 429, 'and is over its rate');

ok(wait_for(5, sub { file($state) =~ /^lease gamma /m }), 'the state file is written');
is((stat $state)[2] & 07777, 0600, 'mode 0600');
like(file($state), qr/\Alfv-state 1\n/, 'with its header');
like(file($state), qr/^team gamma \d+ 2 /m, 'gamma\'s budget use');
like(file($state), qr/^team zeta 0 0 0 [1-9]\d*$/m, 'zeta\'s bucket: its age');
like(file($state), qr/\nend \d+ [0-9a-f]{8}\n\z/, 'and its end line');
ok(!glob("$state.tmp.*"), 'no temporary file left');

# ------------------------------------------------------------------ restart

$t->stop(keep_spawned => 1);
$t->run;

is_deeply([ leases() ], [ 'gamma g1/1' ], 'after a restart the lease is there');
my ($l) = @{ status()->{leases} };
ok($l->{ends_in} > 3500, 'with its end') or diag explain $l;
is(status()->{teams}{gamma}{running_units}, 2, 'and its running units');
my $r = start('gamma', 'g2', 1, 2);
is($r->{status}, 429, 'the spent budget is still spent');
like($r->{body}, qr/budget/, 'budget');
is(start('zeta', 'z1', 3, 1)->{status}, 429, 'the rate bucket is still full');
like($t->error_log, qr/state of \d+ teams and 1 leases loaded from "\Q$state\E"/,
    'the load is logged');

# -------------------------------------------- a lease that ended while down

is(start('alpha', 'a1', 1, 1)->{status}, 202, 'alpha starts, leased for 3 s');
ok(wait_for(5, sub { file($state) =~ /^lease alpha /m }), 'written');
my $down = time;
$t->stop(keep_spawned => 1);
is(scalar(stops('a1')), 0, 'not stopped before nginx went down');
sleep 0.1 while time < $down + 4;
$t->run;
ok(wait_for(10, sub { stops('a1') }), 'the overdue lease is stopped right after start');
my ($stop) = stops('a1');
is($stop->{reason}, 'ok', 'signed correctly');
ok(wait_for(5, sub { !grep { /alpha/ } leases() }), 'and ends');
like(file($t->prefix . '/lease.log'), qr/"project":"a1".*"outcome":"stopped"/,
    'the audit line');

# ------------------------------------------------------- binary upgrade

my $old = $t->master_pid;
ok(wait_for(5, sub { file($state) !~ /^lease alpha /m }), 'the state file follows');
kill 'USR2', $old;
my $new;
ok(wait_for(10, sub {
    my $c = file($t->prefix . '/nginx.pid');
    ($new) = $c =~ /^(\d+)/;
    $new && $new != $old && -f $t->prefix . '/nginx.pid.oldbin' }),
    'USR2: a new master runs beside the old one');
ok(wait_for(10, sub { () = LFV::Test::_children($new, 1) }), 'with its workers');
kill 'QUIT', $old;
ok(wait_for(10, sub { !kill 0, $old }), 'the old master quits');
$t->{master} = $new;
is_deeply([ leases() ], [ 'gamma g1/1' ], 'the new binary has the lease');
is(start('gamma', 'g2', 1, 2)->{status}, 429, 'and the spent budget');
is(start('zeta', 'z1', 4, 1)->{status}, 429, 'and the rate bucket');

# -------------------------------------------------------- a corrupt file

$t->stop(keep_spawned => 1);
my $good = file($state);
ok(length $good, 'a valid file');

# "nginx -t" says so, and moves nothing

open my $fh, '>', $state or die; print $fh substr($good, 0, length($good) - 5); close $fh;
my ($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t passes with a truncated state file');
like($out, qr/state file "\Q$state\E" is not valid/, 'but reports it');
ok(-f $state && !glob("$state.corrupt-*"), 'and moves nothing');

$t->run;
like($t->error_log, qr/\[alert\].*state file "\Q$state\E" is not valid/, 'a truncated file is reported');
my @aside = glob("$state.corrupt-*");
is(scalar(@aside), 1, 'kept aside');
is(file($aside[0]), substr($good, 0, length($good) - 5), 'as it was');
is_deeply([ leases() ], [], 'the zone starts empty');
is(start('gamma', 'g3', 1, 1)->{status}, 202, 'and works');
ok(wait_for(5, sub { file($state) =~ /^lease gamma \S+ \S+ g3 /m }), 'a new file is written');
is(file($aside[0]), substr($good, 0, length($good) - 5), 'the one aside is never overwritten');

$t->stop(keep_spawned => 1);
unlink @aside;
open $fh, '>', $state or die; print $fh "lfv-state 1\nteam gamma 1 2 3 4\nend 1 00000000\n"; close $fh;
$t->run;
like($t->error_log, qr/state file "\Q$state\E" is not valid: .*CRC/i, 'a bad CRC is reported');
is(scalar(() = glob("$state.corrupt-*")), 1, 'kept aside');
unlike($t->error_log, qr/\[(?:crit|emerg)\]|exited on signal/, 'no crash');

# ------------------------------------------------ a file that cannot be written

$t->stop(keep_spawned => 1);
conf(state => $t->prefix . '/missing/lfv.state');
$t->run;
is(start('gamma', 'g4', 1, 1)->{status}, 202, 'starts go on when the file cannot be written');
ok(wait_for(5, sub { (status()->{state_file}{write_failures} // 0) > 0 }),
    'the status page counts the failures');
my $sf = status()->{state_file};
is($sf->{failing}, JSON::PP::true, 'failing');
like($sf->{last_error}, qr/No such file or directory/, 'and says why');
like($t->error_log, qr/\[alert\].*state file ".*missing\/lfv\.state" could not be written: .*; the previous one is kept/,
    'and the error log');
like($t->http(path => '/lfv-status?format=prometheus')->{body},
    qr/^lfv_state_write_failures_total [1-9]/m, 'and Prometheus');
is(start('gamma', 'g5', 1, 1)->{status}, 202, 'more changes');
ok(wait_for(5, sub { (status()->{state_file}{write_failures} // 0) >= 2 }),
    'more failed writes');
is(scalar(() = $t->error_log =~ /could not be written/g), 1,
    'logged once, not at every write');

# ----------------------------------------------------------- a full zone

$t->stop(keep_spawned => 1);
unlink $state;
conf(zone => '32k');
$t->run;

my ($admitted, $refused, $n) = (0, 0, 0);
my $before = () = grep { ($_->{operation} // '') eq 'StartModel' } $sim->journal;
while ($n < 400 && !$refused) {
    $n++;
    my $r = start('omega', 'omega-v999', $n, 1);
    $admitted++ if $r->{status} == 202;
    if ($r->{status} == 503) {
        $refused++;
        like($r->{body}, qr/no room to record the lease/, 'a full zone refuses the start');
    }
}
ok($admitted > 10, "$admitted leases fit in 32k");
is($refused, 1, 'then a refusal');
my $after = () = grep { ($_->{operation} // '') eq 'StartModel' } $sim->journal;
is($after - $before, $admitted, 'the refused start was not forwarded');
is(scalar(leases()), $admitted, 'every admitted start has its lease');
like($t->error_log, qr/\[alert\].*no room for the lease of a start of team "omega"/,
    'the error log says so');
is($t->http(method => 'POST', path => "$P/omega-v999/models/1/stop",
    headers => [ 'X-Team' => 'omega' ])->{status}, 202, 'a stop ends a lease');
is(start('omega', 'omega-v999', $n, 1)->{status}, 202, 'and makes room');
unlike($t->error_log, qr/\[(?:crit|emerg)\]|exited on signal/, 'no crash');

# what this test provokes on purpose
$t->allow_log(qr/lfv: the state file "[^"]+" is not valid/);
$t->allow_log(qr/lfv: the state file is kept as "[^"]+\.corrupt-\d+"/);
$t->allow_log(qr/lfv: the state file "[^"]+missing\/lfv\.state" could not be written/);
$t->allow_log(qr/lfv: no room for the lease of a start of team "omega"/);
$t->done;

#!/usr/bin/perl

# The cost guard (docs/cost-guard.md): a team's running inference units
# against running_units=, and lease= that stops a model itself.  Against
# lfv_sim with two workers: a lease of 2 s ends in a signed StopModel
# (botocore checks it) and the model ends TRAINED; the cap refuses a
# start, nothing forwarded, and admits it again after an auto-stop or a
# stop through the proxy; 12 concurrent starts never pass a cap of 3;
# "latest" refused for a leased team; StopModel failing twice with 500,
# then stopped; a model stopped behind the proxy's back is reconciled;
# the audit lines of lfv_lease_log; the status page and Prometheus;
# nginx -t mistakes.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;
my $sim = LFV::Sim->lfv($t,
    keys => { $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } },
    args => [ '--hosting-delay', '0.3' ]);

LFV::Conf->setup(t => $t, sim => $sim, workers => 2,
    http => <<"EOF",
    lfv_policy_zone teams:1m;
    lfv_policy alpha running_units=3 lease=2s;
    lfv_policy beta running_units=2;
    lfv_policy gamma running_units=3;
    lfv_policy default;
    lfv_lease_endpoint https://127.0.0.1:$sim->{port};
    lfv_lease_reconcile 2s;
    lfv_lease_retry 6s;
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
            lfv_error_format envelope;
            proxy_read_timeout 2s;
EOF
$t->run;

my $P = '/2020-11-20/projects';

sub start {
    my ($team, $project, $version, $units) = @_;
    return $t->http(method => 'POST',
        path => "$P/$project/models/$version/start",
        headers => [ 'X-Team' => $team, 'Content-Type' => 'application/json' ],
        body => qq({"MinInferenceUnits":$units}));
}

sub stop {
    my ($team, $project, $version) = @_;
    return $t->http(method => 'POST', path => "$P/$project/models/$version/stop",
        headers => [ 'X-Team' => $team ]);
}

sub status {
    my $r = $t->http(path => '/lfv-status');
    return eval { decode_json($r->{body}) } || {};
}

sub team { status()->{teams}{$_[0]} || {} }

sub calls {
    my ($op, $project) = @_;
    return grep { ($_->{operation} // '') eq $op
                  && $_->{path} =~ m{/projects/\Q$project\E/} } $sim->journal;
}

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

sub lease_lines {
    my $log = LFV::Test::_slurp($t->prefix . '/lease.log') // '';
    return map { decode_json($_) } grep { length } split /\n/, $log;
}

sub body { eval { decode_json($_[0]{body}) } || {} }

# ---------------------------------------------------------------- a lease ends

my $t0 = time;
my $r = start('alpha', 'line1', 1, 2);
is($r->{status}, 202, 'a leased start is forwarded');
my $ends = $r->{headers}{'x-lfv-lease-ends'};
ok($ends && $ends =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    'the answer says when the lease ends (X-Lfv-Lease-Ends)');
is(body($r)->{data}{lease_ends}, $ends, 'and so does the envelope, in data');

my $alpha = team('alpha');
is($alpha->{running_units}, 2, 'the team runs 2 units');
is($alpha->{running_units_cap}, 3, 'of its cap of 3');
my ($l) = @{ status()->{leases} || [] };
is_deeply([ @$l{qw(team project model_version units state)} ],
    [ 'alpha', 'line1', '1', 2, 'running' ], 'the status page shows the lease');
ok($l->{ends_in} >= 0 && $l->{ends_in} <= 2, 'ends in 2 s or less');

# over the cap: refused here, nothing forwarded

my $before = () = calls('StartModel', 'line2');
$r = start('alpha', 'line2', 1, 2);
is($r->{status}, 402, 'a start over the running units cap is refused');
is(body($r)->{error}{code}, 'QUOTA_EXCEEDED', 'as a quota error');
is(body($r)->{error}{message},
    "the start would take the team's running inference units over its cap",
    'saying why');
is(scalar(() = calls('StartModel', 'line2')), $before, 'nothing forwarded');

ok(wait_for(8, sub { calls('StopModel', 'line1') }), 'StopModel sent when the lease ended');
my ($stop) = calls('StopModel', 'line1');
is($stop->{reason}, 'ok', 'signed correctly (botocore)');
is($stop->{status}, 202, 'accepted');
ok(time - $t0 >= 1.5, 'not before the lease ended');
ok((grep { lc $_->[0] eq 'x-amzn-client-token' } @{ $stop->{headers} }),
    'with a client token');

ok(wait_for(5, sub { (team('alpha')->{running_units} // -1) == 0 }),
    'the units are no longer running');
ok(wait_for(5, sub {
    ($sim->control(GET => 'model?project=line1&version=1')->{status} // '')
        eq 'TRAINED' }), 'the model ends TRAINED');

my ($line) = grep { $_->{project} eq 'line1' } lease_lines();
is_deeply([ @$line{qw(team project model_version units operation decision outcome status)} ],
    [ 'alpha', 'line1', '1', '2', 'StopModel', 'lease_expired', 'stopped', '202' ],
    'one audit line of the auto-stop');
like($line->{aws_request_id} // '', qr/^[0-9a-f-]{36}$/, 'with AWS\'s request id');
is($line->{access_key_id}, $LFV::Conf::AKID, 'and the key id');
is($line->{credential_source}, 'static', 'and its source');
like($t->error_log, qr/lfv: lease_expired: \{/, 'and a line in the error log');
unlike(LFV::Test::_slurp($t->prefix . '/lease.log'), qr/\Q$LFV::Conf::SECRET\E/,
    'no secret in the audit lines');
is(team('alpha')->{lease_outcomes}{stopped}, 1, 'counted as stopped');

# admitted again after the auto-stop

$r = start('alpha', 'line2', 1, 2);
is($r->{status}, 202, 'the start is admitted after the auto-stop');

# ------------------------------------------------- a stop through the proxy

is(start('beta', 'beta1', 1, 2)->{status}, 202, 'beta starts 2 units');
is(start('beta', 'beta2', 1, 1)->{status}, 402, 'a third unit is over its cap');
is(stop('beta', 'beta1', 1)->{status}, 202, 'beta stops through the proxy');
is(team('beta')->{running_units}, 0, 'the stop ended the record');
is(team('beta')->{lease_outcomes}{stopped_by_client}, 1, 'counted');
is(start('beta', 'beta2', 1, 1)->{status}, 202, 'and the start is admitted');

# ------------------------------------- a start AWS refuses gives its units back

for my $case ([ 'conflict', 409, 'AWS\'s 409' ], [ 'throttle', 429, 'AWS\'s 429' ]) {
    my ($project, $status, $what) = @$case;
    is(start('beta', $project, 1, 1)->{status}, $status, "a start refused: $what");
    is(team('beta')->{reserved_units}, 0, 'its reservation is given back');
    is(team('beta')->{running_units}, 1, 'nothing more runs');
}

$sim->control(POST => 'fault', { kind => 'hang', target => 'StartModel', count => 1 });
is(start('beta', 'beta3', 1, 1)->{status}, 504, 'a start AWS does not answer in time');
$sim->control(POST => 'fault', { kind => 'none', target => 'StartModel' });
is(team('beta')->{reserved_units}, 0, 'its reservation is given back');
is(team('beta')->{running_units}, 1, 'and it is not recorded as running');

# a client that goes away while its start is in flight

$sim->control(POST => 'fault', { kind => 'hang', target => 'StartModel', count => 1 });
{
    my $body = '{"MinInferenceUnits":1}';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('http'),
        Timeout => 5) or die $!;
    print $s "POST $P/beta4/models/1/start HTTP/1.1\r\nHost: localhost\r\n"
        . "X-Team: beta\r\nContent-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    ok(wait_for(5, sub { (team('beta')->{reserved_units} // 0) == 1 }),
        'while a start is in flight its units are reserved');
    is(start('beta', 'beta5', 1, 1)->{status}, 402, 'and count against the cap');
    close $s;
}
ok(wait_for(5, sub { (team('beta')->{reserved_units} // -1) == 0 }),
    'a client gone: the reservation is given back');
$sim->control(POST => 'fault', { kind => 'none', target => 'StartModel' });
is(start('beta', 'beta5', 1, 1)->{status}, 202, 'and the unit can be started');
is(stop('beta', 'beta5', 1)->{status}, 202, '(stopped again)');

# ------------------------------------------------------------------- latest

$before = () = calls('StartModel', 'line3');
$r = start('alpha', 'line3', 'latest', 1);
is($r->{status}, 400, '"latest" is refused for a leased team');
like(body($r)->{error}{message}, qr/latest/, 'saying why');
is(scalar(() = calls('StartModel', 'line3')), $before, 'nothing forwarded');
is(start('nobody', 'free', 'latest', 1)->{status}, 202,
    'a team without a guard may still start "latest"');

# ------------------------------------------- concurrent starts over two workers

my $port = $t->port('http');
my @s;
for my $v (1 .. 12) {
    my $body = '{"MinInferenceUnits":1}';
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
        or die $!;
    print $s "POST $P/gamma-c-v20/models/$v/start HTTP/1.1\r\nHost: localhost\r\n"
        . "X-Team: gamma\r\nContent-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    push @s, $s;
}
my %got;
for my $s (@s) {
    my ($buf, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(10)) {
        last unless sysread($s, $buf, 4096, length $buf);
    }
    $got{$1}++ if $buf =~ m{^HTTP/1\.1 (\d{3})};
}
is($got{202}, 3, '12 concurrent starts of 1 unit: 3 admitted');
is($got{402}, 9, 'and 9 refused');
is(scalar(() = calls('StartModel', 'gamma-c-v20')), 3, 'only 3 forwarded');
is(team('gamma')->{running_units}, 3, 'the cap is reached, not passed');
is(team('gamma')->{rejected}{running_units}, 9, 'each refusal counted once');

# ------------------------------------------- a model stopped behind our back

my ($first) = map { $_->{path} =~ m{/models/(\d+)/} } calls('StartModel', 'gamma-c-v20');

my $set = $sim->control(POST => 'model', { project => 'gamma-c-v20',
    version => "$first", status => 'TRAINED' });
is($set->{status}, 'TRAINED', "model $first stopped behind the proxy's back")
    or diag explain $set;
ok(wait_for(10, sub { (team('gamma')->{running_units} // 0) == 2 }),
    'reconciled: a model stopped elsewhere no longer counts');
ok((grep { $_->{decision} eq 'reconciled' && $_->{project} eq 'gamma-c-v20'
           && $_->{model_version} eq $first } lease_lines()),
    'an audit line says so');
ok(calls('DescribeModel', 'gamma-c-v20') >= 3, 'DescribeModel asked of each');
is(team('gamma')->{running_units}, 2, 'the others still run');
is(start('gamma', 'gamma-c-v20', 20, 1)->{status}, 202, 'a unit is free again');

# a DescribeModel that fails keeps the model counted, and says so

$sim->control(POST => 'fault', { kind => 'status500', target => 'DescribeModel' });
ok(wait_for(10, sub { (team('gamma')->{lease_outcomes}{check_failed} // 0) >= 1 }),
    'a failed DescribeModel is counted');
like($t->error_log, qr/\[warn\].*DescribeModel of model "gamma-c-v20\/\d+" of team "gamma" failed: status 500 InternalServerException; it still counts as running/,
    'and logged');
is(team('gamma')->{running_units}, 3, 'the models still count');
$sim->control(POST => 'fault', { kind => 'none', target => 'DescribeModel' });

# a model AWS does not know (404 ResourceNotFoundException) is dropped too

is(start('beta', 'beta-x', 12, 1)->{status}, 202, 'a start of a version AWS does not have');
ok(wait_for(10, sub { grep { $_->{project} eq 'beta-x' && $_->{decision} eq 'reconciled' }
                      lease_lines() }), 'reconciled on DescribeModel\'s 404');

# stopped elsewhere before its lease ends: StopModel's 409 ends the lease

is(start('alpha', 'line6', 1, 1)->{status}, 202, 'a leased start');
$sim->control(POST => 'model', { project => 'line6', version => '1', status => 'TRAINED' });
ok(wait_for(10, sub { grep { $_->{project} eq 'line6' } lease_lines() }), 'its lease ends');
my ($l6) = grep { $_->{project} eq 'line6' } lease_lines();
is_deeply([ @$l6{qw(outcome status error_type)} ], [ 'not_hosted', '409', 'ConflictException' ],
    'on StopModel\'s 409');
is(team('alpha')->{lease_outcomes}{not_hosted}, 1, 'counted as not hosted');

# ------------------------------------ StopModel failing twice, then stopped

$sim->control(POST => 'fault', { kind => 'status500', target => 'StopModel',
                                 count => 2 });
is(start('alpha', 'line4', 1, 1)->{status}, 202, 'a start with a lease');
ok(wait_for(20, sub { grep { $_->{project} eq 'line4' && $_->{outcome} eq 'stopped' }
                      lease_lines() }), 'stopped in the end');
my @l4 = grep { $_->{project} eq 'line4' } lease_lines();
is_deeply([ map { $_->{outcome} } @l4 ], [ 'failed', 'failed', 'stopped' ],
    'two failed attempts, then the stop');
is_deeply([ map { $_->{attempt} } @l4 ], [ 1, 2, 3 ], 'numbered');
is($l4[0]{status}, '500', 'the failure\'s status');
is($l4[0]{error_type}, 'InternalServerException', 'and its error type');
my @tokens = map { my ($h) = grep { lc $_->[0] eq 'x-amzn-client-token' } @{ $_->{headers} };
                   $h->[1] } calls('StopModel', 'line4');
is(scalar(@tokens), 3, 'three StopModel calls');
is(scalar(keys %{ { map { $_ => 1 } @tokens } }), 1, 'with one client token');
like($t->error_log, qr/lfv: lease_expired: .*"outcome":"failed"/, 'failures logged');

# ------------------------------------------- past the retry window: an alert

$sim->control(POST => 'fault', { kind => 'status500', target => 'StopModel' });
is(start('alpha', 'line5', 1, 1)->{status}, 202, 'a start whose stop fails');
ok(wait_for(20, sub { $t->error_log =~ /\[alert\].*model "line5\/1" of team "alpha" still runs/ }),
    'an alert once the retry window has passed');
ok((grep { $_->{project} eq 'line5' && $_->{outcome} eq 'overdue' } lease_lines()),
    'and an audit line');
is(team('alpha')->{lease_outcomes}{overdue}, 1, 'counted as overdue');
my ($l5) = grep { $_->{project} eq 'line5' } @{ status()->{leases} };
is($l5->{state}, 'overdue', 'the status page shows it overdue');
$sim->control(POST => 'fault', { kind => 'none', target => 'StopModel' });

# --------------------------------------------------------------- Prometheus

my $prom = $t->http(path => '/lfv-status?format=prometheus')->{body};
like($prom, qr/^lfv_running_units\{team="gamma"\} 3$/m, 'lfv_running_units');
like($prom, qr/^lfv_running_units_cap\{team="beta"\} 2$/m, 'lfv_running_units_cap');
like($prom, qr/^lfv_lease_outcomes_total\{team="alpha",outcome="stopped"\} [1-9]/m,
    'lfv_lease_outcomes_total');
like($prom, qr/^lfv_lease_outcomes_total\{team="alpha",outcome="overdue"\} 1$/m,
    'overdue in Prometheus, to alert on');

unlike($t->error_log, qr/\[(?:crit|emerg)\]|exited on signal/, 'no crash');

$t->allow_log(qr/model "line5\/1" of team "alpha" still runs \d+ s after its lease ended/);
$t->checks;

# ------------------------------------------------------------- nginx -t

{
    my $t2 = LFV::Test->new;
    LFV::Conf->setup(t => $t2, sim => $sim, http => "lfv_policy_zone z:1m;\n"
        . "    lfv_policy a running_units=1;\n"
        . "    lfv_lease_endpoint https://127.0.0.1:$sim->{port};");
    my ($ok, $out) = $t2->nginx_test;
    ok($ok, 'nginx -t passes a guard without state=');
    like($out, qr/\[warn\].*running_units= and lease= of "lfv_policy" in \S+nginx\.conf:\d+ without "state=" on "lfv_policy_zone": a restart forgets the leases/,
        'with a warning that a restart forgets the leases');
    $t2->checks;
}

my @bad = (
    [ 'lfv_policy a lease=0s;', qr/invalid parameter "lease=0s"/ ],
    [ 'lfv_policy a running_units=x;', qr/invalid parameter "running_units=x"/ ],
    [ "lfv_policy_zone z:1m state=;\n    lfv_policy a running_units=1;",
      qr/invalid parameter "state="/ ],
    [ 'lfv_policy a running_units=1;',
      qr/running_units= and lease= of "lfv_policy" in \S+nginx\.conf:\d+ need "lfv_policy_zone"/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy a lease=1h;",
      qr/cost guard of "lfv_policy" in \S+nginx\.conf:\d+ stops models itself: it needs a "resolver"/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy a lease=1h;\n    lfv_lease_endpoint ftp://x;",
      qr/lfv_lease_endpoint "ftp:\/\/x" must be an https:\/\/ URL/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy a lease=1h;\n    lfv_lease_endpoint http://192.0.2.1;",
      qr/http:\/\/ is only for a loopback address/ ],
);

for my $b (@bad) {
    my $t2 = LFV::Test->new;
    LFV::Conf->setup(t => $t2, sim => $sim, http => $b->[0]);
    my ($ok, $out) = $t2->nginx_test;
    ok(!$ok, "nginx -t refuses: $b->[0]");
    like($out, $b->[1], 'saying why') or diag $out;
    $t2->checks;
}

done_testing;

#!/usr/bin/perl

# The cost guard in the store (lfv_policy_store dynamodb): nginx
# instances that share one table in dynalite enforce a team's
# running_units= exactly under concurrent starts over both; a stop
# through either ends the lease, whoever started it; AWS's refusal gives
# the lease back; a lease recorded by instance A is stopped by B after A
# is killed with SIGKILL, exactly once; a claim left by a proxy killed in
# the middle of its StopModel is taken over; a start whose proxy died
# before AWS answered is checked and dropped; reconciliation drops a
# model stopped behind the proxies' back; the store stopped: starts
# refused, stops forwarded, their leases ended once it answers again.

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

# the simulators belong to $t, which runs no nginx of its own: killing
# an instance leaves them up

my $t = LFV::Test->new;
my $sim = LFV::Sim->lfv($t,
    keys => { $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } },
    args => [ '--hosting-delay', '0.3' ]);
my $ddb = LFV::Sim->dynalite($t, path => 'db');
$ddb->create_table('lfv-limits');
my $px = LFV::Sim->ddb_proxy($t, upstream => $ddb);

my $http = <<"EOF";
    lfv_policy_zone teams:1m;
    lfv_policy_store dynamodb table=lfv-limits region=us-east-1 endpoint=http://127.0.0.1:$px->{port} timeout=5s claim=2s;
    lfv_policy alpha running_units=4;
    lfv_policy beta running_units=20 lease=3s;
    lfv_lease_endpoint https://127.0.0.1:$sim->{port};
    lfv_lease_reconcile 3s;
    lfv_lease_retry 60s;
    lfv_lease_log %%PREFIX%%/lease.log;
    lfv_ssl_trusted_certificate $sim->{ca};
EOF

my $server = <<'EOF';
        location = /lfv-status {
            lfv_status;
        }
EOF

my $location = <<'EOF';
            lfv_team $http_x_team;
            lfv_operations start stop describe list;
            proxy_read_timeout 3s;
EOF

sub instance {
    my $n = LFV::Test->new;
    LFV::Conf->setup(t => $n, sim => $sim, workers => 2, http => $http,
        server => $server, location => $location);
    $n->run;
    return $n;
}

my $a = instance();
my $b = instance();

my $P = '/2020-11-20/projects';
my $HOST = 'lookoutvision.us-east-1.amazonaws.com';

sub start {
    my ($n, $team, $project, $version) = @_;
    return $n->http(method => 'POST',
        path => "$P/$project/models/$version/start",
        headers => [ 'X-Team' => $team, 'Content-Type' => 'application/json' ],
        body => '{"MinInferenceUnits":1}');
}

sub stop {
    my ($n, $team, $project, $version) = @_;
    return $n->http(method => 'POST', path => "$P/$project/models/$version/stop",
        headers => [ 'X-Team' => $team ]);
}

sub status {
    my ($n) = @_;
    my $r = $n->http(path => '/lfv-status');
    return eval { decode_json($r->{body}) } || {};
}

sub calls {
    my ($op, $project, $version) = @_;
    return grep { ($_->{operation} // '') eq $op
                  && $_->{path} =~ m{/projects/\Q$project\E/models/\Q$version\E(/|$)} }
        $sim->journal;
}

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

# the team's leases in the store: { "project/version" => item }

sub leases {
    my ($team) = @_;
    my ($q, $st) = $ddb->call(Query => { TableName => 'lfv-limits',
        KeyConditionExpression => 'pk = :p AND begins_with(sk, :m)',
        ExpressionAttributeValues => { ':p' => { S => "team#$team" },
                                       ':m' => { S => 'model#' } },
        ConsistentRead => JSON::PP::true });
    die "Query: " . ($st // 'no answer') . "\n" unless ($st // 0) == 200;
    my %l;
    for my $i (@{ $q->{Items} }) {
        my ($pv) = $i->{sk}{S} =~ m{^model#\Q$HOST\E/(.+)$} or die "sk $i->{sk}{S}\n";
        $l{$pv} = { map { $_ => (values %{ $i->{$_} })[0] } keys %$i };
    }
    return \%l;
}

sub kill9 {
    my ($n) = @_;
    my @pids = ($n->master_pid, $n->worker_pids);
    kill 'KILL', @pids;
    wait_for(5, sub { !grep { kill 0, $_ } @pids });
    delete $n->{master};
}


# ------------------------------------------------- running units, exactly

my $got = LFV::Conf->burst([ $a, $b ], 'alpha', 'al-v99', 12);
is($got->{202}, 4, '12 concurrent starts over two proxies: running_units=4 exactly')
    or diag explain [ $got, $a->error_log, $b->error_log ];
is($got->{402}, 8, 'the others refused with 402') or diag explain $got;
is(scalar(map { calls('StartModel', 'al-v99', $_) } 1 .. 12), 4, 'only 4 forwarded');

ok(wait_for(10, sub { my $l = leases('alpha');
        keys %$l == 4 && !grep { $_->{pending} } values %$l }),
    'the store holds their 4 leases, none pending any more')
    or diag explain leases('alpha');
my ($one) = sort keys %{ leases('alpha') };
my $l1 = leases('alpha')->{$one};
is($l1->{units}, 1, 'a lease records its units');
is($l1->{ends}, 0, 'no end: a cap only');
is($l1->{owner}, '', 'and no owner while nobody calls about it');
is($l1->{gpk}, 'lease', 'it is in the index');

my ($proj, $ver) = split m{/}, $one;
is(start($b, 'alpha', 'al-v99', 99)->{status}, 402, 'a fifth unit refused by either proxy');

# a stop through B of a model A or B started: the lease ends in the store

my ($first) = sort keys %{ leases('alpha') };
($proj, $ver) = split m{/}, $first;
is(stop($b, 'alpha', $proj, $ver)->{status}, 202, 'a stop through B');
ok(wait_for(10, sub { !leases('alpha')->{$first} }), 'ends its lease in the store');
is(start($a, 'alpha', 'al-v99', 21)->{status}, 202, 'and its unit can be started again');
is(start($b, 'alpha', 'al-v99', 22)->{status}, 402, 'but not one more');

# AWS's own refusal gives the lease back

ok(wait_for(10, sub { keys %{ leases('alpha') } == 4 }), '(4 running)');
($first) = grep { $_ ne 'al-v99/21' } sort keys %{ leases('alpha') };
($proj, $ver) = split m{/}, $first;
is(stop($a, 'alpha', $proj, $ver)->{status}, 202, '(one stopped)');
ok(wait_for(10, sub { keys %{ leases('alpha') } == 3 }), '(3 running)');

$sim->control(POST => 'fault', { kind => 'status500', target => 'StartModel', count => 1 });
is(start($b, 'alpha', 'al-v99', 30)->{status}, 500, 'a start AWS refuses');
ok(wait_for(10, sub { !leases('alpha')->{'al-v99/30'} }), 'gives its lease back');
is(start($b, 'alpha', 'al-v99', 31)->{status}, 202, 'so the unit can be started');

# ------------------------------------ a lease of a proxy killed with SIGKILL

my $r = start($a, 'beta', 'bk', 1);
is($r->{status}, 202, 'A starts a model with a lease of 3 s');
like($r->{headers}{'x-lfv-lease-ends'} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    'and says when it ends');
ok(wait_for(10, sub { my $l = leases('beta')->{'bk/1'}; $l && !$l->{pending} }),
    'the lease is recorded in the store');
kill9($a);
ok(!$a->running, 'A is killed with SIGKILL');

ok(wait_for(25, sub { !leases('beta')->{'bk/1'} }),
    'B stops the model of A at the end of its lease') or diag $b->error_log;
my @stops = calls('StopModel', 'bk', 1);
is(scalar @stops, 1, 'with one StopModel') or diag explain \@stops;
is($stops[0]{status}, 202, 'that AWS accepted');
like(LFV::Test::_slurp($b->prefix . '/lease.log') // '', qr/"project":"bk".*"outcome":"stopped"/,
    'in B\'s lease log');

# -------------------------- a claim whose proxy died in its call: taken over

my $c = instance();
is(start($c, 'beta', 'bt', 1)->{status}, 202, 'C starts a model with a lease');
ok(wait_for(10, sub { my $l = leases('beta')->{'bt/1'}; $l && !$l->{pending} }),
    '(recorded)');
$sim->control(POST => 'fault', { kind => 'hang', target => 'StopModel', count => 1 });
ok(wait_for(20, sub { (leases('beta')->{'bt/1'}{owner} // '') ne '' }),
    'at its end a proxy claims it and calls StopModel, which hangs');
my ($pid) = leases('beta')->{'bt/1'}{owner} =~ m{/(\d+)$};
my ($dead, $alive) = (grep { $_ == $pid } $c->worker_pids) ? ($c, $b) : ($b, $c);
ok(scalar(grep { $_ == $pid } $dead->worker_pids), 'the claim names a worker of B or C');
kill9($dead);

ok(wait_for(25, sub { !leases('beta')->{'bt/1'} }),
    'the other proxy takes the claim over and stops the model')
    or diag $alive->error_log;
ok(scalar(grep { ($_->{status} // 0) == 202 } calls('StopModel', 'bt', 1)),
    'its StopModel went through');
$sim->control(POST => 'fault', { kind => 'none', target => 'StopModel' });

# ------------------------ a start whose proxy died before AWS answered

my $d = instance();
$sim->control(POST => 'fault', { kind => 'hang', target => 'StartModel', count => 1 });
my $body = '{"MinInferenceUnits":1}';
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $d->port('http'), Timeout => 5)
    or die $!;
print $s "POST $P/bp/models/1/start HTTP/1.1\r\nHost: localhost\r\nX-Team: beta\r\n"
    . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
ok(wait_for(10, sub { (leases('beta')->{'bp/1'}{pending} // 0) == 1 }),
    'a start in flight has a pending lease');
kill9($d);
close $s;
$sim->control(POST => 'fault', { kind => 'none', target => 'StartModel' });
ok(wait_for(40, sub { !leases('beta')->{'bp/1'} }),
    'its proxy killed, the lease is checked when its wait is over, and dropped')
    or diag $alive->error_log;
ok(scalar(calls('DescribeModel', 'bp', 1)), 'after a DescribeModel');
is(scalar(calls('StopModel', 'bp', 1)), 0, 'and no stop of a model never started');

# --------------------------- reconciliation: stopped behind the proxies' back

is(start($alive, 'alpha', 'ar', 1)->{status}, 402, '(alpha is at its cap)');
($first) = sort keys %{ leases('alpha') };
($proj, $ver) = split m{/}, $first;
$sim->control(POST => 'model', { project => $proj, version => $ver, status => 'TRAINED' });
ok(wait_for(25, sub { !leases('alpha')->{$first} }),
    'a model stopped behind the proxies\' back: its lease dropped by reconciliation');
like(LFV::Test::_slurp($alive->prefix . '/lease.log') // '', qr/"project":"\Q$proj\E".*"outcome":"reconciled"/,
    'logged as reconciled');
is(start($alive, 'alpha', 'ar', 2)->{status}, 202, 'and its unit can be started again');

# ------------------------------------------------- the store stopped

my $before = scalar(calls('StartModel', 'bd', 1));
$ddb->stop_store;
$r = start($alive, 'beta', 'bd', 1);
is($r->{status}, 503, 'the store down: a start is refused');
is(scalar(calls('StartModel', 'bd', 1)), $before, 'nothing forwarded');
is(stop($alive, 'alpha', 'ar', 2)->{status}, 202, 'a stop still goes through');
ok(wait_for(10, sub { (status($alive)->{store}{writes_waiting} // 0) >= 1 }),
    'its lease\'s end waits for the store');
$ddb->start_store;
ok(wait_for(20, sub { !leases('alpha')->{'ar/2'} }),
    'the store back: the lease is ended in it');
ok(wait_for(10, sub { (status($alive)->{store}{writes_waiting} // -1) == 0 }),
    'nothing waits any more');
like($alive->error_log, qr/lfv: the store answers again: \d+ writes that waited are sent/,
    'the error log says so');
is(start($alive, 'beta', 'bd', 2)->{status}, 202, 'starts are decided again');

# the IAM policy of docs/several-proxies.md is enough: these calls only

my %ops = map { ($_->{target} // 'other') => 1 } $px->journal;
is_deeply([ sort keys %ops ], [ qw(DeleteItem GetItem Query UpdateItem) ],
    'the proxies call GetItem, UpdateItem, Query and DeleteItem, nothing else');
ok(scalar(grep { ($_->{request}{IndexName} // '') eq 'due' } $px->journal),
    'the sweep queries the index "due"');

unlike(join('', map { $_->error_log } $a, $b, $c, $d),
    qr/\Q$LFV::Conf::SECRET\E/, 'no secret in the logs');

$alive->allow_log(qr/lfv: the store of the team limits failed/);
$_->checks for $alive, $dead, $a, $d;
$t->done;

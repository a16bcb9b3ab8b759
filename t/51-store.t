#!/usr/bin/perl

# lfv_policy_store dynamodb: two nginx instances share one table in
# dynalite (an existing DynamoDB implementation), through a fault proxy.
# A team's budget and rate are exact across both under concurrent starts
# of several clients; a team without them never asks the store; the
# store stopped: starts refused with 503 store_unavailable and nothing
# forwarded, stops still go through, readiness says so, and the store
# restarted is used again without a restart of nginx; a throttled store
# and answers that are not DynamoDB's are refused the same way; the
# calls are signed for service dynamodb with X-Amz-Target signed;
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

my $a = LFV::Test->new;
my $sim = LFV::Sim->lfv($a,
    keys => { $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } });
my $ddb = LFV::Sim->dynalite($a, path => 'db');
$ddb->create_table('lfv-limits');
my $px = LFV::Sim->ddb_proxy($a, upstream => $ddb);

my $http = <<"EOF";
    lfv_policy_zone teams:1m;
    lfv_policy_store dynamodb table=lfv-limits region=us-east-1 endpoint=http://127.0.0.1:$px->{port} timeout=10s;
    lfv_policy alpha budget=10/1d;
    lfv_policy beta rate=1r/m burst=2 nodelay;
    lfv_policy gamma;
    lfv_policy delta budget=1000/1d;
EOF

my $server = <<'EOF';
        location = /lfv-status {
            lfv_status;
        }
EOF

my $location = <<'EOF';
            lfv_team $http_x_team;
            lfv_operations start stop describe list;
EOF

LFV::Conf->setup(t => $a, sim => $sim, workers => 2, http => $http,
    server => $server, location => $location);
$a->run;

my $b = LFV::Test->new;
LFV::Conf->setup(t => $b, sim => $sim, workers => 2, http => $http,
    server => $server, location => $location);
$b->run;

my $P = '/2020-11-20/projects';

sub start {
    my ($t, $team, $project, $version) = @_;
    return $t->http(method => 'POST',
        path => "$P/$project/models/$version/start",
        headers => [ 'X-Team' => $team, 'Content-Type' => 'application/json' ],
        body => '{"MinInferenceUnits":1}');
}

sub status {
    my ($t) = @_;
    my $r = $t->http(path => '/lfv-status');
    return ($r, eval { decode_json($r->{body}) } || {});
}

sub starts {
    my ($project) = @_;
    return scalar grep { ($_->{operation} // '') eq 'StartModel'
                         && $_->{path} =~ m{/projects/\Q$project\E/} } $sim->journal;
}

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}


# ------------------------------------------------------------ exact limits

my $got = LFV::Conf->burst([ $a, $b ], 'alpha', 'alpha-v50', 24);
is($got->{202}, 10, '24 concurrent starts over two proxies: the budget of 10 exactly')
    or diag explain [ $got, grep { /store of the team limits failed/ } split /\n/, $a->error_log . $b->error_log ];
is($got->{429}, 14, 'the others refused by the budget') or diag explain $got;
is(starts('alpha-v50'), 10, 'only 10 forwarded');

my ($item) = $ddb->call(GetItem => { TableName => 'lfv-limits',
    Key => { pk => { S => 'team#alpha' }, sk => { S => 'limits' } } });
is($item->{Item}{used}{N}, '10', 'the store holds the units spent');
my $exp = $item->{Item}{expires}{N} // 0;
ok($exp > time + 89 * 86400 && $exp < time + 91 * 86400,
    'and an expiry for the table\'s TTL, 90 days on');

$got = LFV::Conf->burst([ $a, $b ], 'beta', 'beta-v50', 10);
is($got->{202}, 3, 'a rate of 1r/m with burst=2: 3 of 10 concurrent starts');
is($got->{429}, 7, 'the others refused by the rate');

my ($ra, $sa) = status($a);
my ($rb, $sb) = status($b);
is($sa->{store}{ready}, JSON::PP::true, 'the store is ready (A)');
ok($sa->{store}{calls} > 0 && $sb->{store}{calls} > 0, 'both proxies asked it');
ok($sa->{store}{races} + $sb->{store}{races} > 0,
    'and lost races to each other, read again') or diag explain [$sa->{store}, $sb->{store}];
is(($sa->{teams}{alpha}{rejected}{budget} // 0) + ($sb->{teams}{alpha}{rejected}{budget} // 0),
    14, 'the refusals counted on the status pages');

my @calls = grep { ($_->{target} // '') =~ /Query|UpdateItem/ } $px->journal;
ok(@calls, 'the calls went through the fault proxy');

# a team without rate= and budget= never asks the store

my $before = () = $px->journal;
is(start($a, 'gamma', 'gamma-1', 1)->{status}, 202, 'a team without limits starts');
is(scalar(() = $px->journal), $before, 'without asking the store');

# ------------------------------------------------------------ the store down

$ddb->stop_store;
my $r = start($a, 'delta', 'delta-1', 1);
is($r->{status}, 503, 'the store down: a start is refused');
is($r->{headers}{'x-amzn-errortype'}, 'InternalServerException', 'as InternalServerException');
like($r->{body}, qr/the store of the team limits does not answer/, 'saying why');
is($r->{headers}{'retry-after'}, '1', 'with Retry-After');
is(starts('delta-1'), 0, 'nothing forwarded');
like($a->error_log, qr/\[error\].*lfv: the store of the team limits failed: .*; the start is refused/,
    'and logged');

is($a->http(method => 'POST', path => "$P/delta-1/models/1/stop",
    headers => [ 'X-Team' => 'delta' ])->{status}, 409,
    'a stop still goes through (AWS answers it)');

($ra, $sa) = status($a);
is($ra->{status}, 503, 'the status page is not ready');
is($sa->{store}{ready}, JSON::PP::false, 'because of the store');
like($a->http(path => '/lfv-status?format=prometheus')->{body}, qr/^lfv_store_ready 0$/m,
    'lfv_store_ready 0');

$ddb->start_store;
ok(wait_for(15, sub { (status($a))[0]{status} == 200 }),
    'the store back: ready again, without a restart of nginx');
is(start($a, 'delta', 'delta-1', 2)->{status}, 202, 'and starts are decided again');
is(start($b, 'alpha', 'alpha-v50', 30)->{status}, 429,
    'what the store kept survived its restart');

# ------------------------------------------- throttled, and not DynamoDB's answers

for my $kind (qw(throttle garbage truncated status500)) {
    $px->control(POST => 'fault', { kind => $kind, target => 'Query', count => 1 });
    my $n = starts('delta-2');
    $r = start($a, 'delta', 'delta-2', 1);
    is($r->{status}, 503, "$kind: the start is refused");
    is(starts('delta-2'), $n, "$kind: nothing forwarded");
}
like($a->error_log, qr/store of the team limits failed: the store refused the call: ProvisionedThroughputExceededException/,
    'the throttling is named');
is(start($a, 'delta', 'delta-2', 2)->{status}, 202, 'then the store decides again');

# the calls are signed for dynamodb, X-Amz-Target among the signed headers

my ($call) = grep { ($_->{target} // '') =~ /UpdateItem/ } $px->journal;
my $auth = { map { lc($_->[0]) => $_->[1] } @{ $call->{headers} || [] } }->{authorization} // '';
like($auth, qr{^AWS4-HMAC-SHA256 Credential=\Q$LFV::Conf::AKID\E/\d{8}/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$},
    'signed for dynamodb, X-Amz-Target signed') or diag explain $call;

unlike($a->error_log . $b->error_log, qr/\Q$LFV::Conf::SECRET\E/, 'no secret in the logs');

$a->allow_log(qr/lfv: the store of the team limits failed/);
$b->checks;
$a->checks;

# ------------------------------------------------------------ nginx -t

my @bad = (
    [ 'lfv_policy_store dynamodb table=tb1 region=us-east-1;',
      qr/"lfv_policy_store" in \S+nginx\.conf:\d+ needs "lfv_policy_zone"/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store redis table=tb1;",
      qr/unknown store "redis": only "dynamodb"/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store dynamodb region=us-east-1;",
      qr/"lfv_policy_store" needs table=/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store dynamodb table=tb1 region=us-east-1 colour=red;",
      qr/invalid parameter "colour=red"/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store dynamodb table=tb1 region=us-east-1 endpoint=http://192.0.2.1;",
      qr/http:\/\/ is only for a loopback address/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store dynamodb table=tb1 region=us-east-1 claim=1s;",
      qr/invalid parameter "claim=1s": at least 2s/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store dynamodb table=tb1;",
      qr/needs region=, or "lfv_region" in the http block/ ],
    [ "lfv_policy_zone z:1m;\n    lfv_policy_store dynamodb table=tb1 region=us-east-1;",
      qr/lfv_policy_store endpoint "https:\/\/dynamodb\.us-east-1\.amazonaws\.com" needs a "resolver"/ ],
);

for my $bad (@bad) {
    my $t2 = LFV::Test->new;
    LFV::Conf->setup(t => $t2, sim => $sim, http => $bad->[0]);
    my ($ok, $out) = $t2->nginx_test;
    ok(!$ok, "nginx -t refuses: $bad->[0]");
    like($out, $bad->[1], 'saying why') or diag $out;
    $t2->checks;
}

done_testing;

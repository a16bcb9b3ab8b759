#!/usr/bin/perl

# The hosting cycle through the proxy (lfv_operations): StartModel,
# StopModel, DescribeModel and ListModels with boto3 (unsigned), the AWS
# CLI and curl-like requests; each validated, every forwarded one signed
# as botocore checks it; the team's projects govern every operation; a
# team at its rate and budget can still stop and read; operations not
# enabled are refused as before; $lfv_operation in the access log.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;
my $sim = LFV::Sim->lfv($t, keys => { $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } },
    args => [ '--hosting-delay', '0.5' ]);

($t, $sim) = LFV::Conf->setup(t => $t, sim => $sim,
    http => <<'EOF',
    lfv_policy_zone teams:1m;
    lfv_policy alpha projects=alpha-.* rate=1r/m budget=2/1d;
    lfv_policy beta projects=beta-.*;
    lfv_policy gamma projects=gamma-.* budget=1/1d max_max_units=1;
    lfv_policy default projects=beta-.*;
    log_format ops '$lfv_operation $lfv_team $lfv_project $lfv_model_version $lfv_reason';
EOF
    server => <<'EOF',
        access_log %%PREFIX%%/ops.log ops;

        location = /lfv-status {
            lfv_status;
        }
EOF
    location => <<'EOF');
            lfv_team $http_x_team;
            lfv_operations start stop describe list;
EOF

# a second server: the default, StartModel alone

my $conf = $t->write_conf(do { local $/; open my $fh, '<', $t->prefix . '/nginx.conf'; <$fh> }
    =~ s{(\n    server \{)}{
    server {
        listen 127.0.0.1:%%PORT_start%%;
        location / {
            lfv on;
            lfv_region us-east-1;
            lfv_team \$http_x_team;
            include %%LFV_PROXY_PARAMS%%;
            proxy_ssl_trusted_certificate %%KEY_ca%%;
        }
    }
$1}r);
$t->run;

my $endpoint = 'http://127.0.0.1:' . $t->port('http');
my $P = '/2020-11-20/projects';

sub sdk {
    my ($team, @args) = @_;
    my $out = `/usr/bin/python3 t/sdk/hosting_cycle.py $endpoint $team @args 2>&1`;
    return eval { decode_json($out) } || { raw => $out };
}

sub req {
    my (%o) = @_;
    return $t->http(method => $o{method} // 'GET', path => $o{path},
        port => $o{port},
        headers => [ 'X-Team' => $o{team} // 'alpha',
                     @{ $o{headers} || [] } ],
        body => $o{body});
}

sub journal_n { scalar(() = $sim->journal) }

# 1. the whole cycle with boto3

my $r = sdk('alpha', 'cycle', 'alpha-line');
is($r->{before}, 'TRAINED', 'DescribeModel: TRAINED') or diag explain $r;
is($r->{start}, 'STARTING_HOSTING', 'StartModel');
is($r->{to_hosted}[-1], 'HOSTED', "then HOSTED (@{ $r->{to_hosted} || [] })");
is($r->{stop}, 'STOPPING_HOSTING', 'StopModel, though the start rate is spent');
is($r->{to_trained}[-1], 'TRAINED', "then TRAINED (@{ $r->{to_trained} || [] })");
is_deeply($r->{pages}, [ ['1'], ['2'], ['3'] ],
    'ListModels: three pages of one, NextToken followed');

my @j = $sim->journal;
ok(@j >= 8, scalar(@j) . ' requests forwarded');
is(scalar(grep { !$_->{sig_ok} } @j), 0, 'every one signed as botocore checks')
    or diag explain [ map { $_->{reason} } grep { !$_->{sig_ok} } @j ];
my %ops = map { ($_->{operation} // '') => 1 } @j;
is_deeply([ sort keys %ops ],
    [ qw(DescribeModel ListModels StartModel StopModel) ], 'all four operations');
ok((grep { ($_->{query} // '') =~ /nextToken=[^&]*%2[FB]/ } @j),
    'a nextToken with percent-encoding was signed and accepted');

# 2. the AWS CLI

SKIP: {
    skip 'no aws CLI', 6 unless -x '/usr/bin/aws';
    local $ENV{AWS_DEFAULT_REGION} = 'us-east-1';
    local $ENV{AWS_CONFIG_FILE} = '/dev/null';
    local $ENV{AWS_SHARED_CREDENTIALS_FILE} = '/dev/null';
    my @cli = ('/usr/bin/aws', 'lookoutvision', '--endpoint-url', $endpoint,
               '--no-sign-request', '--output', 'json');
    # the team comes from the trusted layer in front; here, a default
    my $run = sub { my $o = `@_ 2>&1`; eval { decode_json($o) } || { raw => $o } };

    $r = $run->(@cli, 'describe-model', '--project-name', 'beta-cli',
        '--model-version', '1');
    is($r->{ModelDescription}{Status}, 'TRAINED', 'aws describe-model')
        or diag explain $r;
    # --page-size 1: requests with maxResults=1, NextToken followed
    my $before = journal_n();
    $r = $run->(@cli, 'list-models', '--project-name', 'beta-cli',
        '--page-size', '1');
    is(scalar @{ $r->{Models} || [] }, 3,
        'aws list-models --page-size 1 pages through all three') or diag explain $r;
    my @pages = grep { ($_->{query} // '') =~ /maxResults=1/ }
        (($sim->journal)[$before .. journal_n() - 1]);
    is(scalar(@pages), 3, 'in three signed requests of one model each');

    # --max-results 1, then --next-token: page by page, as a script would
    $r = $run->(@cli, 'list-models', '--project-name', 'beta-cli',
        '--max-results', '1');
    is_deeply([ map { $_->{ModelVersion} } @{ $r->{Models} || [] } ], ['1'],
        'aws list-models --max-results 1: the first page') or diag explain $r;
    $r = $run->(@cli, 'list-models', '--project-name', 'beta-cli',
        '--max-results', '1', '--next-token', $r->{NextToken} // 'none');
    is_deeply([ map { $_->{ModelVersion} } @{ $r->{Models} || [] } ], ['2'],
        'and --next-token the second, its token signed percent-encoded')
        or diag explain $r;
    $r = $run->(@cli, 'stop-model', '--project-name', 'beta-cli',
        '--model-version', '1');
    like($r->{raw} // '', qr/ConflictException/,
        "aws stop-model on a TRAINED model: AWS's ConflictException");
}

# 2b. curl: the cycle by hand

SKIP: {
    skip 'no curl', 4 unless -x '/usr/bin/curl';
    my $curl = sub {
        my ($method, $path, @data) = @_;
        my $o = `/usr/bin/curl -s -X $method -H 'X-Team: beta' @data '$endpoint$P$path' 2>&1`;
        return eval { decode_json($o) } || { raw => $o };
    };
    my @json = ("-H 'Content-Type: application/json'");

    $r = $curl->(GET => '/beta-curl/models/2');
    is($r->{ModelDescription}{Status}, 'TRAINED', 'curl: DescribeModel') or diag explain $r;
    $r = $curl->(POST => '/beta-curl/models/2/stop', @json);
    like($r->{message} // '', qr/TRAINED/, "curl: StopModel, AWS's 409 message");
    $r = $curl->(GET => '/beta-curl/models?maxResults=2');
    is(scalar @{ $r->{Models} || [] }, 2, 'curl: ListModels, maxResults=2');
    ok($r->{NextToken}, 'curl: with a NextToken');
}

# 3. invalid requests are answered here, nothing forwarded

my $n = journal_n();

# each refusal is counted for the team under its operation and reason;
# one the route does not name has no operation

sub team_status {
    my $s = eval { decode_json($t->http(path => '/lfv-status')->{body}) };
    return $s->{teams}{alpha};
}

my $before = team_status();

my @bad = (
    [ POST => "$P/alpha-x/models/1", undef, 405, 'DescribeModel', 'method' ],
    [ GET => "$P/alpha-x/models/1/stop", undef, 405, 'StopModel', 'method' ],
    [ GET => "$P/alpha-x/models?maxResults=101", undef, 400, 'ListModels', 'max_results' ],
    [ GET => "$P/alpha-x/models?maxResults=1&maxResults=2", undef, 400, 'ListModels', 'query_parameter' ],
    [ GET => "$P/alpha-x/models?nextToken=a+b", undef, 400, 'ListModels', 'next_token' ],
    [ GET => "$P/alpha-x/models?x=1", undef, 400, 'ListModels', 'query_parameter' ],
    [ GET => "$P/alpha-x/models/1?x=1", undef, 400, 'DescribeModel', 'query' ],
    [ GET => "$P/alpha-x/models/1", '{}', 400, 'DescribeModel', 'body_not_allowed' ],
    [ POST => "$P/alpha-x/models/1/stop", '{"Force":true}', 400, 'StopModel', 'member_unknown' ],
    [ POST => "$P/alpha-x/models/1/stop/../start", '{}', 400, undef, 'dot_segment' ],
    [ POST => "$P/alpha-x/models/1/start/x", '{}', 404, undef, 'route' ],
    [ POST => "$P/alpha-x/models/1%2Fstop", '{}', 400, undef, 'percent_encoding' ],
    [ GET => "$P/alpha-x/models/01", undef, 400, 'DescribeModel', 'model_version' ],
    [ GET => "$P/beta-x/models", undef, 403, 'ListModels', 'project_denied' ],
);
my (%want, %want_team);
for my $b (@bad) {
    my ($m, $path, $body, $status, $op, $reason) = @$b;
    $r = req(method => $m, path => $path, body => $body,
        headers => defined $body ? [ 'Content-Type' => 'application/json' ] : []);
    is($r->{status}, $status, "$m $path: $status");
    $want{$op}{$reason}++ if defined $op;
    $want_team{$reason}++;
}
is(journal_n(), $n, 'none of them forwarded');

my $after = team_status();
my (%got, %got_team);
for my $op (keys %{ $after->{operations} }) {
    for my $reason (keys %{ $after->{operations}{$op}{rejected} }) {
        my $d = $after->{operations}{$op}{rejected}{$reason}
            - ($before->{operations}{$op}{rejected}{$reason} // 0);
        $got{$op}{$reason} = $d if $d;
    }
}
for my $reason (keys %{ $after->{rejected} }) {
    my $d = $after->{rejected}{$reason} - ($before->{rejected}{$reason} // 0);
    $got_team{$reason} = $d if $d;
}
is_deeply(\%got, \%want, 'status: each refusal counted under its operation and reason')
    or diag explain \%got;
is_deeply(\%got_team, \%want_team, 'and under the team, by reason')
    or diag explain \%got_team;


$r = req(path => "$P/beta-x/models/1");
like($r->{body}, qr/team \\"alpha\\" may not describe models of project \\"beta-x\\"/,
    'the allow-list message names the operation');

$r = req(method => 'POST', path => "$P/alpha-x/models/1/frobnicate", body => '{}',
    headers => [ 'Content-Type' => 'application/json' ]);
like($r->{body}, qr/only StartModel, StopModel, DescribeModel, ListModels of/,
    'an unknown route is told which operations are served');

# 4. the rate and the budget are StartModel's alone

$r = sdk('alpha', 'call', 'start_model', 'alpha-rate', 1);
is($r->{error}, 'ThrottlingException', 'alpha is at its start rate') or diag explain $r;
$r = sdk('alpha', 'call', 'stop_model', 'alpha-rate', 1);
ok($r->{ok} || ($r->{error} // '') eq 'ConflictException',
    'a stop is never held back by the rate: forwarded') or diag explain $r;
for (1 .. 3) {
    $r = sdk('alpha', 'call', 'describe_model', 'alpha-rate', 'latest');
    last unless $r->{ok};
}
is($r->{ok}{ModelDescription}{ModelVersion}, '3',
    'reads are not charged to the start rate; latest is version 3') or diag explain $r;

# a team whose unit budget is spent, and whose start is over its cap, can
# still stop

$r = sdk('gamma', 'call', 'start_model', 'gamma-line', 1);
is($r->{ok}{Status}, 'STARTING_HOSTING', 'gamma starts its one unit')
    or diag explain $r;
$r = req(method => 'POST', team => 'gamma', path => "$P/gamma-line/models/2/start",
    headers => [ 'Content-Type' => 'application/json' ],
    body => '{"MinInferenceUnits":1}');
is($r->{status}, 429, 'gamma has spent its unit budget');
like($r->{body}, qr/budget is exhausted/, 'the budget says so');
$r = req(method => 'POST', team => 'gamma', path => "$P/gamma-line/models/2/start",
    headers => [ 'Content-Type' => 'application/json' ],
    body => '{"MinInferenceUnits":1,"MaxInferenceUnits":2}');
is($r->{status}, 402, 'and a start over its unit cap is refused');
$n = journal_n();
$r = sdk('gamma', 'call', 'stop_model', 'gamma-line', 1);
ok($r->{ok} || ($r->{error} // '') eq 'ConflictException',
    'a stop is never held back by a spent budget or a cap: forwarded')
    or diag explain $r;
is(journal_n(), $n + 1, 'the stop reached AWS');
is((($sim->journal)[-1])->{operation}, 'StopModel', 'as StopModel');

# 5. not enabled: the default location serves StartModel alone, as before

$r = req(path => "$P/alpha-x/models/1", port => $t->port('start'));
is($r->{status}, 404, 'DescribeModel where it is not enabled: 404');
like($r->{body}, qr{only POST /2020-11-20/projects/\{projectName\}/models/\{modelVersion\}/start is served here},
    'with the message of before');
$r = req(method => 'POST', path => "$P/alpha-x/models/1/stop",
    port => $t->port('start'), body => '');
is($r->{status}, 404, 'StopModel where it is not enabled: 404');

# 6. the status page counts per team and operation

$r = $t->http(path => '/lfv-status');
my $ops = eval { decode_json($r->{body}) }->{teams}{alpha}{operations};
ok($ops->{StartModel}{forwarded} >= 1, 'status: StartModel forwarded')
    or diag explain $ops;
ok($ops->{StartModel}{rejected}{rate} >= 1,
    'status: StartModel rejected by the rate');
is($ops->{StopModel}{forwarded}, 2, 'status: StopModel forwarded, twice');
is($ops->{ListModels}{forwarded}, 3, 'status: ListModels forwarded, three pages');
ok($ops->{DescribeModel}{forwarded} >= 4, 'status: DescribeModel forwarded');

# Prometheus has the same counters: a sample for each of the JSON's

$r = $t->http(path => '/lfv-status?format=prometheus');
my (%json, %prom);
for my $op (keys %$ops) {
    $json{"forwarded $op"} = $ops->{$op}{forwarded};
    $json{"rejected $op $_"} = $ops->{$op}{rejected}{$_}
        for keys %{ $ops->{$op}{rejected} };
}
$prom{"forwarded $1"} = $2 while $r->{body}
    =~ /^lfv_operation_forwarded_total\{team="alpha",operation="(\w+)"\} (\d+)$/mg;
$prom{"rejected $1 $2"} = $3 while $r->{body}
    =~ /^lfv_operation_rejected_total\{team="alpha",operation="(\w+)",reason="(\w+)"\} (\d+)$/mg;
is_deeply(\%prom, \%json,
    'prometheus: forwarded by operation, rejected by operation and reason')
    or diag explain [ \%prom, \%json ];
like($r->{body}, qr/^lfv_operation_rejected_total\{team="alpha",operation="DescribeModel",reason="project_denied"\} 1$/m,
    'for example DescribeModel refused by the allow-list, once');
like($r->{body}, qr/^lfv_forwarded_total\{team="alpha"\} [1-9]\d*$/m,
    'lfv_forwarded_total still counts starts');

# 7. the access log names the operation

$t->stop;
my $log = LFV::Test::_slurp($t->prefix . "/ops.log") // "";
like($log, qr/^StopModel alpha alpha-line 1 forwarded$/m, 'StopModel logged');
like($log, qr/^ListModels alpha alpha-line  forwarded$/m,
    'ListModels logged (no version)');
like($log, qr/^DescribeModel alpha beta-x 1 project_denied$/m, 'a refused read logged');
like($log, qr/^ alpha alpha-x 1 route$/m, 'an unknown route: no operation');

$t->done;

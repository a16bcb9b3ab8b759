#!/usr/bin/perl

# The audit trail: a JSON log_format of $lfv_* variables, read back from a
# real access log, for forwarded requests, rejected ones, and one
# rejected through error_page; the envelope error format.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start(
    http => <<'EOF',
    log_format lfv_audit escape=json '{"time":"$time_iso8601",'
        '"team":"$lfv_team","project":"$lfv_project",'
        '"model_version":"$lfv_model_version",'
        '"min_units":"$lfv_min_units","max_units":"$lfv_max_units",'
        '"client_token":"$lfv_client_token","decision":"$lfv_decision",'
        '"reason":"$lfv_reason","key_id":"$lfv_access_key_id",'
        '"credential_source":"$lfv_credential_source",'
        '"status":"$status","upstream_status":"$upstream_status",'
        '"aws_request_id":"$upstream_http_x_amzn_requestid",'
        '"user_agent":"$http_user_agent"}';

    lfv_policy_zone teams:1m;
    lfv_policy alpha projects=alpha-.* rate=1r/m burst=1 nodelay;
EOF
    server => <<'EOF',
        access_log %%PREFIX%%/audit.log lfv_audit;

        location @denied {
            return 403 "denied by policy\n";
        }

        location /envelope/ {
            rewrite ^/envelope(/.*)$ $1 break;
            return 500;
        }
EOF
    location => <<'EOF');
            lfv_team $http_x_team;
            error_page 403 = @denied;
EOF

sub start { LFV::Conf->request($t, @_) }

my $r = start(team => 'alpha', project => 'alpha-1',
    headers => [ 'X-Amzn-Client-Token' => 'tok-1', 'User-Agent' => 'audit-test/1' ],
    body => '{"MinInferenceUnits":2,"MaxInferenceUnits":3}');
is($r->{status}, 202, 'forwarded');

$r = start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":1,"MaxInferenceUnits":0}');
is($r->{status}, 400, 'rejected: validation');

$r = start(team => 'alpha', project => 'beta');
is($r->{status}, 403, 'rejected by policy');
is($r->{body}, "denied by policy\n", 'through error_page');

$r = start(team => 'alpha', project => 'alpha-2');
$r = start(team => 'alpha', project => 'alpha-2');
is($r->{status}, 429, 'rejected: throttled');

$t->stop;

open my $fh, '<', $t->prefix . '/audit.log' or die;
my @lines = map { decode_json($_) } <$fh>;
is(scalar @lines, 5, 'one audit line per request');

my $l = $lines[0];
is($l->{decision}, 'forwarded', 'forwarded: decision');
is($l->{reason}, 'forwarded', 'forwarded: reason');
is($l->{team}, 'alpha', 'team');
is($l->{project}, 'alpha-1', 'project');
is($l->{model_version}, '1', 'model version');
is($l->{min_units}, '2', 'min units');
is($l->{max_units}, '3', 'max units');
is($l->{client_token}, 'tok-1', 'client token');
is($l->{key_id}, $LFV::Conf::AKID, 'key id');
is($l->{credential_source}, 'static', 'credential source');
is($l->{upstream_status}, '202', 'upstream status');
like($l->{aws_request_id}, qr/^[0-9a-f-]{36}$/, 'AWS request id');
is($l->{user_agent}, 'audit-test/1', 'client headers still logged');

is($lines[1]{decision}, 'rejected', 'validation: decision');
is($lines[1]{reason}, 'max_units', 'validation: reason');
is($lines[1]{upstream_status}, '', 'validation: no upstream');

is($lines[2]{decision}, 'rejected', 'error_page: decision survives redirect');
is($lines[2]{reason}, 'project_denied', 'error_page: reason');
is($lines[2]{project}, 'beta', 'error_page: project');
is($lines[2]{status}, '403', 'error_page: status');

is($lines[4]{reason}, 'rate', 'throttled: reason');

my $log = do { local $/; open my $f, '<', $t->prefix . '/audit.log'; <$f> };
unlike($log, qr/\Q$LFV::Conf::SECRET\E/, 'no secret in the audit log');

$t->checks;

# lfv_error_format envelope: errors and success in the seed's shape

($t, $sim) = LFV::Conf->start(location => 'lfv_error_format envelope;');

$r = start(body => '{"MinInferenceUnits":0}');
is($r->{status}, 400, 'envelope: status kept');
my $j = decode_json($r->{body});
is($j->{success}, JSON::PP::false, 'envelope: success false');
is($j->{error}{code}, 'VALIDATION_ERROR', 'envelope: code');
like($j->{error}{message}, qr/MinInferenceUnits must be at least 1/,
    'envelope: message');

$r = start(project => 'ok');
is($r->{status}, 202, 'envelope: success status');
$j = decode_json($r->{body});
is($j->{success}, JSON::PP::true, 'envelope: success true');
is($j->{data}{status}, 'STARTING_HOSTING', 'envelope: status');
is($j->{data}{id}, $r->{headers}{'x-amzn-requestid'}, 'envelope: id');
like($j->{data}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    'envelope: RFC 3339 time');
is($r->{headers}{'content-length'}, length $r->{body},
    'envelope: correct Content-Length');

$r = start(project => 'conflict');
is($r->{status}, 409, "envelope: AWS's error keeps its status");
is(decode_json($r->{body})->{error}{code}, 'CONFLICT',
    "envelope: AWS's error in the envelope");

$t->done;

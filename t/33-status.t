#!/usr/bin/perl

# The status page: credentials and per-team counters, as JSON and as
# Prometheus text; 200 when signing is possible, 503 otherwise.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start(
    http => <<'EOF',
    lfv_policy_zone teams:1m;
    lfv_policy alpha projects=alpha-.* rate=1r/m burst=1 nodelay;
    lfv_policy "we\"ird";
EOF
    server => <<'EOF',
        location = /lfv-status {
            lfv_status;
        }
EOF
    location => 'lfv_team $http_x_team;');

sub start { LFV::Conf->request($t, @_) }

sub status {
    my $r = $t->http(path => '/lfv-status' . ($_[0] // ''));
    return ($r, eval { decode_json($r->{body}) });
}

my $journal = () = $sim->journal;

my ($r, $s) = status();
is($r->{status}, 200, 'ready: 200');
is($r->{headers}{'content-type'}, 'application/json', 'json');
is($s->{ready}, JSON::PP::true, 'ready');
is($s->{credentials}{source}, 'static', 'source');
is($s->{credentials}{access_key_id}, $LFV::Conf::AKID, 'key id');
is($s->{credentials}{expires_in}, -1, 'static keys do not expire');
my $zero = { forwarded => 0, throttled => 0, units_started => 0, rejected => {},
             operations => {} };
is_deeply($s->{teams}, { alpha => $zero, 'we"ird' => $zero, '-' => $zero },
    'before any traffic: every configured team, and "-", at zero');

start(team => 'alpha', project => 'alpha-1', body => '{"MinInferenceUnits":2}');
start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":1,"MaxInferenceUnits":4}');
start(team => 'alpha', project => 'alpha-1');
start(team => 'alpha', project => 'beta');
start(team => 'alpha', project => 'alpha-1', body => '{}');
start(team => 'nobody');
start(team => 'we"ird');

($r, $s) = status();
my $a = $s->{teams}{alpha};
is($a->{forwarded}, 2, 'alpha: forwarded');
is($a->{units_started}, 6, 'alpha: units started (max, else min)');
is($a->{throttled}, 1, 'alpha: throttled');
is_deeply($a->{rejected}, { rate => 1, project_denied => 1,
    min_units_required => 1 }, 'alpha: rejected by reason');
is($s->{teams}{'-'}{rejected}{team}, 1, 'teams without a policy: together');
is($s->{teams}{'we"ird'}{forwarded}, 1, 'team names escaped in JSON');

# Prometheus text

$r = $t->http(path => '/lfv-status?format=prometheus');
is($r->{status}, 200, 'prometheus: 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'prometheus: type');
like($r->{body}, qr/^lfv_ready 1$/m, 'prometheus: ready');
like($r->{body}, qr/^lfv_forwarded_total\{team="alpha"\} 2$/m, 'prometheus: forwarded');
like($r->{body}, qr/^lfv_rejected_total\{team="alpha",reason="rate"\} 1$/m,
    'prometheus: rejected by reason');
like($r->{body}, qr/^lfv_units_started_total\{team="alpha"\} 6$/m,
    'prometheus: units');
like($r->{body}, qr/^lfv_forwarded_total\{team="we\\"ird"\} 1$/m,
    'prometheus: label escaped');
like($r->{body}, qr/^lfv_credentials_info\{source="static",access_key_id="\Q$LFV::Conf::AKID\E"\} 1$/m,
    'prometheus: credentials');
unlike($r->{body}, qr/\Q$LFV::Conf::SECRET\E/, 'no secret on the page');

is(scalar(() = $sim->journal) - $journal, 3, 'the page never calls AWS');

$t->checks;

# not ready: the metadata service is down, no credentials at all; and
# a status page alone, without "lfv on" anywhere, still sets them up

$t = LFV::Test->new;
my $imds = LFV::Sim->imds($t, args => [ '--fault', '500:all' ]);
$t->set(imds_port => $imds->{port});

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    lfv_credentials imds endpoint=http://127.0.0.1:%%KEY_imds_port%%;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location = /lfv-status {
            lfv_status;
        }
    }
}
EOF

$t->run;

my $deadline = time + 5;
($r, $s) = status();
while (time < $deadline && !$s->{credentials}{failures}) {
    select undef, undef, undef, 0.1;
    ($r, $s) = status();
}

is($r->{status}, 503, 'not ready: 503');
$r = $t->http(path => '/lfv-status?format=prometheus');
is($r->{status}, 200, 'prometheus: 200 even when not ready');
like($r->{body}, qr/^lfv_ready 0$/m, 'prometheus: lfv_ready 0');
is($s->{ready}, JSON::PP::false, 'not ready');
is($s->{credentials}{source}, 'imds', 'imds source');
ok($s->{credentials}{failures} >= 1, 'failures counted');
like($s->{credentials}{last_error}, qr/answered 500/, 'last error');

$t->done;

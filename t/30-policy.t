#!/usr/bin/perl

# Per-team policy: identity from lfv_team, project allow-lists, unit caps,
# the default policy; configuration mistakes at nginx -t.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start(
    http => <<'EOF',
    lfv_policy alpha projects=alpha-[a-z0-9-]+ max_min_units=2 max_max_units=4;
    lfv_policy beta projects=beta|shared;
EOF
    location => 'lfv_team $http_x_team;');

sub start { LFV::Conf->request($t, @_) }

sub upstream { scalar(() = $sim->journal) }

sub refused {
    my ($r, $status, $type, $message, $name) = @_;
    is($r->{status}, $status, "$name: status");
    is($r->{headers}{'x-amzn-errortype'}, $type, "$name: error type");
    my $j = eval { decode_json($r->{body}) } || {};
    like($j->{message} // '', $message, "$name: message");
}

my $n = upstream();

refused(start(), 403, 'AccessDeniedException', qr/no policy allows team ""/,
    'no team');
refused(start(team => 'gamma'), 403, 'AccessDeniedException',
    qr/no policy allows team "gamma"/, 'unknown team');
refused(start(team => 'alpha', project => 'beta'), 403,
    'AccessDeniedException', qr/team "alpha" may not start models of project "beta"/,
    'project outside the allow-list');
refused(start(team => 'alpha', project => 'xalpha-1'), 403,
    'AccessDeniedException', qr/may not start/, 'allow-list matches fully');
refused(start(team => 'ALPHA', project => 'alpha-1'), 403,
    'AccessDeniedException', qr/no policy/, 'team names are exact');
is(upstream(), $n, 'nothing forwarded');

is(start(team => 'alpha', project => 'alpha-1')->{status}, 202, 'alpha allowed');
is(start(team => 'beta', project => 'shared')->{status}, 202, 'beta allowed');
is(start(team => 'beta', project => 'shared2')->{status}, 403,
    'alternation anchored as a whole');

# unit caps: both sides of each boundary

is(start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":2}')->{status}, 202, 'min at cap');
refused(start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":3,"MaxInferenceUnits":3}'), 402,
    'ServiceQuotaExceededException',
    qr/MinInferenceUnits 3 is over the cap of 2 for team "alpha"/, 'min over cap');
is(start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":1,"MaxInferenceUnits":4}')->{status}, 202,
    'max at cap');
refused(start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":1,"MaxInferenceUnits":5}'), 402,
    'ServiceQuotaExceededException',
    qr/MaxInferenceUnits 5 is over the cap of 4 for team "alpha"/, 'max over cap');

my $r = start(team => 'alpha', project => 'alpha-1',
    body => '{"MinInferenceUnits":1,"MaxInferenceUnits":5}');
my $j = decode_json($r->{body});
is($j->{QuotaCode}, 'max_units_cap', 'quota code');

# the team header never reaches upstream

my @j = $sim->journal;
my %h = map { lc $_->[0] => $_->[1] } @{ $j[-1]{headers} };
ok(!exists $h{'x-team'}, 'team header not forwarded');
ok($j[-1]{sig_ok}, 'still signed');

$t->checks;

# a default policy admits empty and unknown teams

($t, $sim) = LFV::Conf->start(
    http => <<'EOF',
    lfv_policy default projects=public-.* max_max_units=1;
    lfv_policy ops;
EOF
    location => 'lfv_team $http_x_team;');

is(start(project => 'public-1')->{status}, 202, 'default: no team');
is(start(team => 'anyone', project => 'public-1')->{status}, 202,
    'default: unknown team');
is(start(team => 'anyone', project => 'private')->{status}, 403,
    'default: its allow-list applies');
is(start(team => 'anyone', project => 'public-1',
    body => '{"MinInferenceUnits":2}')->{status}, 402,
    'default: its cap applies (no max: min counts)');
is(start(team => 'ops', project => 'private',
    body => '{"MinInferenceUnits":9}')->{status}, 202,
    'a named team keeps its own policy');

$t->checks;

# configuration mistakes

sub conf_error {
    my ($http, $expect, $name) = @_;

    my ($t) = LFV::Conf->setup(http => $http, location => 'lfv_team $http_x_team;',
        sim => $sim, t => LFV::Test->new);

    my ($ok, $out) = $t->nginx_test;
    ok(!$ok, "$name: nginx -t fails");
    like($out, qr/\[emerg\] $expect in \S+nginx\.conf:\d+/, "$name: message")
        or diag $out;
    $t->checks;
}

conf_error('lfv_policy a projects=(unclosed;', 'pcre2_compile\(\) failed: .* in projects="\(unclosed"',
    'bad regex');
conf_error('lfv_policy a colour=blue;', 'unknown policy parameter "colour"',
    'unknown key');
conf_error("lfv_policy a;\n    lfv_policy a;", 'duplicate policy for team "a"',
    'duplicate team');
conf_error("lfv_policy default;\n    lfv_policy default;", 'duplicate default policy',
    'duplicate default');
conf_error('lfv_policy a max_min_units=0;', 'invalid parameter "max_min_units=0"',
    'zero cap');
conf_error('lfv_policy a rate=10r/h;', 'invalid parameter "rate=10r/h"',
    'bad rate');
conf_error('lfv_policy a burst=5;', '"burst" needs "rate"', 'burst alone');
conf_error('lfv_policy a dry_run;', '"nodelay", "delay" and "dry_run" need "rate"',
    'dry_run alone');
conf_error('lfv_policy_zone lfv_credentials:64k;',
    'zone name "lfv_credentials" is reserved for the module\'s credentials',
    'reserved zone name');
conf_error('lfv_policy a rate=1r/s;', 'rate= and budget= need "lfv_policy_zone"',
    'rate without zone');
conf_error('lfv_policy a budget=10;', 'invalid parameter "budget=10"',
    'budget without window');
conf_error("lfv_policy_zone z;", 'invalid zone "z", use name:size', 'zone syntax');

done_testing;

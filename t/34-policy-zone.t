#!/usr/bin/perl

# The policy zone never evicts the state of a team the configuration
# names: a zone too small for its teams is refused at "nginx -t"; after a
# reload that adds teams beyond its room, their requests are refused with
# a logged error while the spent budgets of the others stay spent; only
# the state of teams a reload removed is evicted, and that is logged.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;

sub teams {
    my ($from, $to) = @_;
    return join '', map { "lfv_policy t$_ budget=1/1h;\n" } $from .. $to;
}

sub configure {
    my (%o) = @_;
    my $sim;
    ($t, $sim) = LFV::Conf->setup(t => $t, sim => $o{sim},
        http => 'lfv_policy_zone teams:' . ($o{size} // '32k') . ";\n"
                . $o{teams},
        location => 'lfv_team $http_x_team;');
    return $sim;
}

sub start { LFV::Conf->request($t, team => $_[0], project => 'zone') }

# 1. 301 teams in a 32k zone: refused at nginx -t, naming the zone, its
# place in the configuration, and how many fit

my $sim = configure(teams => teams(1, 301));
my ($ok, $out) = $t->nginx_test;
ok(!$ok, 'nginx -t refuses a zone too small for 301 teams');
like($out, qr/lfv_policy_zone "teams" in \S+nginx\.conf:\d+ is too small for its 302 teams: the state of only (\d+) fits; make it larger/,
    'and says where, and how many fit');
my ($fit) = $out =~ /the state of only (\d+) fits/;
ok($fit && $fit >= 8 && $fit <= 12, "$fit fit (docs: about 10 in 32k)");

# docs: 1m holds about 500 teams

configure(sim => $sim, size => '1m', teams => teams(1, 1000));
(undef, $out) = $t->nginx_test;
my ($fit_1m) = $out =~ /the state of only (\d+) fits/;
ok($fit_1m && $fit_1m >= 450 && $fit_1m <= 550,
    ($fit_1m // 'none') . ' fit in 1m (docs: about 500)');

# 2. Exactly as many as fit (the teams and "-"): accepted, all at zero

my $n = $fit - 1;
configure(sim => $sim, teams => teams(1, $n));
($ok, $out) = $t->nginx_test;
ok($ok, "nginx -t takes $n teams and the default") or diag($out);
$t->run;

is(start('t1')->{status}, 202, 't1 starts');
is(start('t1')->{status}, 429, 't1 has spent its budget');

# the others are seen after t1: t1 is the least recently seen

for my $i (2 .. $n) {
    my $r = start("t$i");
    $r->{status} == 202 or fail("t$i: $r->{status}"), last;
}
pass("teams t2 to t$n start");

# 3. A reload adds teams beyond the zone's room (the zone is kept): their
# requests are refused and the log says why, but nobody's state goes

$t->allow_log(qr/lfv: no room for the state of team "t\d+" in lfv_policy_zone "teams"/);

configure(sim => $sim, teams => teams(1, $n + 5));
$t->reload;

my $mark = $t->error_log_mark;
for my $i ($n + 1 .. $n + 5) {
    my $r = start("t$i");
    is($r->{status}, 500, "t$i, a team without room, is refused");
}
like($t->error_log($mark),
    qr/\[alert\].*lfv: no room for the state of team "t\d+" in lfv_policy_zone "teams"; its requests are refused until the zone is made larger/,
    'with an alert in the log');

is(start('t1')->{status}, 429, "t1's spent budget is still spent");

# 4. A reload that removes teams frees their room: their state is evicted
# for the new teams, and the log says so

configure(sim => $sim, teams => teams(1, 1) . teams(7, $n + 5));
$t->reload;

$mark = $t->error_log_mark;
for my $i ($n + 1 .. $n + 5) {
    is(start("t$i")->{status}, 202, "t$i starts once removed teams made room");
}
my @evicted = $t->error_log($mark)
    =~ /\[warn\].*lfv: the state of team "(t\d+)", which no policy names any more, is evicted/g;
is(scalar(@evicted), 5, 'five evictions logged');
ok(!grep({ !/^t[2-6]$/ } @evicted), "only removed teams' state went (@evicted)");

is(start('t1')->{status}, 429, "t1's spent budget is still spent");

$t->done;

#!/usr/bin/perl

# Steps of the wall clock (a suspended and resumed VM, an NTP step), made
# with libfaketime for nginx and the same offset file for the simulators:
# credentials found expired are fetched again at once, by one fetch for
# all workers, or by the refresher's timer re-armed from the wall clock
# when no request comes; a unit budget's window only moves forward.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $faketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
plan(skip_all => "no $faketime (make deps installs libfaketime)")
    unless -r $faketime;

my $t = LFV::Test->new;
my $clock = $t->prefix . '/clock';

sub step {
    my ($offset) = @_;
    open my $fh, '>', "$clock.tmp" or die "$clock.tmp: $!";
    print $fh "$offset\n";
    close $fh;
    rename "$clock.tmp", $clock or die "$clock: $!";
}

step('+0');

# the simulators read the offset file for their wall clock

$ENV{LFV_SIM_CLOCK} = $clock;

# credentials valid for 20 minutes, refreshed 10 minutes ahead: a step
# of an hour is past their expiration and past the grace, long before a
# monotonic timer set at the fetch would fire

my $imds = LFV::Sim->imds($t, args => [ '--ttl', 1200 ]);

my $sim;
($t, $sim) = LFV::Conf->setup(t => $t, workers => 2,
    credentials => "imds endpoint=http://127.0.0.1:$imds->{port}",
    main => <<'EOF',
env LD_PRELOAD;
env FAKETIME_TIMESTAMP_FILE;
env FAKETIME_NO_CACHE;
env FAKETIME_DONT_FAKE_MONOTONIC;
EOF
    http => <<'EOF',
    lfv_credentials_grace 60s;
    lfv_credentials_wait 5s;
    lfv_policy_zone teams:1m;
    lfv_policy spend budget=2/1h;
    lfv_policy default;
EOF
    location => 'lfv_team $http_x_team;');

{
    # only nginx's wall clock moves: timers use the monotonic clock

    local $ENV{LD_PRELOAD} = join ':', _asan_runtime(), $faketime;
    local $ENV{FAKETIME_TIMESTAMP_FILE} = $clock;
    local $ENV{FAKETIME_NO_CACHE} = 1;
    local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
    $t->run;
}

sub start { LFV::Conf->request($t, project => 'clock', @_) }
sub fetches { $imds->control(GET => 'counters')->{credentials} }
sub last_key { my @j = $sim->journal; return @j ? $j[-1]{access_key_id} : '' }

my $r = start();
is($r->{status}, 202, 'signed with IMDS credentials');
my $key = last_key();

# nginx really runs on the stepped clock: its Date header follows it

step('+300');
sleep 0.2;
$r = $t->http(path => '/');
my $date = $r->{headers}{date} // '';
ok(abs(_http_date($date) - (time + 300)) < 5,
    "nginx's wall clock is five minutes ahead ($date)");

# 1. A step past the expiry while requests come: the first request that
# finds the credentials expired starts a fetch and waits for it; all the
# requests arriving at once are served by that one fetch.

my $before = fetches();
step('+3600');

my @kids;
for my $i (1 .. 6) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $r = start();
        POSIX::_exit($r->{status} == 202 ? 0 : 1);
    }
    push @kids, $pid;
}
my $ok = 0;
for my $pid (@kids) {
    waitpid($pid, 0);
    $ok++ if $? == 0;
}
is($ok, 6, 'six requests just after a step past the expiry: all signed');
is(fetches(), $before + 1, 'by one fetch, not one per request or worker');
isnt(last_key(), $key, 'with new keys');
$key = last_key();

like($t->error_log, qr/lfv: credentials refreshed from imds/,
    'the refresh is logged');

# 2. A step while no request comes: the refresher's timer, re-armed from
# the wall clock, fetches within seconds, not when a monotonic timer set
# before the step would have fired

$before = fetches();
step('+7200');
my $deadline = time + 25;
sleep 0.2 until fetches() > $before || time > $deadline;
ok(fetches() > $before, 'with no traffic, the timer fetches after a step');

$r = start();
is($r->{status}, 202, 'and the next request is signed at once');
is(fetches(), $before + 1, 'with what it fetched');

# 3. Budget windows only move forward: a clock stepped back, then forth,
# gives no spent budget back

for (1 .. 2) {
    $r = start(team => 'spend');
    is($r->{status}, 202, "budget: start $_ of 2");
}
$r = start(team => 'spend');
is($r->{status}, 429, 'budget spent');

step('+3600');      # an hour back, into the previous window
sleep 1.2;
$r = start(team => 'spend');
is($r->{status}, 429, 'a clock stepped back an hour refills nothing');

step('+7200');      # and forth again, into the window that was spent
sleep 1.2;
$r = start(team => 'spend');
is($r->{status}, 429, 'nor does stepping it forth again');

step('+10800');     # the next window, for real
sleep 1.2;
$r = start(team => 'spend');
is($r->{status}, 202, 'the next window has a full budget');

$t->done;


# a sanitizer build wants its runtime first in the library list

sub _asan_runtime {
    my $ldd = `ldd ${\ $t->nginx_bin} 2>/dev/null` // '';
    return $ldd =~ m{\blibasan\.so\S* => (\S+)} ? ($1) : ();
}


sub _http_date {
    my ($s) = @_;
    my %m; @m{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = (0 .. 11);
    my ($d, $mon, $y, $h, $mi, $se) =
        $s =~ /(\d+) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d)/ or return 0;
    local $ENV{TZ} = 'UTC';
    return POSIX::mktime($se, $mi, $h, $d, $m{$mon}, $y - 1900);
}

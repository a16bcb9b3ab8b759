#!/usr/bin/perl
# The SigV4 signer against botocore: t/unit/sigv4_property.py generates
# random StartModel requests, signs them with ngx_http_lfv_sigv4.c linked
# into build/unit/sigv4_driver and with botocore, and compares every
# signature and Authorization value.
#
# LFV_SIGV4_VECTORS (default 2000) and LFV_SIGV4_SEED (default random,
# printed) replay or widen a run; LFV_PYTHON is the Python with botocore.

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Spec;
use Fcntl qw(:flock);

my $root = File::Spec->rel2abs("$FindBin::Bin/..");
my $python = $ENV{LFV_PYTHON} // '/usr/bin/python3';
my $count = $ENV{LFV_SIGV4_VECTORS} // 2000;
my $seed = $ENV{LFV_SIGV4_SEED};

sub sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

# no skipping: a driver that does not build is a failure; the lock
# keeps test files run in parallel from building into build/unit at once

open my $lock, '<', "$root/t/unit/Makefile" or die "t/unit/Makefile: $!";
flock($lock, LOCK_EX) or die "flock: $!";
my $out = qx{make -s -C @{[ sh_quote($root) ]} unit 2>&1};
is($?, 0, 'make unit builds the drivers') or diag($out);
close $lock;

my $driver = "$root/build/unit/sigv4_driver";
ok(-x $driver, 'build/unit/sigv4_driver exists') or do {
    done_testing();
    exit;
};

my $cmd = join ' ', map { sh_quote($_) } $python,
    "$root/t/unit/sigv4_property.py", '-n', $count, '--driver', $driver,
    defined $seed ? ('-s', $seed) : ();

$out = qx{$cmd 2>&1};
my $rc = $?;

my ($used) = $out =~ /^seed (\d+)$/m;
my ($signed, $refused) = $out =~ /^ok (\d+) vectors .*\((\d+) oversized/m;
$used //= '?';
$signed //= 0;
$refused //= 0;
note($out);

is($rc, 0, "$signed signatures equal botocore's, $refused oversized secrets "
    . "refused (seed $used; LFV_SIGV4_SEED replays it)")
    or diag($out);
is($signed + $refused, $count, "every one of $count vectors checked");
cmp_ok($signed, '>', $count * 0.9, 'nearly all vectors signed');

my ($hits) = $out =~ /cache_hits (\d+)/;
my ($again) = $out =~ /rederived (\d+)/;
my ($fresh) = $out =~ /fresh (\d+)/;
ok(($hits // 0) > 0 && ($again // 0) > 0 && ($fresh // 0) > 0,
    'cached, re-derived and fresh keys all used');

done_testing();

#!/usr/bin/perl

# Proves the plumbing of "make test-asan" and "make test-valgrind": a report
# of AddressSanitizer, UndefinedBehaviorSanitizer or valgrind memcheck about
# an nginx worker lands in an error*.log of the test prefix and fails the
# harness's "no sanitizer reports in error logs" check.
#
#   asan      reports go to nginx's stderr, which nginx points at error.log
#             (the harness's -e) once it has daemonized
#   valgrind  reports go to error-valgrind-<pid>.log (t/valgrind/nginx)
#
# Run by t/asan/run.sh and t/valgrind/run.sh, not by "prove t/": it needs
# their nginx and the canary library (LFV_CANARY_SO, t/asan/canary.c).

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use LFV::Test;

my $so = $ENV{LFV_CANARY_SO} // '';
BAIL_OUT('LFV_CANARY_SO: canary library missing (t/asan/run.sh builds it)')
    unless -f $so;

my $tool = $ENV{LFV_CANARY_TOOL} // 'asan';
my ($preload, %want);

if ($tool eq 'asan') {
    my $libasan = `gcc -print-file-name=libasan.so`;
    chomp $libasan;
    $preload = "$libasan $so";
    %want = (
        heap  => qr/==\d+==ERROR: AddressSanitizer: heap-buffer-overflow/,
        ubsan => qr/canary\.c:\d+:\d+: runtime error: signed integer overflow/,
    );

} elsif ($tool eq 'valgrind') {
    $preload = $so;
    %want = (
        heap => qr/==\d+== Invalid read of size 1/,
        leak => qr/==\d+== 32 bytes in 1 blocks are definitely lost/,
    );

} else {
    BAIL_OUT("LFV_CANARY_TOOL: asan or valgrind, not $tool");
}

for my $mode (sort keys %want) {
    local $ENV{LFV_CANARY} = $mode;
    local $ENV{LD_PRELOAD} = $preload;

    my $t = LFV::Test->new;

    $t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            return 200 "canary\n";
        }
    }
}
EOF

    $t->run;
    is($t->http(path => '/')->{status}, 200, "$mode: worker answers");
    $t->stop;

    opendir my $d, $t->prefix or die;
    my @logs = sort grep { /^error.*\.log$/ } readdir $d;
    closedir $d;
    my $log = join '', map {
        open my $f, '<', $t->prefix . "/$_" or die; local $/; <$f>
    } @logs;

    like($log, $want{$mode}, "$mode: report in " . join(' ', @logs));
    like($log, qr/(?:#\d+ 0x[0-9a-f]+ in|(?:at|by) 0x[0-9A-F]+:) lfv_canary_exit .*canary\.c:\d+/,
        "$mode: report has a symbolized stack");

    # the harness's own end-of-file check must fail: run it with ok() and
    # diag() captured, then assert what it said
    my (@ok, @diag);
    {
        no warnings 'redefine';
        local *Test::More::ok = sub { push @ok, [@_]; return $_[0] };
        local *Test::More::diag = sub { push @diag, @_; return 0 };
        $t->checks;
    }
    my %res = map { $_->[1] => $_->[0] } @ok;
    ok($res{'no [alert] in error logs'}, "$mode: no [alert]");
    ok(exists $res{'no sanitizer reports in error logs'}
        && !$res{'no sanitizer reports in error logs'},
        "$mode: harness check fails on the report");
    like(join("\n", @diag), qr/Sanitizer|runtime error:/,
        "$mode: harness shows the report");
}

done_testing;

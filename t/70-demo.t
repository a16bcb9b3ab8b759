#!/usr/bin/perl

# make demo: demo/run.sh starts the simulators and nginx, stops all of it
# on Ctrl-C, takes over what a killed run left behind, and its selftest
# runs every command it prints (curl, boto3, the AWS CLI, a refusal, the
# status page, the audit log). Own directory and a free port, so a demo
# someone runs on 8080 is not touched; every wait is bounded.

use strict;
use warnings;

use Test::More;
use File::Temp ();
use File::Path qw(remove_tree);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $repo = abs_path(dirname(abs_path(__FILE__)) . '/..');
my $script = "$repo/demo/run.sh";

BAIL_OUT("module not built: run make")
    unless -f ($ENV{LFV_MODULE} || "$repo/build/objs/ngx_http_lfv_module.so");

my $dir = abs_path(File::Temp::tempdir('lfv-demo-XXXXXX', TMPDIR => 1));
chmod 0755, $dir;

my $port = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 1, ReuseAddr => 1) or die "bind: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};

# a test never installs packages: make deps has put awscli and curl here
my $START_TIMEOUT = $ENV{LFV_DEMO_TIMEOUT} || 120;

$ENV{DEMO_INSTALL} = 0;
# the nginx the suite runs, unless the module is compiled into it
$ENV{DEMO_NGINX} = $ENV{LFV_NGINX} if $ENV{LFV_NGINX} && !$ENV{LFV_STATIC};
$ENV{DEMO_DIR} = $dir;
$ENV{DEMO_PORT} = $port;
delete $ENV{DEMO_SELFTEST};

my %running;    # pid => 1 of scripts we started

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return <$fh> // '';
}

sub launch {
    my ($log, @args) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        setpgrp(0, 0);
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec 'bash', $script, @args or POSIX::_exit(127);
    }
    $running{$pid} = 1;
    return $pid;
}

# the script and what it started; never a pid that would mean "everyone"
sub killgroup {
    my ($pid) = @_;
    return unless defined $pid && $pid =~ /^\d+$/ && $pid > 1;
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
}

# wait for the script to exit; undef on timeout
sub reap {
    my ($pid, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { delete $running{$pid}; return $? >> 8 }
        if ($r < 0) { delete $running{$pid}; return -1 }
        sleep 0.1;
    }
    return undef;
}

sub wait_output {
    my ($log, $re, $pid, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        return 1 if slurp($log) =~ $re;
        return 0 if waitpid($pid, WNOHANG) == $pid && delete $running{$pid};
        sleep 0.2;
    }
    return 0;
}

sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $s = <$fh> // return 0;
    return $s =~ /\)\s+([^ZX])/ ? 1 : 0;
}

# processes whose command line names our demo directory
sub leftovers {
    my @pids;
    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        next if $pid == $$ || !alive($pid);
        my $cmd = slurp("/proc/$pid/cmdline");
        $cmd =~ tr/\0/ /;
        push @pids, $pid if index($cmd, "$dir/") >= 0;
    }
    closedir $d;
    return @pids;
}

sub port_free {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
        Listen => 1, ReuseAddr => 1) or return 0;
    close $s;
    return 1;
}

sub pidfile {
    my $c = slurp("$dir/$_[0]");
    return $c =~ /(\d+)/ ? $1 : undef;
}

sub show { diag("--- $_[0]:\n" . slurp($_[0])) }

# 1. an interactive run, stopped the way Ctrl-C stops it

my $log1 = "$dir/run1.out";
my $pid = launch($log1);
ok(wait_output($log1, qr/^Running\. Ctrl-C stops/m, $pid, $START_TIMEOUT),
    'interactive run: ready') or show($log1);
like(slurp($log1), qr/X-Team: vision-team/, 'prints the curl command');
like(slurp($log1), qr/boto3\.client\("lookoutvision".*signature_version=UNSIGNED/,
    'prints the boto3 one-liner');
like(slurp($log1), qr/lookoutvision start-model --endpoint-url http:\/\/127\.0\.0\.1:$port --no-sign-request/,
    'prints the AWS CLI command');
my @started = grep { defined } map { pidfile($_) } qw(nginx.pid lfv.pid imds.pid);
is(scalar @started, 3, 'nginx and two simulators running');
ok(!port_free(), "nginx listens on 127.0.0.1:$port");

kill 'INT', $pid;
# bounded, with room for a loaded machine (the suite runs two files at once)
is(reap($pid, 90), 130, 'Ctrl-C: exits 130');
ok(!(grep { alive($_) } @started), 'Ctrl-C: nginx and the simulators stopped');
is_deeply([leftovers()], [], 'Ctrl-C: nothing of the demo left running');
ok(port_free(), 'Ctrl-C: port free again');

# 2. a run killed outright leaves nginx and the simulators behind ...

my $log2 = "$dir/run2.out";
$pid = launch($log2);
ok(wait_output($log2, qr/^Running\. Ctrl-C stops/m, $pid, $START_TIMEOUT),
    'second run: ready') or show($log2);
kill 'KILL', $pid;
reap($pid, 10);
my $stale = pidfile('nginx.pid');
ok($stale && alive($stale), 'killed run: its nginx is left behind');

# 3. ... which the next run (the selftest) stops before it starts its own

my $log3 = "$dir/run3.out";
$pid = launch($log3, '--selftest');
my $rc = reap($pid, $START_TIMEOUT);
unless (defined $rc) {
    diag('selftest timed out');
    kill 'TERM', $pid;
    $rc = reap($pid, 20);
    if (!defined $rc) { killgroup($pid); reap($pid, 5) }
}
my $out = slurp($log3);
like($out, qr/stopping a stale nginx/, 'selftest: the stale nginx is stopped first');
ok(!alive($stale), 'selftest: the stale nginx is gone');

my @lines = $out =~ /^((?:not )?ok - .*)$/mg;
ok(@lines >= 7, 'selftest: ran every command') or show($log3);
for my $l (@lines) {
    if ($l =~ /^ok - (.*?) # SKIP (.*)$/) {
        SKIP: { skip("selftest $1: $2", 1) }
    } else {
        my ($name) = $l =~ /ok - (.*)$/;
        ok($l =~ /^ok/, "selftest $name");
    }
}
is($rc, 0, 'selftest: exit status 0') or show($log3);
like($out, qr/^selftest: \d+ passed, 0 failed/m, 'selftest: summary');
is_deeply([leftovers()], [], 'selftest: nothing of the demo left running');
ok(port_free(), 'selftest: port free again');

done_testing;

END {
    my $code = $?;
    # whatever is still running (a failed run), by pid: scripts, then the rest
    for my $p (keys %running) { kill 'TERM', $p; reap($p, 15) // killgroup($p) }
    for my $sig (qw(TERM KILL)) {
        my @left = leftovers() or last;
        kill $sig, @left;
        my $deadline = time + 5;
        sleep 0.1 while time < $deadline && grep { alive($_) } @left;
    }
    remove_tree($dir) if $dir && -d $dir && !$ENV{LFV_KEEP};
    $? = $code;
}

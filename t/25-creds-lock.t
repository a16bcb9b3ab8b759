#!/usr/bin/perl

# The credentials record's write section under faults, made with gdb on
# a running worker: a worker killed inside it (the master frees the slab
# pool's mutex, the next writer drops the torn keys and the record
# recovers), and a worker stopped inside it while a reload starts a new
# one (the new worker's write waits for the lock: never dropped while the
# refresh is logged as done).

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $gdb = '/usr/bin/gdb';
plan(skip_all => "no $gdb (make deps installs gdb)") unless -x $gdb;

my $t = LFV::Test->new;

# credentials that live 8 s and are refreshed every few seconds, new
# keys every second

my $imds = LFV::Sim->imds($t, args => [ '--ttl', 8, '--rotate', 1 ]);
my $sim;
($t, $sim) = LFV::Conf->start(t => $t, workers => 1,
    credentials => "imds endpoint=http://127.0.0.1:$imds->{port}",
    http => 'lfv_credentials_wait 5s;');

# the master's report of the mutex it freed, and ours of the torn record

$t->allow_log(qr/shared memory zone "lfv_credentials" was locked by \d+/);
$t->allow_log(qr/lfv: a process died while writing the credentials record/);
$t->allow_log(qr/worker process \d+ exited on signal 9/);

# the line inside the write section: seq made even again

my $src = $t->repo . '/ngx_lfv_module/ngx_http_lfv_creds_record.c';
open my $fh, '<', $src or die "$src: $!";
my ($line, $marker);
while (<$fh>) {
    $marker = 1 if m{/\* the end of the write section \*/};
    if ($marker && /ngx_atomic_fetch_add\(&sh->seq, 1\)/) { $line = $.; last }
}
close $fh;
ok($line, "the write section's last line found ($line)");

sub start { LFV::Conf->request($t, project => 'lock', @_) }
sub key_used { my @j = $sim->journal; return @j ? $j[-1]{access_key_id} : '' }

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

# gdb stops the worker at that line, then runs the given commands

sub gdb_at_line {
    my ($pid, $name, @then) = @_;
    my $dir = $t->prefix;
    unlink "$dir/$name.hit", "$dir/$name.release";
    $t->spawn("gdb-$name", $gdb, '-nx', '-batch', '-p', $pid,
        '-ex', 'set breakpoint pending off',
        '-ex', "break ngx_http_lfv_creds_record.c:$line",
        '-ex', 'continue',
        '-ex', "shell touch $dir/$name.hit",
        map { ('-ex', $_) } @then);
    return wait_for(30, sub { -e "$dir/$name.hit" });
}

is(start()->{status}, 202, 'signed with IMDS credentials');

# 1. Killed inside the write section

my ($w1) = $t->worker_pids;
ok(gdb_at_line($w1, 'kill', 'kill'), 'a refresh stopped inside its write');

ok(wait_for(10, sub { my @w = $t->worker_pids; @w && $w[0] != $w1 }),
    'the worker was killed, and the master started another');

like($t->error_log, qr/shared memory zone "lfv_credentials" was locked by $w1/,
    "the lock was the slab pool's mutex, freed by the master");

my $before = $imds->control(GET => 'counters')->{credentials};
my $r;
ok(wait_for(15, sub {
    ($r = start())->{status} == 202
        && $imds->control(GET => 'counters')->{credentials} > $before }),
    'requests are signed again, with credentials fetched after the kill');
like($t->error_log, qr/lfv: a process died while writing the credentials record/,
    'the torn record was noticed and its keys dropped');

$t->kill_spawned('gdb-kill');

# 2. Stopped inside the write section while a reload starts a new worker:
# the new worker's write waits for the lock, and the key its refresh logs
# is the key requests are signed with

($w1) = $t->worker_pids;
my $dir = $t->prefix;
ok(gdb_at_line($w1, 'hold', 'set confirm off',
        "shell i=0; while [ ! -e $dir/hold.release ] && [ \$i -lt 300 ]; "
        . "do sleep 0.1; i=\$((i+1)); done",
        'delete', 'detach'),
    'a refresh stopped inside its write, holding the lock');

kill 'HUP', $t->master_pid;
my $w2;
ok(wait_for(10, sub { ($w2) = grep { $_ != $w1 } $t->worker_pids; $w2 }),
    'a reload started a new worker');

# long enough for the new worker's first refresh to be due

sleep 6;
open my $rel, '>', "$dir/hold.release" or die;
close $rel;

my $key;
ok(wait_for(15, sub {
    ($key) = $t->error_log =~ /$w2#\d+: .*?credentials refreshed from imds, key id (\w+)/;
    $key }), 'the new worker refreshed, once the lock was free');

ok(wait_for(10, sub { !grep { $_ == $w1 } $t->worker_pids }),
    'the old worker finished its write and exited');

# the request right after the log line: the next refresh is seconds away

$r = start();
is($r->{status}, 202, 'signed after the reload');
is(key_used(), $key, 'with the key the new worker said it stored');

$t->kill_spawned('gdb-hold');
$t->done;

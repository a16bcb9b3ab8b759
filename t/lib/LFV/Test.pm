package LFV::Test;

=head1 NAME

LFV::Test - nginx-tests style harness for ngx_http_lfv_module (core Perl only)

=head1 SYNOPSIS

    use strict; use warnings;
    use Test::More;
    use lib 't/lib';
    use LFV::Test;

    my $t = LFV::Test->new;      # BAIL_OUT "module not built: run make" if the .so is missing
    $t->set(region => 'us-east-1');
    $t->write_conf(<<'EOF');
    %%TEST_GLOBALS%%
    events {}
    http {
        %%TEST_GLOBALS_HTTP%%
        server {
            listen 127.0.0.1:%%PORT_http%%;
            location / { return 200 "%%KEY_region%%"; }
        }
    }
    EOF
    $t->run;
    my $r = $t->http(path => '/');
    is($r->{status}, 200);
    $t->done;                    # stop everything + 2 error-log checks + done_testing

=head1 ENVIRONMENT

  LFV_MODULE           path of the module .so (default <repo>/build/objs/ngx_http_lfv_module.so)
  LFV_NGINX            nginx binary (default /usr/sbin/nginx)
  LFV_STATIC           true: nginx has the module compiled in; no load_module, no .so check
  LFV_NO_MODULE        true: run without the module at all (harness self-test); no load_module, no .so check
  LFV_ERROR_LOG_LEVEL  error_log level in %%TEST_GLOBALS%% (default info; debug works, nginx is --with-debug)
  LFV_KEEP             true: keep the prefix directory (its path is printed with diag)
  LFV_VALGRIND         true: nginx runs under valgrind, whose processes do not show nginx's
                       process titles in /proc/PID/cmdline: every child of the master is a worker

If the module .so is missing (and neither LFV_STATIC nor LFV_NO_MODULE is set)
new() calls BAIL_OUT("module not built: run make ...") - tests never skip.

=head1 METHODS

  new                     temp prefix (mode 0755); removed at exit unless LFV_KEEP=1
  prefix                  the prefix path
  port($name)             free 127.0.0.1 TCP port (bind to 0), stable per name, distinct across names
  module_path, nginx_bin
  set($k,$v) / get($k)    values for %%KEY_k%%
  write_file($name,$content)  file inside the prefix (subdirs created); returns full path
  write_conf($text)       prefix/nginx.conf after substitutions of
                          %%TEST_GLOBALS%% %%TEST_GLOBALS_HTTP%% %%PORT_x%% %%PREFIX%% %%KEY_x%%
                          %%LFV_PROXY_PARAMS%% (the module's lfv_proxy_params)
                          (any other %%UPPERCASE...%% token, or an unset KEY, dies)
  run                     start nginx (daemon, master); waits for pid file, >= 1 worker and every
                          IPv4 `listen ...%%PORT_x%%...` (not udp) to accept; dies with error.log tail
  reload                  HUP; waits until no old worker is left and a new one exists (10 s bound);
                          dies at once if the reload logs [emerg] (old workers keep running then)
  stop(%o)                QUIT, wait 10 s, then TERM, then KILL; returns seconds nginx took to exit.
                          Also kills spawned helpers unless keep_spawned => 1.
  running                 true while the master is alive
  master_pid, worker_pids
  nginx_test              nginx -t ...; returns (ok_bool, combined stdout+stderr)
  spawn($name,@argv)      background helper in its own process group, output to prefix/$name.log;
                          returns pid. kill_spawned($name) / kill_spawned() stop one / all.
  wait_file($path,$tmo)   wait (default 5 s) until file exists and is non-empty; returns content or
                          undef. Relative paths are inside the prefix.
  wait_port($port,$tmo)   wait (default 5 s) until 127.0.0.1:$port accepts; returns bool
  http(%args)             see below
  error_log([$offset])    prefix/error.log content (from byte $offset if given);
  error_log_mark          current size of error.log, to pass to error_log() later
  access_log              prefix/access.log content
  allow_log(qr/.../)      lines matching are exempt from the done() error-log checks
  checks                  stop everything + the two error-log checks (no done_testing)
  done                    checks, then done_testing() unless a plan was declared
                          (with an explicit plan, count 2 tests per done()/checks())

=head2 http(%args)

  method   (GET)       path ('/')         port (port('http'); a name is passed to port())
  headers  [name => value, ...] ordered, repeatable; Host: localhost added unless present
  body     adds Content-Length unless headers have Content-Length or Transfer-Encoding
  raw      exact request bytes to send instead (method is still used to know HEAD has no body)
  timeout  (5) whole exchange       keepalive (0: adds Connection: close unless given)
  sock     reuse the socket returned in {sock} of a previous keepalive response

Returns { status, reason, proto, headers => {lc name => value (last wins)},
header_list => [[name,value],...], body, raw, chunked, trailers, interim => [1xx codes] }.
status is undef on timeout (timed_out => 1) or connect error (error => ...).
incomplete => 1 if the connection closed before the advertised body was read.
With keepalive => 1, {sock} holds the still-open connection (unless the server closed it).

=head1 TEST PLAN

Call C<< $t->done; >> as the last statement (it calls done_testing). If a
test file has C<< plan tests => N >>, include 2 for each done()/checks()
call. With several LFV::Test objects in one file call C<< ->checks >> on all
but the last and C<< ->done >> on the last. If done()/checks() was never
called, END still stops nginx and helpers and removes the prefix, but the
log checks are skipped (a diag says so).

=cut

use strict;
use warnings;

use Test::More ();
use IO::Socket::INET;
use IO::Select;
use File::Temp ();
use File::Path qw(make_path remove_tree);
use File::Basename qw(dirname);
use POSIX qw(:sys_wait_h setsid);
use Time::HiRes qw(time sleep);
use Cwd qw(abs_path);
use Scalar::Util qw(weaken);
use Socket qw(SOL_SOCKET SO_REUSEADDR);

our $VERSION = '0.01';

my $REPO = abs_path(dirname(abs_path(__FILE__)) . '/../../..');
my @LIVE;    # weak refs to objects, for END

sub _true { my $v = shift; return defined $v && $v ne '' && $v ne '0' }

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        owner   => $$,
        ports   => {},
        keys    => {},
        spawned => {},
        allow   => [],
        listen  => [],
    }, $class;

    my $nginx = $self->nginx_bin;
    Test::More::BAIL_OUT("nginx binary not executable: $nginx (set LFV_NGINX)")
        unless -x $nginx;
    if ($self->_want_module && !-f $self->module_path) {
        Test::More::BAIL_OUT('module not built: run make (missing '
            . $self->module_path . '; set LFV_MODULE to override)');
    }

    my $dir = File::Temp::tempdir('lfv-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $dir or die "chmod $dir: $!";
    $self->{prefix} = abs_path($dir);

    for my $sig (qw(INT TERM HUP)) {
        $SIG{$sig} = sub { Test::More::diag("LFV::Test: caught SIG$sig, cleaning up"); exit 1 }
            if !defined $SIG{$sig} || $SIG{$sig} eq '' || $SIG{$sig} eq 'DEFAULT';
    }

    push @LIVE, $self;
    weaken($LIVE[-1]);
    return $self;
}

sub _want_module { return !(_true($ENV{LFV_STATIC}) || _true($ENV{LFV_NO_MODULE})) }

sub prefix      { $_[0]{prefix} }
sub nginx_bin   { $ENV{LFV_NGINX} || '/usr/sbin/nginx' }
sub module_path { $ENV{LFV_MODULE} || "$REPO/build/objs/ngx_http_lfv_module.so" }
sub repo        { $REPO }
sub master_pid  { $_[0]{master} }

sub set { my ($self, $k, $v) = @_; $self->{keys}{$k} = $v; return $self }
sub get { $_[0]{keys}{$_[1]} }

sub port {
    my ($self, $name) = @_;
    die "port: name required" unless defined $name;
    return $self->{ports}{$name} if $self->{ports}{$name};
    my %used = map { $_ => 1 } values %{ $self->{ports} };
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1,
        ) or die "port: cannot bind 127.0.0.1:0: $!";
        my $p = $s->sockport;
        close $s;
        next if $used{$p};
        return $self->{ports}{$name} = $p;
    }
    die "port: could not find a free port for '$name'";
}

sub _path {
    my ($self, $name) = @_;
    return $name =~ m{^/} ? $name : "$self->{prefix}/$name";
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = $self->_path($name);
    make_path(dirname($path));
    open my $fh, '>:raw', $path or die "write_file $path: $!";
    print {$fh} $content // '';
    close $fh or die "write_file $path: $!";
    return $path;
}

sub _slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    my $c = <$fh>;
    return $c // '';
}

sub write_conf {
    my ($self, $text) = @_;
    my $p = $self->{prefix};

    # remember which named ports nginx must listen on (TCP, IPv4 or wildcard)
    my %listen;
    for my $line (split /\n/, $text) {
        $line =~ s/#.*//;
        next unless $line =~ /^\s*listen\s+([^;]*)/;
        my $args = $1;
        next if $args =~ /\budp\b/ || $args =~ /\[/ || $args =~ /unix:/;
        $listen{$1} = 1 while $args =~ /%%PORT_([A-Za-z0-9_]+)%%/g;
    }
    $self->{listen} = [sort keys %listen];

    my $globals = '';
    $globals .= 'load_module ' . $self->module_path . ";\n" if $self->_want_module;
    $globals .= "pid $p/nginx.pid;\n";
    $globals .= "error_log $p/error.log " . ($ENV{LFV_ERROR_LOG_LEVEL} || 'info') . ";\n";
    $globals .= "user root;\n" if $> == 0;
    $globals .= "daemon on;\nmaster_process on;\n";

    my $http = join '',
        map { "${_}_temp_path $p/${_}_temp;\n" } qw(client_body proxy fastcgi uwsgi scgi);
    $http .= "access_log $p/access.log;\n";

    $text =~ s/%%TEST_GLOBALS%%/$globals/g;
    $text =~ s/%%TEST_GLOBALS_HTTP%%/$http/g;
    $text =~ s/%%PREFIX%%/$p/g;
    $text =~ s/%%LFV_PROXY_PARAMS%%/$REPO\/ngx_lfv_module\/lfv_proxy_params/g;
    $text =~ s/%%PORT_([A-Za-z0-9_]+)%%/$self->port($1)/ge;
    $text =~ s{%%KEY_([A-Za-z0-9_]+)%%}{
        defined $self->{keys}{$1} ? $self->{keys}{$1}
                                  : die "write_conf: %%KEY_$1%% used but not set\n"
    }ge;
    if ($text =~ /(%%[A-Z][A-Za-z0-9_]*%%)/) {
        die "write_conf: unknown placeholder $1\n";
    }
    $self->write_file('nginx.conf', $text);
    return $text;
}

sub error_log {
    my ($self, $off) = @_;
    my $c = _slurp("$self->{prefix}/error.log") // '';
    return $off ? substr($c, $off < length $c ? $off : length $c) : $c;
}
sub error_log_mark { my $s = -s "$_[0]{prefix}/error.log"; return $s // 0 }
sub access_log     { _slurp("$_[0]{prefix}/access.log") // '' }

sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text // '';
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l);
}

# run a command with stdout+stderr to a file, bounded wait; returns ($status, $output)
sub _run_cmd {
    my ($self, $out, $timeout, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    my $deadline = time + $timeout;
    my $status;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $status = $?; last }
        if ($r < 0) { $status = -1; last }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $status = -1;
            last;
        }
        sleep 0.01;
    }
    return ($status, _slurp($out) // '');
}

sub _cmd {
    my ($self, @extra) = @_;
    my $p = $self->{prefix};
    return ($self->nginx_bin, @extra, '-p', "$p/", '-c', "$p/nginx.conf", '-e', "$p/error.log");
}

sub nginx_test {
    my ($self) = @_;
    my $p = $self->{prefix};
    my @cmd = ($self->nginx_bin, '-t', '-p', "$p/", '-c', "$p/nginx.conf", '-e', "$p/error-t.log");
    my ($st, $out) = $self->_run_cmd("$p/nginx-t.out", 10, @cmd);
    # every run's output is kept for the sanitizer check of checks()
    if (open my $fh, '>>', "$p/nginx-t-all.out") {
        print $fh $out // '';
        close $fh;
    }
    return ($st == 0 ? 1 : 0, $out);
}

sub _alive {
    my ($pid) = @_;
    return 0 unless $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $s = <$fh> // return 0;
    return 0 unless $s =~ /\)\s+(\S)/;
    return $1 ne 'Z' && $1 ne 'X' ? 1 : 0;
}

sub running { _alive($_[0]{master}) }

sub _children {
    my ($ppid, $want_worker) = @_;
    return () unless $ppid;
    my @pids;
    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $s = <$fh> // next;
        next unless $s =~ /\)\s+(\S)\s+(\d+)/;
        next if $1 eq 'Z' || $1 eq 'X' || $2 != $ppid;
        if ($want_worker) {
            my $cmd = _slurp("/proc/$pid/cmdline") // '';
            next unless $cmd =~ /worker process/ || _true($ENV{LFV_VALGRIND});
        }
        push @pids, $pid;
    }
    closedir $d;
    @pids = sort { $a <=> $b } @pids;
    return @pids;    # (sort in scalar context is undefined)
}

sub worker_pids { _children($_[0]{master}, 1) }

sub _can_connect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 0.5,
    ) or return 0;
    close $s;
    return 1;
}

sub wait_port {
    my ($self, $port, $timeout) = @_;
    $port = $self->port($port) if $port !~ /^\d+$/;
    my $deadline = time + ($timeout // 5);
    while (1) {
        return 1 if _can_connect($port);
        return 0 if time > $deadline;
        sleep 0.02;
    }
}

sub wait_file {
    my ($self, $path, $timeout) = @_;
    $path = $self->_path($path);
    my $deadline = time + ($timeout // 5);
    while (1) {
        if (-s $path) {
            my $c = _slurp($path);
            return $c if defined $c && length $c;
        }
        return undef if time > $deadline;
        sleep 0.02;
    }
}

sub _fail {
    my ($self, $msg, $output) = @_;
    $msg .= "\n--- nginx output:\n$output" if defined $output && length $output;
    $self->{tail_shown} = 1;
    $msg .= "\n--- error.log tail ($self->{prefix}/error.log):\n"
        . _tail($self->error_log, 30) . "\n";
    die $msg;
}

sub run {
    my ($self) = @_;
    die "run: nginx already running (pid $self->{master})\n" if $self->running;
    my $p = $self->{prefix};
    die "run: $p/nginx.conf missing, call write_conf first\n" unless -f "$p/nginx.conf";
    unlink "$p/nginx.pid";

    my ($st, $out) = $self->_run_cmd("$p/nginx-run.out", 10, $self->_cmd);
    $self->_fail('run: nginx exited with status ' . ($st >> 8) . ($st & 127 ? ' signal ' . ($st & 127) : ''), $out)
        if $st != 0;

    my $deadline = time + 5;
    my $pid;
    while (1) {
        my $c = _slurp("$p/nginx.pid");
        if (defined $c && $c =~ /^(\d+)\s*$/ && _alive($1)) { $pid = $1; last }
        $self->_fail('run: no live pid in nginx.pid after 5 s', $out) if time > $deadline;
        sleep 0.01;
    }
    $self->{master} = $pid;

    while (!(() = $self->worker_pids)) {
        $self->_fail('run: master died', $out) unless _alive($pid);
        $self->_fail('run: no worker process after 5 s', $out) if time > $deadline;
        sleep 0.01;
    }
    $self->_wait_listen($deadline, 'run');
    return $self;
}

sub _wait_listen {
    my ($self, $deadline, $what) = @_;
    for my $name (@{ $self->{listen} }) {
        my $port = $self->port($name);
        until (_can_connect($port)) {
            $self->_fail("$what: master died") unless $self->running;
            $self->_fail("$what: port $name ($port) not accepting after timeout") if time > $deadline;
            sleep 0.01;
        }
    }
}

sub reload {
    my ($self, %o) = @_;
    die "reload: nginx not running\n" unless $self->running;
    my %old = map { $_ => 1 } $self->worker_pids;
    my $mark = $self->error_log_mark;
    kill 'HUP', $self->{master} or die "reload: kill HUP: $!\n";
    my $deadline = time + ($o{timeout} // 10);
    while (1) {
        my @now = $self->worker_pids;
        last if @now && !grep { $old{$_} } @now;
        my $new = $self->error_log($mark);
        if ($new =~ /^.*\[emerg\].*$/m) {
            $self->_fail("reload: failed (nginx keeps the old configuration): $&");
        }
        $self->_fail('reload: master died') unless $self->running;
        $self->_fail('reload: old workers still present after timeout: '
            . join(' ', grep { $old{$_} } @now)) if time > $deadline;
        sleep 0.01;
    }
    $self->_wait_listen(time + 5, 'reload');
    return $self;
}

sub _wait_dead {
    my ($deadline, @pids) = @_;
    while (grep { _alive($_) } @pids) {
        return 0 if time > $deadline;
        sleep 0.01;
    }
    return 1;
}

sub stop {
    my ($self, %o) = @_;
    my $took = 0;
    if (my $m = $self->{master}) {
        my $t0 = time;
        if (_alive($m)) {
            my @kids = _children($m, 0);
            kill 'QUIT', $m;
            unless (_wait_dead(time + ($o{timeout} // 10), $m)) {
                Test::More::diag("LFV::Test: nginx $m did not exit on QUIT, sending TERM");
                kill 'TERM', $m;
                unless (_wait_dead(time + 3, $m)) {
                    Test::More::diag("LFV::Test: nginx $m did not exit on TERM, sending KILL");
                    @kids = (@kids, _children($m, 0));
                    kill 'KILL', $m;
                    _wait_dead(time + 2, $m);
                }
            }
            # workers of a killed master would linger
            my @left = grep { _alive($_) } @kids;
            if (@left && !_wait_dead(time + 2, @left)) {
                kill 'KILL', grep { _alive($_) } @left;
                _wait_dead(time + 2, @left);
            }
        }
        $took = time - $t0;
        delete $self->{master};
    }
    $self->kill_spawned unless $o{keep_spawned};
    return $took;
}

sub spawn {
    my ($self, $name, @argv) = @_;
    die "spawn: name and command required\n" unless defined $name && @argv;
    die "spawn: '$name' already running\n"
        if $self->{spawned}{$name} && $self->_spawn_alive($name);
    my $log = "$self->{prefix}/$name.log";
    my $pid = fork // die "spawn: fork: $!";
    if (!$pid) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        { no warnings 'exec'; exec { $argv[0] } @argv; }
        print STDERR "spawn: exec $argv[0]: $!\n";
        POSIX::_exit(127);
    }
    setpgrp($pid, $pid);    # no race with the child's own setpgrp
    $self->{spawned}{$name} = $pid;
    return $pid;
}

sub _spawn_alive {
    my ($self, $name) = @_;
    my $pid = $self->{spawned}{$name} or return 0;
    my $r = waitpid($pid, WNOHANG);
    return 0 if $r == $pid || $r < 0;
    return 1;
}

sub kill_spawned {
    my ($self, @names) = @_;
    @names = keys %{ $self->{spawned} } unless @names;
    my %pid;
    for my $n (@names) {
        my $pid = $self->{spawned}{$n} or next;
        $pid{$n} = $pid;
        kill 'TERM', -$pid;    # whole process group
        kill 'TERM', $pid;
    }
    my $deadline = time + 5;
    for my $n (sort keys %pid) {
        my $pid = $pid{$n};
        while (1) {
            my $r = waitpid($pid, WNOHANG);
            last if $r == $pid || $r < 0;
            if (time > $deadline) {
                kill 'KILL', -$pid;
                kill 'KILL', $pid;
                waitpid($pid, 0);
                last;
            }
            sleep 0.01;
        }
        kill 'KILL', -$pid;    # leftovers in its group
        delete $self->{spawned}{$n};
    }
    return scalar keys %pid;
}

sub allow_log { my ($self, $re) = @_; push @{ $self->{allow} }, $re; return $self }

sub checks {
    my ($self) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $self->stop;
    $self->{checked} = 1;
    my $dir = $self->{prefix};
    opendir my $d, $dir or die "opendir $dir: $!";
    # nginx's stderr before it daemonizes (nginx-run.out, nginx-t.out)
    # holds sanitizer reports of configuration time: scanned for those
    my @logs = sort grep { /^(error.*\.log|nginx-.*\.out)$/ && -f "$dir/$_" }
        readdir $d;
    closedir $d;
    my (@alert, @san);
    for my $f (@logs) {
        my $c = _slurp("$dir/$f") // next;
        LINE: for my $l (split /\n/, $c) {
            for my $re (@{ $self->{allow} }) { next LINE if $l =~ $re }
            push @alert, "$f: $l" if $l =~ /\[alert\]/ && $f =~ /\.log$/;
            push @san, "$f: $l" if $l =~ /Sanitizer|runtime error:|LeakSanitizer|==\d+==ERROR/;
        }
    }
    my $cap = sub { my @l = @_; @l > 40 ? (@l[0 .. 39], '... (' . (@l - 40) . ' more)') : @l };
    Test::More::ok(!@alert, 'no [alert] in error logs')
        or Test::More::diag(join "\n", $cap->(@alert));
    Test::More::ok(!@san, 'no sanitizer reports in error logs')
        or Test::More::diag(join "\n", $cap->(@san));
}

sub done {
    my ($self) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $self->checks;
    Test::More::done_testing() unless Test::More->builder->has_plan;
}

sub _cleanup {
    my ($self, $failed) = @_;
    return if $self->{cleaned} || !$self->{owner} || $self->{owner} != $$;
    $self->{cleaned} = 1;
    local ($?, $!, $@);
    eval {
        if ($failed && !$self->{tail_shown} && -f "$self->{prefix}/error.log") {
            Test::More::diag("error.log tail ($self->{prefix}/error.log):\n"
                . _tail($self->error_log, 20));
        }
        $self->stop;
        1;
    } or warn "LFV::Test cleanup: $@";
    if (_true($ENV{LFV_KEEP})) {
        Test::More::diag("LFV::Test: prefix kept: $self->{prefix}");
    } elsif ($self->{prefix} && -d $self->{prefix}) {
        remove_tree($self->{prefix});
    }
}

# perl frees the main script's file-scoped lexicals *before* END blocks run,
# so an object dying during the run phase is resurrected into @ORPHANS and
# cleaned up in END, where we know whether the test failed (error.log tail).
my @ORPHANS;

sub DESTROY {
    my ($self) = @_;
    return if $self->{cleaned} || !$self->{owner} || $self->{owner} != $$;
    if (${^GLOBAL_PHASE} eq 'DESTRUCT') { $self->_cleanup(0); return }
    push @ORPHANS, bless({%$self}, ref $self);
    $self->{cleaned} = 1;
}

END {
    my $code = $?;
    my $failed = $code != 0 || !Test::More->builder->is_passing;
    for my $t (grep { defined } @LIVE, @ORPHANS) {
        next if $t->{cleaned} || $t->{owner} != $$;
        Test::More::diag('LFV::Test: done()/checks() not called; error-log checks skipped')
            if !$t->{checked} && !$failed;
        $t->_cleanup($failed);
    }
    @ORPHANS = ();
    $? = $code;
}

# ---------------------------------------------------------------- HTTP client

sub http {
    my ($self, %a) = @_;
    my $timeout  = $a{timeout} // 5;
    my $deadline = time + $timeout;
    my $method   = $a{method} // 'GET';
    my $port     = $a{port} // 'http';
    $port = $self->port($port) if $port !~ /^\d+$/;

    my $res = { status => undef, headers => {}, header_list => [], body => undef, raw => '' };

    my $sock = $a{sock};
    unless ($sock) {
        $sock = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => $timeout,
        );
        unless ($sock) { $res->{error} = "connect 127.0.0.1:$port: $!"; return $res }
    }
    binmode $sock;
    $sock->blocking(0);

    my $req;
    if (defined $a{raw}) {
        $req = $a{raw};
    } else {
        my @h = @{ $a{headers} || [] };
        my %has;
        for (my $i = 0; $i < @h; $i += 2) { $has{ lc $h[$i] } = 1 }
        $req = "$method " . ($a{path} // '/') . " HTTP/1.1\r\n";
        $req .= "Host: localhost\r\n" unless $has{host};
        for (my $i = 0; $i < @h; $i += 2) { $req .= "$h[$i]: $h[$i+1]\r\n" }
        if (defined $a{body} && !$has{'content-length'} && !$has{'transfer-encoding'}) {
            $req .= 'Content-Length: ' . length($a{body}) . "\r\n";
        }
        $req .= "Connection: close\r\n" unless $a{keepalive} || $has{connection};
        $req .= "\r\n";
        $req .= $a{body} if defined $a{body};
    }

    my $sel = IO::Select->new($sock);
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $req) {
        my $left = $deadline - time;
        if ($left <= 0) { $res->{timed_out} = 1; last }
        next unless $sel->can_write($left);
        my $n = syswrite($sock, $req, length($req) - $off, $off);
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
            $res->{write_error} = "$!";    # server may have answered early (e.g. 413)
            last;
        }
        $off += $n;
    }

    my $buf = '';
    my $eof = 0;
    # returns 1 when data was added, 0 on EOF, undef on timeout
    my $fill = sub {
        return 0 if $eof;
        while (1) {
            my $left = $deadline - time;
            return undef if $left <= 0;
            next unless $sel->can_read($left);
            my $n = sysread($sock, my $chunk, 65536);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                $eof = 1; $res->{read_error} = "$!"; return 0;
            }
            if ($n == 0) { $eof = 1; return 0 }
            $res->{raw} .= $chunk;
            $buf .= $chunk;
            return 1;
        }
    };
    my $fail = sub {    # timeout or premature EOF
        my ($r) = @_;
        if (!defined $r) { $res->{timed_out} = 1; $res->{status} = undef }
        else             { $res->{incomplete} = 1 }
        close $sock;
        return $res;
    };

    # status line + headers (skipping 1xx interim responses except 101)
    my $head;
    while (1) {
        while ($buf !~ /\r?\n\r?\n/) {
            my $r = $fill->();
            next if $r;
            # timeout, or connection closed before a complete header: no status
            $res->{error} = length $buf ? 'connection closed inside response header'
                                        : 'connection closed without response'
                if defined $r;
            $fail->($r);
            $res->{status} = undef;
            return $res;
        }
        $buf =~ s/^(.*?)\r?\n\r?\n//s;
        $head = $1;
        my ($code) = $head =~ m{^HTTP/\d\.\d\s+(\d{3})};
        if (defined $code && $code =~ /^1/ && $code != 101) {
            push @{ $res->{interim} }, $code;
            next;
        }
        last;
    }

    my ($status_line, @lines) = split /\r?\n/, $head;
    if ($status_line =~ m{^(HTTP/\d\.\d)\s+(\d{3})(?:\s+(.*))?$}) {
        @$res{qw(proto status reason)} = ($1, $2 + 0, $3 // '');
    } else {
        $res->{error} = "bad status line: $status_line";
        close $sock;
        return $res;
    }
    for my $l (@lines) {
        next unless $l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/;
        push @{ $res->{header_list} }, [$1, $2];
        $res->{headers}{ lc $1 } = $2;
    }
    my $h = $res->{headers};

    my $body = '';
    my $delimited = 1;
    my $st = $res->{status};
    if ($method eq 'HEAD' || $st == 204 || $st == 304 || $st == 101 || $st < 200) {
        # no body
    } elsif (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        $res->{chunked} = 1;
        while (1) {
            until ($buf =~ /\r?\n/) { my $r = $fill->(); return $fail->($r) unless $r }
            $buf =~ s/^([^\r\n]*)\r?\n//;
            my $line = $1;
            my ($hex) = $line =~ /^\s*([0-9a-fA-F]+)/;
            unless (defined $hex) { $res->{error} = "bad chunk size line: $line"; close $sock; return $res }
            my $size = hex $hex;
            push @{ $res->{chunk_sizes} }, $size;
            if ($size == 0) {
                # trailers until empty line
                while (1) {
                    until ($buf =~ /\r?\n/) { my $r = $fill->(); return $fail->($r) unless $r }
                    $buf =~ s/^([^\r\n]*)\r?\n//;
                    my $tl = $1;
                    last if $tl eq '';
                    push @{ $res->{trailers} }, [$1, $2] if $tl =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/;
                }
                last;
            }
            while (length $buf < $size + 2) {
                my $r = $fill->();
                next if $r;
                last if length $buf >= $size;    # tolerate missing CRLF at EOF
                $res->{body} = $body . $buf;
                return $fail->($r);
            }
            $body .= substr($buf, 0, $size, '');
            $buf =~ s/^\r?\n//;
        }
    } elsif (defined $h->{'content-length'} && $h->{'content-length'} =~ /^\d+$/) {
        my $len = $h->{'content-length'};
        while (length $buf < $len) {
            my $r = $fill->();
            next if $r;
            $res->{body} = $buf;
            return $fail->($r);
        }
        $body = substr($buf, 0, $len, '');
    } else {
        $delimited = 0;
        while (1) {
            my $r = $fill->();
            last if defined $r && $r == 0;
            unless (defined $r) { $res->{body} = $buf; return $fail->($r) }
        }
        $body = $buf;
        $buf  = '';
    }
    $res->{body} = $body;

    if ($a{keepalive} && $delimited && !$eof
        && ($h->{connection} // '') !~ /close/i
        && !($res->{proto} eq 'HTTP/1.0' && ($h->{connection} // '') !~ /keep-alive/i))
    {
        $sock->blocking(1);
        $res->{sock} = $sock;
    } else {
        close $sock;
    }
    return $res;
}

1;

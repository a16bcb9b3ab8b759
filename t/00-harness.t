#!/usr/bin/perl
# Self-test of t/lib/LFV/Test.pm against a plain nginx (no lfv module).

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);

BEGIN { $ENV{LFV_NO_MODULE} = 1 }
use lib 't/lib';
use LFV::Test;

my $t = LFV::Test->new;
ok(-d $t->prefix && ((stat $t->prefix)[2] & 0777) == 0755, 'prefix exists, mode 0755');
{
    local $ENV{LFV_MODULE};
    like($t->module_path, qr{/build/objs/ngx_http_lfv_module\.so$}, 'module_path default');
}
is($t->port('http'), $t->port('http'), 'port stable per name');
isnt($t->port('http'), $t->port('backend'), 'ports distinct per name');

# ---- a helper server for what nginx will not produce (trailers, silence, EOF body)
$t->write_file('fake.pl', <<'EOS');
use strict; use IO::Socket::INET;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[0],
    Listen => 16, ReuseAddr => 1) or die "listen: $!";
my @held;
while (my $c = $l->accept) {
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 4096, length $req) or last }
    my ($path) = $req =~ m{^\S+ (\S+)};
    $path //= '';
    if ($path eq '/silent') { push @held, $c; next }
    if ($path eq '/chunked') {
        print $c "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
            . "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t1\r\n\r\n";
    } elsif ($path eq '/eof') {
        print $c "HTTP/1.0 200 OK\r\nX-Kind: eof\r\n\r\nuntil close";
    } elsif ($path eq '/continue') {
        print $c "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    } else {
        print $c "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    close $c;
}
EOS
my $fake_pid = $t->spawn('fake', $^X, $t->prefix . '/fake.pl', $t->port('fake'));
ok($t->wait_port('fake', 5), 'spawned helper listens');

my $r = $t->http(port => 'fake', path => '/chunked');
is($r->{status}, 200, 'chunked: status');
ok($r->{chunked}, 'chunked: flagged');
is($r->{body}, 'hello 0123456789', 'chunked: body decoded (extensions, several chunks)');
is_deeply($r->{chunk_sizes}, [5, 1, 10, 0], 'chunked: chunk sizes');
is_deeply($r->{trailers}, [['X-Trailer', 't1']], 'chunked: trailers');
is($r->{headers}{'x-a'}, '2', 'repeated header: last wins in headers');
is_deeply([map { $_->[1] } grep { $_->[0] eq 'X-A' } @{ $r->{header_list} }], [1, 2],
    'repeated header: all in header_list, in order');

$r = $t->http(port => 'fake', path => '/eof');
is($r->{status}, 200, 'EOF-delimited: status');
is($r->{body}, 'until close', 'EOF-delimited: body');
is($r->{proto}, 'HTTP/1.0', 'proto');

$r = $t->http(port => 'fake', path => '/continue');
is($r->{status}, 201, '100 Continue skipped');
is_deeply($r->{interim}, [100], 'interim codes recorded');
is($r->{body}, 'ok', 'body after 100');

my $t0 = time;
$r = $t->http(port => 'fake', path => '/silent', timeout => 0.3);
ok(!defined $r->{status} && $r->{timed_out}, 'timeout: undef status');
ok(time - $t0 < 1.5, 'timeout: bounded');

# ---- nginx
$t->set(greeting => 'hello');
my $conf = <<'EOF';
%%TEST_GLOBALS%%
worker_processes 1;
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location = / { return 200 '%%KEY_greeting%%'; }
        location = /len { return 200 "len=$http_content_length body=$request_body"; }
        location = /echo { return 200 "x=$http_x_h"; }
        location /chunked {
            proxy_pass http://127.0.0.1:%%PORT_backend%%/;
            proxy_buffering off;
            sub_filter 'backend' 'BACKEND';
            sub_filter_types *;
            add_header X-Test one;
            add_header X-Test two;
        }
        location /post {
            proxy_pass http://127.0.0.1:%%PORT_backend%%/echo;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_backend%%;
        location / { return 200 'from backend'; }
        location = /echo { return 200 "len=$http_content_length"; }
    }
}
EOF
my $text = $t->write_conf($conf);
my $lvl = $ENV{LFV_ERROR_LOG_LEVEL} || 'info';
like($text, qr/^error_log \Q${\$t->prefix}\E\/error\.log \Q$lvl\E;$/m, 'TEST_GLOBALS error_log');
like($text, qr/^pid \Q${\$t->prefix}\E\/nginx\.pid;$/m, 'TEST_GLOBALS pid');
unlike($text, qr/load_module/, 'no load_module with LFV_NO_MODULE');
like($text, qr/listen 127\.0\.0\.1:${\$t->port('backend')};/, 'PORT substituted');
like($text, qr{client_body_temp_path \Q${\$t->prefix}\E/client_body_temp;}, 'TEST_GLOBALS_HTTP');

ok(!eval { $t->write_conf("%%KEY_nope%%\n"); 1 } && $@ =~ /KEY_nope/, 'unset KEY dies');
ok(!eval { $t->write_conf("%%TYPO%%\n"); 1 } && $@ =~ /TYPO/, 'unknown placeholder dies');
$t->write_conf($conf);

my ($ok, $out) = $t->nginx_test;
ok($ok, 'nginx -t on good conf') or diag $out;

$t->run;
ok($t->running, 'running');
my @w1 = $t->worker_pids;
is(scalar @w1, 1, 'one worker');
ok(-s $t->prefix . '/nginx.pid', 'pid file');

$r = $t->http(path => '/');
is($r->{status}, 200, 'GET /: status');
is($r->{reason}, 'OK', 'GET /: reason');
is($r->{body}, 'hello', 'GET /: body (KEY substituted)');
is($r->{headers}{'content-length'}, 5, 'GET /: content-length');
is($r->{headers}{connection}, 'close', 'Connection: close by default');
ok(!$r->{sock}, 'no socket kept without keepalive');
like($r->{raw}, qr{^HTTP/1\.1 200 OK\r\n.*\r\n\r\nhello$}s, 'raw response');

$r = $t->http(path => '/', method => 'HEAD');
is($r->{status}, 200, 'HEAD: status');
is($r->{body}, '', 'HEAD: no body, no hang');

$r = $t->http(path => '/nope');
is($r->{status}, 404, 'GET /nope: status 404');

$r = $t->http(path => '/chunked');
is($r->{status}, 200, 'proxied: status');
ok($r->{chunked}, 'proxied via sub_filter: chunked');
is($r->{body}, 'from BACKEND', 'proxied: body');
is_deeply([map { $_->[1] } grep { lc $_->[0] eq 'x-test' } @{ $r->{header_list} }],
    ['one', 'two'], 'add_header twice: both in header_list');
is($r->{headers}{'x-test'}, 'two', 'add_header twice: last wins');

$r = $t->http(method => 'POST', path => '/post', body => 'abcdef');
is($r->{body}, 'len=6', 'body gets Content-Length');

$r = $t->http(path => '/echo', headers => [ 'X-H' => 'a', 'X-H' => 'b' ]);
is($r->{status}, 200, 'repeated request headers accepted');
like($r->{body}, qr/^x=a(, b)?$/, 'request header order kept');

$r = $t->http(raw => "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
is($r->{status}, 200, 'raw request');
is($r->{body}, 'hello', 'raw request: body');

$r = $t->http(raw => "BROKEN\r\n\r\n");
is($r->{status}, 400, 'raw garbage: 400');

$r = $t->http(path => '/', keepalive => 1);
is($r->{status}, 200, 'keepalive: first');
ok($r->{sock}, 'keepalive: socket returned');
isnt(lc($r->{headers}{connection} // ''), 'close', 'keepalive: no Connection: close');
my $r2 = $t->http(path => '/nope', sock => $r->{sock}, keepalive => 1);
is($r2->{status}, 404, 'keepalive: second request on same connection');
close $r2->{sock} if $r2->{sock};

like($t->access_log, qr{"GET /nope HTTP/1\.1" 404}, 'access_log');
like($t->error_log, qr/\[notice\].*start worker process/, 'error_log');

# ---- nginx -t on a broken conf
my $mark = $t->error_log_mark;
(my $bad = $conf) =~ s/worker_processes 1;/worker_processes 1;\nno_such_directive on;/;
$t->write_conf($bad);
($ok, $out) = $t->nginx_test;
ok(!$ok, 'nginx -t on broken conf fails');
like($out, qr/\[emerg\].*\Q${\$t->prefix}\E\/nginx\.conf:\d+/, 'nginx -t output: [emerg] with file:line')
    or diag $out;

# reload with broken conf: dies quickly, old worker keeps serving
$t0 = time;
ok(!eval { $t->reload; 1 } && $@ =~ /\[emerg\]/, 'reload of broken conf dies with [emerg]');
ok(time - $t0 < 2, 'reload failure detected quickly');
is_deeply([$t->worker_pids], \@w1, 'old worker still there');

# good reload
$t->set(greeting => 'reloaded');
$t->write_conf($conf);
$t->reload;
my @w2 = $t->worker_pids;
ok(@w2 && !grep({ my $o = $_; grep { $_ == $o } @w1 } @w2), 'reload: worker pids changed')
    or diag "old @w1 new @w2";
is($t->http(path => '/')->{body}, 'reloaded', 'reload: new config served');

# ---- stop
my $master = $t->master_pid;
my $took = $t->stop(keep_spawned => 1);
ok($took < 2, "stop prompt (${\sprintf '%.3f', $took} s)");
ok(!LFV::Test::_alive($master), 'master gone');
ok(!grep({ LFV::Test::_alive($_) } @w2), 'workers gone');
ok(kill(0, $fake_pid), 'stop(keep_spawned => 1) kept the helper');
is($t->stop, 0, 'second stop: nginx part is a no-op');
ok(!kill(0, $fake_pid), 'stop killed the spawned helper');

# wait_file + kill_spawned
$t->spawn('writer', $^X, '-e', 'open my $f, ">", $ARGV[0] or die; print $f "ready"; close $f; sleep 60',
    $t->prefix . '/ready.txt');
is($t->wait_file('ready.txt', 5), 'ready', 'wait_file returns content');
ok(!defined $t->wait_file('never.txt', 0.1), 'wait_file: undef on timeout');
$t0 = time;
is($t->kill_spawned('writer'), 1, 'kill_spawned');
ok(time - $t0 < 1, 'kill_spawned prompt');

$t->done;

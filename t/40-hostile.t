#!/usr/bin/perl

# Hostile clients: smuggling shapes, oversized headers and bodies, a body
# that never finishes, HTTP/1.0, pipelining, many connections, and path
# and query tricks on the hosting cycle's routes.  Each ends in a clean
# local answer, and nothing is forwarded unless valid.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start(
    workers => 2,
    server => <<'EOF',
        client_body_timeout 1s;
        client_header_timeout 1s;
        large_client_header_buffers 4 2k;
EOF
    location => "lfv_operations start stop describe list;\n",
);

my $uri = '/2020-11-20/projects/p/models/1/start';
my $body = '{"MinInferenceUnits":1}';
my $len = length $body;

sub upstream { scalar(() = $sim->journal) }

sub raw {
    my ($bytes, %o) = @_;
    return $t->http(raw => $bytes, timeout => $o{timeout} || 5);
}

# every response of a raw exchange, for pipelining

sub raw_all {
    my ($bytes) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('http'),
        Timeout => 5) or die $!;
    print $s $bytes;

    my ($buf, $sel, $deadline) = ('', IO::Select->new($s), time + 5);
    while (time < $deadline && $sel->can_read(1)) {
        last unless sysread($s, $buf, 65536, length $buf);
    }

    return [ $buf =~ m{HTTP/1\.[01] (\d{3}) }g ];
}

my $n = upstream();

my $r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\n"
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . sprintf("%x\r\n%s\r\n0\r\n\r\n", $len, $body));
is($r->{status}, 400, 'Content-Length with Transfer-Encoding refused');

$r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\n"
    . "Content-Length: 5\r\nConnection: close\r\n\r\n$body");
is($r->{status}, 400, 'two Content-Length headers refused');

$r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
    . "Connection: close\r\n\r\n0\r\n\r\n");
ok($r->{status} == 400 || $r->{status} == 501,
    "unknown transfer coding refused ($r->{status})");

$r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 4096)
    . "\r\nConnection: close\r\n\r\n");
ok($r->{status} == 400 || $r->{status} == 494,
    "oversized header refused ($r->{status})");

$r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
    . "Connection: close\r\n\r\n{");
is($r->{status}, 413, 'huge Content-Length refused before reading');

is(upstream(), $n, 'none of these forwarded');

# a chunked body with extensions and trailers is a valid request

$r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n"
    . "5;name=value\r\n{\"Min\r\n"
    . sprintf("%x\r\n%s\r\n", $len - 5, substr($body, 5))
    . "0\r\nX-Trailer: t\r\n\r\n");
is($r->{status}, 202, 'chunk extensions and trailers');
is(upstream(), $n + 1, 'forwarded once');
my @j = $sim->journal;
is($j[-1]{body}, $body, 'dechunked body forwarded as signed');
ok($j[-1]{sig_ok}, 'signature accepted');

# a body that never finishes: bounded by client_body_timeout

my $t0 = time;
$r = raw("POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\n"
    . "Connection: close\r\n\r\n{\"MinInf", timeout => 5);
my $took = time - $t0;
ok(!defined $r->{status} || $r->{status} == 408,
    'slow body: timed out (' . ($r->{status} // 'closed') . ')');
ok($took < 4, sprintf('slow body bounded (%.1f s)', $took));
is(upstream(), $n + 1, 'slow body not forwarded');

# HTTP/1.0

$r = raw("POST $uri HTTP/1.0\r\nContent-Length: $len\r\n\r\n$body");
is($r->{status}, 202, 'HTTP/1.0');

# pipelined: a valid and an invalid request, then a valid one

my $valid = "POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\n\r\n$body";
my $bad = "POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
my $codes = raw_all($valid . $bad . $valid
    . "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is("@$codes", '202 400 202 404', 'pipelined requests answered in order');
is(upstream(), $n + 4, 'only the valid pipelined ones forwarded');

# many connections at once

my $port = $t->port('http');
my @s = map {
    IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or die $!
} 1 .. 64;
print $_ "POST $uri HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\n"
    . "Connection: close\r\n\r\n$body" for @s;

my $ok = 0;
for my $s (@s) {
    my ($buf, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(10)) {
        last unless sysread($s, $buf, 4096, length $buf);
    }
    $ok++ if $buf =~ m{^HTTP/1\.1 202};
}
is($ok, 64, '64 concurrent connections all answered 202');
is(upstream(), $n + 4 + 64, 'all forwarded once');
is(scalar(grep { !$_->{sig_ok} } $sim->journal), 0, 'every signature valid');

# the hosting cycle's routes: tricks on the path and the query, a body
# where none belongs, smuggling shapes; pipelined between valid requests

my $P = '/2020-11-20/projects/p/models';
my $before = upstream();
my @tricks = (
    [ "GET $P/1/stop/../start HTTP/1.1\r\nHost: x\r\n\r\n", 400, 'dot-segments' ],
    [ "POST $P/1/start/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
      404, 'a segment after start' ],
    [ "GET $P%2F1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 'an encoded slash' ],
    [ "GET $P/1%2Fstop HTTP/1.1\r\nHost: x\r\n\r\n", 400,
      'an encoded slash before stop' ],
    [ "GET $P?maxResults=1&maxResults=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
      'a duplicate query key' ],
    [ "GET $P?maxResults=1&maxresults=2 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
      'a query key of another case' ],
    [ "GET $P/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      . "2\r\n{}\r\n0\r\n\r\n", 400, 'a chunked body on a GET' ],
    [ "POST $P/1/stop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      . "Content-Length: 14\r\n\r\n{\"Force\":true}", 400, 'a member in a stop' ],
    [ "POST $P/1/stop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      . "Content-Length: 3\r\n\r\n{}}", 400, 'trailing bytes in a stop' ],
    [ "DELETE $P/1 HTTP/1.1\r\nHost: x\r\n\r\n", 405, 'another method' ],
    [ "GET /2020-11-20/projects HTTP/1.1\r\nHost: x\r\n\r\n", 404,
      'ListProjects' ],
);
my $describe = "GET $P/1 HTTP/1.1\r\nHost: x\r\n\r\n";
for my $trick (@tricks) {
    my ($bytes, $status, $name) = @$trick;
    $codes = raw_all($describe . $bytes . $describe
        . "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    is("@$codes", "200 $status 200 404", "$name: refused between valid reads");
}
is(upstream(), $before + 2 * @tricks, 'only the valid reads forwarded');

$r = raw("POST $P/1/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . "2\r\n{}\r\n0\r\n\r\n");
is($r->{status}, 400,
    'a stop with Content-Length and Transfer-Encoding refused');
$r = raw("GET $P?nextToken=" . ('a' x 4096) . " HTTP/1.1\r\nHost: x\r\n"
    . "Connection: close\r\n\r\n");
ok($r->{status} == 414 || $r->{status} == 400,
    "a query beyond the header buffers refused ($r->{status})");
is(upstream(), $before + 2 * @tricks, 'neither forwarded');
is(scalar(grep { !$_->{sig_ok} } $sim->journal), 0,
    'every signature valid, of the reads too');

$t->done;


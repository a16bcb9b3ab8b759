#!/usr/bin/perl

# The DNS simulator, queried with hand-packed UDP queries and used by a
# real nginx's resolver. A configured name (any case, given with or
# without the final dot) answers its A records, authoritatively, with the
# ID, the question and RD echoed; AAAA and other types of it NOERROR
# without answers; other names NXDOMAIN; a class other than IN REFUSED.
# Malformed queries are answered FORMERR (NOTIMP for another opcode) or
# dropped, and every datagram is journaled and counted. The control API
# (TCP, same port number) resets the counters, changes the table and sets
# the faults: servfail answers rcode 2, timeout nothing. nginx resolves
# through it (ipv6=off asks A only, the default A and AAAA): the A answer
# is the upstream address, NXDOMAIN, SERVFAIL and no answer are 502s.
# SIGTERM stops it cleanly.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(sleep);

# a plain nginx: its own resolver, no module
BEGIN { $ENV{LFV_NO_MODULE} = 1 }

use lib 't/lib';
use LFV::Test;
use LFV::Sim;

my $t = LFV::Test->new;

my $dns = LFV::Sim->dns($t, args => [ '--ttl', '7', '--name', 'sim.test=127.0.0.1',
    '--name', 'Dot.Test.=127.0.0.1,127.0.0.2', '--name', 'noaddr.test=' ]);
like($dns->{port}, qr/^[1-9]\d*$/, 'ready holds the port');

my $udp = IO::Socket::INET->new(Proto => 'udp', PeerAddr => '127.0.0.1',
    PeerPort => $dns->{port}) or die "udp socket: $!";

# ---------------------------------------------------------------- the client

sub qname {
    my ($name) = @_;
    return join('', map { pack 'C/a*', $_ } split /\./, $name) . "\0";
}

# a query datagram: id, flags (RD), one question
sub query {
    my (%q) = @_;
    return pack('n6', $q{id}, $q{flags} // 0x0100, 1, 0, 0, 0)
        . qname($q{name}) . pack('n2', $q{type} // 1, $q{class} // 1);
}

# the next reply, parsed, or undef when none comes within $wait s
sub reply {
    my ($wait) = @_;
    return undef unless IO::Select->new($udp)->can_read($wait // 10);
    defined $udp->recv(my $buf, 65535) or return { error => "$!" };
    return parse($buf);
}

sub ask {
    my ($data) = @_;
    $udp->send($data) or die "send: $!";
    return reply();
}

sub parse {
    my ($d) = @_;
    return { short => length $d } if length $d < 12;
    my ($id, $flags, $qd, $an, $ns, $ar) = unpack 'n6', $d;
    my $r = { id => $id, qr => $flags >> 15, opcode => ($flags >> 11) & 15,
        aa => ($flags >> 10) & 1, tc => ($flags >> 9) & 1, rd => ($flags >> 8) & 1,
        ra => ($flags >> 7) & 1, z => ($flags >> 4) & 7, rcode => $flags & 15,
        qd => $qd, an => $an, ns => $ns, ar => $ar, answers => [] };
    my $pos = 12;
    for (1 .. $qd) {
        my @labels;
        while ($pos < length $d) {
            my $n = ord substr($d, $pos++, 1);
            last unless $n;
            push @labels, substr($d, $pos, $n);
            $pos += $n;
        }
        $r->{qname} = join '.', @labels;
        ($r->{qtype}, $r->{qclass}) = unpack 'n2', substr($d, $pos, 4);
        $pos += 4;
    }
    for (1 .. $an) {
        last if $pos + 12 > length $d;
        my ($ptr, $type, $class, $ttl, $len) = unpack 'n3 N n', substr($d, $pos, 12);
        $pos += 12;
        my $rdata = substr($d, $pos, $len);
        $pos += $len;
        push @{ $r->{answers} }, { ptr => $ptr, type => $type, class => $class, ttl => $ttl,
            addr => $len == 4 ? join('.', unpack 'C4', $rdata) : unpack('H*', $rdata) };
    }
    $r->{rest} = length($d) - $pos;
    return $r;
}

sub addrs { [ map { $_->{addr} } @{ $_[0]{answers} || [] } ] }

# the journal records of query id $id
sub records {
    my ($id) = @_;
    return grep { defined $_->{id} && $_->{id} == $id } $dns->journal;
}

# ---------------------------------------------------------------- answers

my $r = ask(query(id => 0x1234, name => 'sim.test'));
ok($r, 'A sim.test: answered');
is_deeply([ @$r{qw(id qr opcode aa tc rd ra z rcode qd an ns ar)} ],
    [ 0x1234, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0 ],
    'A sim.test: ID echoed, QR AA RD set, TC RA Z clear, NOERROR, one answer');
is_deeply([ @$r{qw(qname qtype qclass)} ], [ 'sim.test', 1, 1 ], 'A sim.test: question echoed');
is_deeply($r->{answers}, [ { ptr => 0xc00c, type => 1, class => 1, ttl => 7,
    addr => '127.0.0.1' } ], 'A sim.test: the A record, name compressed, --ttl');
is($r->{rest}, 0, 'A sim.test: nothing after the answer');

$r = ask(query(id => 2, name => 'SIM.Test'));
is($r->{rcode}, 0, 'case-insensitive: NOERROR');
is_deeply(addrs($r), [ '127.0.0.1' ], 'case-insensitive: the address');
is($r->{qname}, 'SIM.Test', 'case-insensitive: the question echoed as asked');

$r = ask(query(id => 3, name => 'dot.test'));
is_deeply(addrs($r), [ '127.0.0.1', '127.0.0.2' ],
    'a name configured with its final dot: both addresses, in order');

$r = ask(query(id => 4, name => 'sim.test', type => 28));
is_deeply([ @$r{qw(id aa rcode qd an qtype)} ], [ 4, 1, 0, 1, 0, 28 ],
    'AAAA sim.test: authoritative NOERROR, no answer');
$r = ask(query(id => 5, name => 'sim.test', type => 15));
is_deeply([ @$r{qw(aa rcode an qtype)} ], [ 1, 0, 0, 15 ], 'MX sim.test: NOERROR, no answer');
$r = ask(query(id => 6, name => 'noaddr.test'));
is_deeply([ @$r{qw(aa rcode an)} ], [ 1, 0, 0 ], 'A of a name without addresses: NOERROR, no answer');

$r = ask(query(id => 7, name => 'other.test'));
is_deeply([ @$r{qw(id qr aa rcode qd an qname)} ], [ 7, 1, 1, 3, 1, 0, 'other.test' ],
    'A other.test: authoritative NXDOMAIN, question echoed');
$r = ask(query(id => 8, name => 'other.test', type => 28));
is($r->{rcode}, 3, 'AAAA other.test: NXDOMAIN');
$r = ask(query(id => 9, name => 'test'));
is($r->{rcode}, 3, 'a parent of a configured name: NXDOMAIN');

$r = ask(query(id => 10, name => 'sim.test', flags => 0));
is_deeply([ @$r{qw(rd rcode an)} ], [ 0, 0, 1 ], 'RD clear in the query: clear in the answer');

$r = ask(query(id => 11, name => 'sim.test', class => 3));
is_deeply([ @$r{qw(aa rcode an qclass)} ], [ 0, 5, 0, 3 ], 'class CH: REFUSED, not authoritative');

# ---------------------------------------------------------------- malformed

my $q = query(id => 0, name => 'sim.test');
my $name_end = 12 + length qname('sim.test');
my %formerr = (
    101 => [ 'qdcount:2', pack('n6', 101, 0x100, 2, 0, 0, 0) . substr($q, 12) x 2 ],
    102 => [ 'ancount:1', pack('n6', 102, 0x100, 1, 1, 0, 0) . substr($q, 12) ],
    103 => [ 'arcount:1', pack('n6', 103, 0x100, 1, 0, 0, 1) . substr($q, 12)
        . "\0" . pack('n2 N n', 41, 4096, 0, 0) ],         # an EDNS OPT record, as dig sends
    104 => [ 'trailing', query(id => 104, name => 'sim.test') . "\0" ],
    105 => [ 'compression', pack('n6', 105, 0x100, 1, 0, 0, 0) . "\xc0\x0c" . pack('n2', 1, 1) ],
    106 => [ 'label_type', pack('n6', 106, 0x100, 1, 0, 0, 0) . "\x40" . ('a' x 64) . "\0"
        . pack('n2', 1, 1) ],
    107 => [ 'name_too_long', query(id => 107, name => join '.', ('a' x 63) x 5) ],
    108 => [ 'truncated', substr(query(id => 108, name => 'sim.test'), 0, $name_end + 2) ],
    109 => [ 'truncated', substr(query(id => 109, name => 'sim.test'), 0, 16) ],
    110 => [ 'tc_set', query(id => 110, name => 'sim.test', flags => 0x0300) ],
    111 => [ 'rcode_set', query(id => 111, name => 'sim.test', flags => 0x0101) ],
    112 => [ 'too_long', query(id => 112, name => 'sim.test') . ("\0" x 500) ],
);
for my $id (sort keys %formerr) {
    my ($reason, $data) = @{ $formerr{$id} };
    $r = ask($data);
    is_deeply($r && [ @$r{qw(id qr rcode qd an ns ar)} ], [ $id, 1, 1, 0, 0, 0, 0 ],
        "$reason: FORMERR, ID echoed, no question");
    my @rec = records($id);
    is_deeply([ map { [ $_->{reason}, $_->{rcode}, $_->{name} ] } @rec ],
        [ [ $reason, 'FORMERR', undef ] ], "$reason: journaled");
}

$r = ask(query(id => 120, name => 'sim.test', flags => 0x1100));     # opcode 2, STATUS
is_deeply([ @$r{qw(id qr opcode rcode rd)} ], [ 120, 1, 2, 4, 1 ],
    'opcode 2: NOTIMP, opcode and RD echoed');
is(join(',', map { $_->{reason} } records(120)), 'opcode:2', 'opcode 2: journaled');

# dropped: the reply to the next query comes first (one thread answers in turn)
$udp->send("\x00\x79\x01") or die;
$r = ask(query(id => 122, name => 'sim.test'));
is($r->{id}, 122, 'a 3-byte datagram: dropped');
$udp->send(pack('n6', 123, 0x8180, 1, 0, 0, 0) . substr($q, 12)) or die;
$r = ask(query(id => 124, name => 'sim.test'));
is($r->{id}, 124, 'a response (QR set): dropped, never answered');
is(join(',', map { "$_->{reason}:" . ($_->{rcode} // 'none') } records(123)), 'response:none',
    'the response: journaled, unanswered');
is(scalar(grep { ($_->{reason} // '') eq 'short' } $dns->journal), 1, 'the short one: journaled');

# ---------------------------------------------------------------- counters, journal

my $c = $dns->control(POST => 'reset');
is_deeply($c, { total => 0, malformed => 0, unanswered => 0, queries => {}, types => {},
    rcodes => {} }, 'reset: counters zero');
my $marks = () = $dns->journal;
ask(query(id => 201, name => 'sim.test'));
ask(query(id => 202, name => 'Sim.Test.'));         # the final dot: the same query
ask(query(id => 203, name => 'SIM.TEST', type => 28));
ask(query(id => 204, name => 'other.test'));
ask(pack('n6', 205, 0x100, 2, 0, 0, 0));
$udp->send("\x01") or die;
ask(query(id => 206, name => 'dot.test'));
$c = $dns->control(GET => 'counters');
is_deeply($c, { total => 7, malformed => 2, unanswered => 1,
    queries => { 'sim.test' => { A => 2, AAAA => 1 }, 'other.test' => { A => 1 },
        'dot.test' => { A => 1 } },
    types => { A => 4, AAAA => 1 }, rcodes => { NOERROR => 4, NXDOMAIN => 1, FORMERR => 1 } },
    'counters: by name (lower case) and type, by rcode, malformed, unanswered');

my @new = ($dns->journal)[$marks .. $marks + 6];
is(scalar(grep { defined } @new), 7, 'journal: one record per datagram');
is_deeply([ map { [ @$_{qw(id name type class rcode)}, $_->{answer}, $_->{fault} ] } @new[0 .. 3] ],
    [ [ 201, 'sim.test', 'A', 'IN', 'NOERROR', [ '127.0.0.1' ], undef ],
      [ 202, 'Sim.Test', 'A', 'IN', 'NOERROR', [ '127.0.0.1' ], undef ],
      [ 203, 'SIM.TEST', 'AAAA', 'IN', 'NOERROR', [], undef ],
      [ 204, 'other.test', 'A', 'IN', 'NXDOMAIN', [], undef ] ],
    'journal: id, name as asked, type, class, rcode, answer, fault');
like($new[0]{peer}, qr/^127\.0\.0\.1:\d+$/, 'journal: peer');
ok($new[0]{rd} && $new[0]{size} == length(query(id => 0, name => 'sim.test'))
    && $new[0]{time} > 1e9, 'journal: rd, size, time');
is_deeply([ map { [ $_->{reason}, $_->{rcode} ] } @new[4, 5] ],
    [ [ 'qdcount:2', 'FORMERR' ], [ 'short', undef ] ], 'journal: the malformed ones');

# ---------------------------------------------------------------- faults

$c = $dns->control(POST => 'fault', { kind => 'servfail' });
is_deeply([ map { $c->{$_}{kind} } qw(A AAAA other) ], [ ('servfail') x 3 ],
    'fault servfail: set for every type');
for my $type (1, 28, 15) {
    $r = ask(query(id => 300 + $type, name => 'sim.test', type => $type));
    is_deeply([ @$r{qw(id qr aa rcode qd an qname qtype)} ],
        [ 300 + $type, 1, 0, 2, 1, 0, 'sim.test', $type ],
        "fault servfail, type $type: SERVFAIL, not authoritative, question echoed");
}
$r = ask(query(id => 310, name => 'other.test'));
is($r->{rcode}, 2, 'fault servfail: also for an unknown name');
is_deeply([ map { [ $_->{rcode}, $_->{fault} ] } records(301) ], [ [ 'SERVFAIL', 'servfail' ] ],
    'fault servfail: journaled');

# count 1: the next query of each type only, so no race with the UDP thread
$dns->control(POST => 'fault', { kind => 'timeout', count => 1 });
$udp->send(query(id => 320, name => 'sim.test')) or die;
$udp->send(query(id => 321, name => 'sim.test', type => 28)) or die;
$r = ask(query(id => 322, name => 'sim.test'));
is($r->{id}, 322, 'fault timeout: no answer at all (the next reply is to a later query)');
is_deeply($r && addrs($r), [ '127.0.0.1' ], 'fault timeout, count 1: then answers again');
is($dns->control(POST => 'fault', { kind => 'none' })->{other}{kind}, 'none', 'fault none');
is_deeply([ map { [ $_->{id}, $_->{rcode}, $_->{fault}, $_->{answer} ] } records(320), records(321) ],
    [ [ 320, undef, 'timeout', [] ], [ 321, undef, 'timeout', [] ] ], 'fault timeout: journaled');

$dns->control(POST => 'fault', { kind => 'servfail', target => 'AAAA', count => 1 });
is(ask(query(id => 330, name => 'sim.test'))->{rcode}, 0, 'fault for AAAA only: A answered');
is(ask(query(id => 331, name => 'sim.test', type => 28))->{rcode}, 2, 'count 1: one AAAA SERVFAIL');
is(ask(query(id => 332, name => 'sim.test', type => 28))->{rcode}, 0, 'count 1: then NOERROR');
is($dns->control(GET => 'fault')->{AAAA}{kind}, 'none', 'count 1: spent');

like($dns->control(POST => 'fault', { kind => 'hang' })->{error}, qr/kind must be one of/,
    'an unknown fault kind: refused');
like($dns->control(POST => 'fault', { kind => 'timeout', seconds => 3 })->{error},
    qr/takes no seconds/, 'a fault parameter: refused');
like($dns->control(POST => 'fault', { kind => 'timeout', target => 'MX' })->{error},
    qr/target must be one of/, 'an unknown fault target: refused');
is(ask(query(id => 340, name => 'sim.test'))->{rcode}, 0, 'refused faults change nothing');

# ---------------------------------------------------------------- the table

is_deeply($dns->control(GET => 'names'), { 'sim.test' => [ '127.0.0.1' ],
    'dot.test' => [ '127.0.0.1', '127.0.0.2' ], 'noaddr.test' => [] }, 'GET names: the table');
$c = $dns->control(POST => 'names', { 'New.Test.' => '127.0.0.1',
    'multi.test' => [ '127.0.0.1', '127.0.0.3' ] });
is_deeply($c, { 'new.test' => [ '127.0.0.1' ], 'multi.test' => [ '127.0.0.1', '127.0.0.3' ] },
    'POST names: the new table');
is(ask(query(id => 401, name => 'sim.test'))->{rcode}, 3, 'POST names: an old name is gone');
is_deeply(addrs(ask(query(id => 402, name => 'new.test'))), [ '127.0.0.1' ],
    'POST names: a new name answers');
is_deeply(addrs(ask(query(id => 403, name => 'MULTI.test'))), [ '127.0.0.1', '127.0.0.3' ],
    'POST names: a list of addresses');
for my $bad ({ 'bad name!' => '127.0.0.1' }, { 'x.test' => '999.0.0.1' },
    { 'x.test' => '::1' }, { 'x.test' => 5 }, { 'a..test' => '127.0.0.1' },
    { 'x.test' => '127.0.0.1', 'X.TEST.' => '127.0.0.1' }, [ 'x.test' ])
{
    my $e = $dns->control(POST => 'names', $bad);
    ok(ref $e eq 'HASH' && $e->{error}, 'POST names refuses ' . JSON::PP->new->canonical->encode($bad))
        or diag explain $e;
}
is_deeply([ sort keys %{ $dns->control(GET => 'names') } ], [ 'multi.test', 'new.test' ],
    'a refused table changes nothing');
is($dns->control(GET => 'nothing')->{error}, 'unknown control endpoint GET /_sim/nothing',
    'an unknown control endpoint: 404');
my $h = $t->http(port => $dns->{port}, path => '/');
is($h->{status}, 404, 'HTTP other than /_sim/*: 404');

# ---------------------------------------------------------------- nginx resolves through it

$dns->control(POST => 'names', { map { ("$_.test" => '127.0.0.1') } qw(ok v6 fail late) });
$dns->control(POST => 'reset');
$t->set(dns => $dns->{port});
$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /v4 {
            resolver 127.0.0.1:%%KEY_dns%% valid=1s ipv6=off;
            resolver_timeout 2s;
            proxy_pass http://$arg_n:%%PORT_up%%;
            add_header X-Upstream $upstream_addr always;
        }

        location /v6 {
            resolver 127.0.0.1:%%KEY_dns%% valid=1s;
            proxy_pass http://$arg_n:%%PORT_up%%;
            add_header X-Upstream $upstream_addr always;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_up%%;

        location / {
            return 200 "ok $host";
        }
    }
}
EOF
$t->run;
my $up = $t->port('up');

# the journal records of one name, which its counters match (read again
# if a late resend of nginx's came in between)
sub seen {
    my ($name) = @_;
    my (@rec, %by, $c);
    for (1 .. 5) {
        @rec = grep { ($_->{name} // '') eq $name } $dns->journal;
        %by = ();
        $by{ $_->{type} }++ for @rec;
        $c = $dns->control(GET => 'counters')->{queries}{$name} || {};
        last if JSON::PP->new->canonical->encode($c) eq JSON::PP->new->canonical->encode(\%by);
        sleep 0.2;
    }
    is_deeply($c, \%by, "$name: counters match the journal");
    return @rec;
}

$h = $t->http(path => '/v4?n=ok.test', timeout => 20);
is($h->{status}, 200, 'nginx, ipv6=off: resolved, proxied');
is($h->{body}, 'ok ok.test', 'nginx: the upstream answered');
is($h->{headers}{'x-upstream'}, "127.0.0.1:$up", 'nginx: the A answer is the upstream address');
my @rec = seen('ok.test');
ok(@rec && !grep({ $_->{type} ne 'A' || $_->{rcode} ne 'NOERROR'
    || "@{ $_->{answer} }" ne '127.0.0.1' } @rec), 'ipv6=off: A queries only, answered')
    or diag explain \@rec;

$h = $t->http(path => '/v6?n=v6.test', timeout => 20);
is($h->{status}, 200, 'nginx, default ipv6: resolved, proxied');
is($h->{headers}{'x-upstream'}, "127.0.0.1:$up", 'default ipv6: the A answer used');
@rec = seen('v6.test');
my %types = map { ($_->{type} => "$_->{rcode} [@{ $_->{answer} }]") } @rec;
is_deeply(\%types, { A => 'NOERROR [127.0.0.1]', AAAA => 'NOERROR []' },
    'default ipv6: nginx asked A and AAAA, the AAAA answer is empty');

$h = $t->http(path => '/v4?n=nx.test', timeout => 20);
is($h->{status}, 502, 'nginx: NXDOMAIN -> 502');
@rec = seen('nx.test');
ok(@rec && !grep({ $_->{rcode} ne 'NXDOMAIN' } @rec), 'NXDOMAIN: journaled');

$dns->control(POST => 'fault', { kind => 'servfail' });
$h = $t->http(path => '/v4?n=fail.test', timeout => 20);
is($h->{status}, 502, 'nginx: SERVFAIL -> 502');
@rec = seen('fail.test');
ok(@rec && !grep({ $_->{rcode} ne 'SERVFAIL' || $_->{fault} ne 'servfail' } @rec),
    'SERVFAIL: journaled with its fault');

$dns->control(POST => 'fault', { kind => 'timeout' });
$h = $t->http(path => '/v4?n=late.test', timeout => 30);
is($h->{status}, 502, 'nginx: no answer -> 502 after resolver_timeout');
@rec = seen('late.test');
ok(@rec && !grep({ defined $_->{rcode} || $_->{fault} ne 'timeout' } @rec),
    'no answer: journaled, unanswered');
$dns->control(POST => 'fault', { kind => 'none' });

$dns->control(POST => 'names', { map { ("$_.test" => '127.0.0.1') } qw(ok v6 added) });
$h = $t->http(path => '/v4?n=added.test', timeout => 20);
is($h->{status}, 200, 'nginx: a name added at run time resolves');
@rec = seen('added.test');
ok(@rec && $rec[-1]{rcode} eq 'NOERROR', 'the added name: journaled');

like($t->error_log, qr/nx\.test could not be resolved \(3: Host not found\)/,
    'error.log: nginx saw NXDOMAIN');
like($t->error_log, qr/fail\.test could not be resolved \(2: Server failure\)/,
    'error.log: nginx saw SERVFAIL');
like($t->error_log, qr/late\.test could not be resolved \(110: Operation timed out\)/,
    'error.log: nginx timed out');

# ---------------------------------------------------------------- the command line, SIGTERM

my $sim = $t->repo . '/t/sim/dns_sim.py';
for my $bad ([ '--name', 'x.test' ], [ '--name', 'x.test=1.2.3' ], [ '--name', 'a..test=1.2.3.4' ],
    [ '--name', 'x.test=127.0.0.1', '--name', 'X.test.=127.0.0.1' ], [ '--ttl', '-1' ],
    [ '--fault', 'slow' ], [ '--fault', 'timeout:MX' ])
{
    my $out = `/usr/bin/timeout 60 /usr/bin/python3 $sim --dir @{[ $t->prefix ]}/dns-bad --port 0 @$bad 2>&1`;
    is($? >> 8, 2, "refused: @$bad") or diag $out;
}
ok(!-e $t->prefix . '/dns-bad/ready', 'a refused command line never gets ready');

my $dns2 = LFV::Sim->dns($t, name => 'dns2', args => [ '--fault', 'servfail:AAAA',
    '--name', 'two.test=127.0.0.1' ]);
isnt($dns2->{port}, $dns->{port}, 'a second one: its own port');
my $udp2 = IO::Socket::INET->new(Proto => 'udp', PeerAddr => '127.0.0.1',
    PeerPort => $dns2->{port}) or die "udp socket: $!";
($udp, $udp2) = ($udp2, $udp);
is_deeply(addrs(ask(query(id => 501, name => 'two.test'))), [ '127.0.0.1' ], 'dns2: answers');
is(ask(query(id => 502, name => 'two.test', type => 28))->{rcode}, 2, 'dns2: --fault servfail:AAAA');
($udp, $udp2) = ($udp2, $udp);

for my $s ([ dns => $dns ], [ dns2 => $dns2 ]) {
    my ($name, $d) = @$s;
    is($t->kill_spawned($name), 1, "$name: SIGTERM");
    ok(!-e "$d->{dir}/ready", "$name: the ready file removed at exit");
    like(LFV::Test::_slurp($t->prefix . "/$name.log"), qr/^dns_sim: stopped$/m,
        "$name: stopped cleanly");
    unlike(LFV::Test::_slurp($t->prefix . "/$name.log"), qr/Traceback/, "$name: no traceback");
}

$t->done;

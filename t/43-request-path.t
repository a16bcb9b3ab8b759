#!/usr/bin/perl

# The request path under nginx's other mechanisms: error_page back into
# an lfv location, mirror and other subrequests, the headers of the
# client, chunked and slow bodies, Expect: 100-continue, a team name
# that is not UTF-8, errors nginx makes itself, and a location that
# forgets lfv_proxy_params.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $AKID = 'ASIAREQUESTPATH00001';
my $SECRET = 'request-path-secret-000000000000000000001';
my $TOKEN = 'request-path-session-token/' . ('x' x 300) . '==';

my $t = LFV::Test->new;
my $sim = LFV::Sim->lfv($t, keys => { $AKID => { secret => $SECRET, token => $TOKEN } });

# the values of the blocks below are not substituted again
my %v = (mirror_port => $t->port('mirror'), mirror_log => $t->prefix . '/mirror.log',
    ca => $sim->{ca}, params => $t->repo . '/ngx_lfv_module/lfv_proxy_params');

LFV::Conf->start(t => $t, sim => $sim, workers => 1,
    credentials => "static access_key_id=$AKID secret_access_key=$SECRET"
        . " session_token=$TOKEN",
    http => <<"EOF",
    lfv_policy_zone teams:1m;
    lfv_policy known projects=.*;

    # where a location that cannot connect passes to
    upstream dead.invalid {
        server 127.0.0.1:1;
    }

    log_format mirror '\$request_uri auth="\$http_authorization" '
                      'token="\$http_x_amz_security_token" team="\$http_x_team"';

    log_format audit escape=json '{"team":"\$lfv_team","decision":"\$lfv_decision",'
        '"reason":"\$lfv_reason","status":"\$status",'
        '"auth":"\$lfv_authorization","token":"\$lfv_security_token"}';

    server {
        listen 127.0.0.1:$v{mirror_port};
        access_log $v{mirror_log} mirror;
        location / {
            return 200 "mirrored\n";
        }
    }
EOF
    server => <<"EOF",
        access_log %%PREFIX%%/audit.log audit;
        lfv_team \$http_x_team;

        # lfv on with a region of the server: the location's own region
        # is the one signed
        lfv on;
        lfv_region eu-west-1;

        # a mirror of every start: it must get the client's request only
        location = /mirror {
            lfv off;
            internal;
            proxy_pass http://127.0.0.1:$v{mirror_port}\$request_uri;
        }

        # a subrequest into an lfv location is refused
        location /subrequest-target/ {
            lfv on;
            lfv_region us-east-1;
            include $v{params};
            proxy_ssl_trusted_certificate $v{ca};
        }

        location = /lfv-error {
            lfv off;
            return 418 "error page: auth=[\$http_authorization] token=[\$lfv_security_token]\n";
        }

        # a location that forgot lfv_proxy_params (and so signs for nothing)
        location /2020-11-20/projects/forgotten/ {
            lfv on;
            lfv_region us-east-1;
            proxy_pass https://lookoutvision.us-east-1.amazonaws.com;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $v{ca};
        }

        location /2020-11-20/projects/dead/ {
            lfv on;
            lfv_region us-east-1;
            lfv_host dead.invalid;
            include $v{params};
            proxy_ssl_trusted_certificate $v{ca};
        }
EOF
    location => <<"EOF");
            lfv_body_max_size 1k;
            client_max_body_size 1m;
            client_body_buffer_size 128;
            mirror /mirror;
            add_header X-Seen-Team "\$http_x_team" always;
            add_header X-Seen-Auth "\$lfv_authorization" always;
            error_page 400 413 /2020-11-20/projects/p/models/1/start;
            proxy_intercept_errors on;
            error_page 409 = /lfv-error;
EOF

my $URI = '/2020-11-20/projects/p/models/1/start';
my $BODY = '{"MinInferenceUnits":1}';

sub forwarded { scalar(() = $sim->journal) }

sub start {
    my (%o) = @_;
    return $t->http(method => 'POST', path => $o{path} // $URI,
        headers => [ 'Content-Type' => 'application/json',
                     'X-Team' => $o{team} // 'known', @{ $o{headers} || [] } ],
        body => $o{body} // $BODY, timeout => $o{timeout} // 5);
}

sub audit_lines {
    open my $fh, '<', $t->prefix . '/audit.log' or return ();
    return map { decode_json($_) } grep { /\S/ } <$fh>;
}

# a line is written when nginx is done with the connection (after a
# lingering close, say): wait for that many, bounded
sub wait_audit {
    my ($count) = @_;
    my $deadline = time + 10;
    my @a;
    while (1) {
        @a = audit_lines();
        return @a if @a >= $count || time > $deadline;
        sleep 0.05;
    }
}

sub json_ok {
    my ($r) = @_;
    my $j = eval { JSON::PP->new->utf8->decode($r->{body} // '') };
    return $j;
}

# ---------------------------------------------------------------- a start

my $n = forwarded();
my $r = start();
is($r->{status}, 202, 'a start: 202');
is(forwarded(), $n + 1, 'forwarded once');
my ($last) = reverse $sim->journal;
ok($last->{sig_ok}, 'signed correctly') or diag($last->{reason});
is((map { $_->[1] } grep { lc $_->[0] eq 'host' } @{ $last->{headers} })[0],
    'lookoutvision.us-east-1.amazonaws.com',
    "the location's region, not the server's, names the host");
is_deeply([ sort map { lc $_->[0] } @{ $last->{headers} } ],
    [ sort qw(host content-type x-amz-date x-amz-security-token authorization content-length) ],
    'AWS gets the signed set and Content-Length, nothing of the client');

# the client's headers stay the client's

is($r->{headers}{'x-seen-team'}, 'known', '$http_x_team has its value inside the location');
ok(!exists $r->{headers}{'x-seen-auth'}, '$lfv_authorization is empty in add_header');

# the mirror got the client's request, without any signature

my $mirror = $t->wait_file($v{mirror_log}, 5) // '';
like($mirror, qr{^\Q$URI\E auth="-" token="-" team="known"$}m,
    'mirror: the client\'s headers, no Authorization, no session token');
unlike($mirror, qr/\Q$TOKEN\E|AWS4-HMAC/, 'mirror: no secret reaches the mirror');

# a body larger than client_body_buffer_size, sent in two parts: kept in
# memory (nginx would write it to a temporary file), signed as a whole

{
    my $mark = $t->error_log_mark;
    my $body = '{"MinInferenceUnits":1' . (' ' x 300) . '}';
    my $port = $t->port('http');
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or die $!;
    print $s "POST $URI HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        . "X-Team: known\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n"
        . substr($body, 0, 100);
    sleep 0.3;
    print $s substr($body, 100);
    my ($buf, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(5)) {
        last unless sysread($s, $buf, 4096, length $buf);
    }
    close $s;
    like($buf, qr{^HTTP/1\.1 202 }, 'a body in two parts, over client_body_buffer_size: 202');
    ($last) = reverse $sim->journal;
    ok($last->{sig_ok}, 'signed over the whole body') or diag($last->{reason});
    unlike($t->error_log($mark), qr/buffered to a temporary file/, 'no temporary file');
}

# ---------------------------------------------------------------- error_page

my $audited = scalar(() = wait_audit(1));

# chunked, over lfv_body_max_size: refused while it is read, error_page
# leads back into the lfv location, which answers

$n = forwarded();
my $chunk = 'x' x 1500;
my $t0 = time;
$r = $t->http(raw => "POST $URI HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    . "X-Team: known\r\nTransfer-Encoding: chunked\r\n\r\n"
    . sprintf("%x\r\n%s\r\n", length $chunk, $chunk), timeout => 5);
is($r->{status}, 413, 'chunked body over the cap, body still open: 413 at once');
ok(time - $t0 < 4, sprintf('answered while the client still sends (%.1f s)', time - $t0));
is(eval { json_ok($r)->{message} }, 'the request body is larger than lfv_body_max_size',
    '413: the module\'s message');
is($r->{headers}{'x-amzn-errortype'}, 'ValidationException', '413: AWS error type');
is(forwarded(), $n, '413: nothing forwarded');

# malformed chunked framing: nginx's 400, error_page, answered

$r = $t->http(raw => "POST $URI HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    . "X-Team: known\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . "zz\r\n{}\r\n0\r\n\r\n", timeout => 5);
is($r->{status}, 400, 'malformed chunked body: 400, no hang');
is($r->{headers}{'x-amzn-errortype'}, 'ValidationException', '400: AWS error type');
ok(json_ok($r), '400: a JSON body') or diag($r->{body});
is(forwarded(), $n, '400: nothing forwarded');

# the line of the 202 before may be written after $audited was counted
# (on a loaded machine, or under ASan): the refusals are told by decision

my @refused;
my $audit_deadline = time + 10;
while (time < $audit_deadline) {
    my @lines = audit_lines();
    @refused = grep { $_->{decision} eq 'rejected' } @lines[$audited .. $#lines];
    last if @refused >= 2;
    sleep 0.05;
}
is_deeply([ map { "$_->{decision}/$_->{reason}/$_->{status}" } @refused ],
    [ 'rejected/body_too_large/413', 'rejected/http/400' ], 'audit of both');

# no connection is left behind: both answered and closed

my $hexport = sprintf '%04X', $t->port('http');
my $close_wait = () = grep { /^\s*\d+: 0100007F:$hexport \S+ 08 / } do {
    open my $fh, '<', '/proc/net/tcp' or die;
    <$fh>;
};
is($close_wait, 0, 'no connection of nginx in CLOSE_WAIT');

# a forwarded request whose answer an error_page takes over: the page
# sees neither the signature nor the session token

$n = forwarded();
$r = start(path => '/2020-11-20/projects/conflict/models/1/start');
is($r->{status}, 418, 'proxy_intercept_errors and error_page after a forwarded start');
is($r->{body}, "error page: auth=[] token=[]\n", 'the error page sees no signature, no token');
is(forwarded(), $n + 1, 'forwarded once, not again from the error page');

# ---------------------------------------------------------------- subrequests

$n = forwarded();
$r = $t->http(method => 'POST', path => '/subrequest-target/x',
    headers => [ 'Content-Type' => 'application/json' ], body => $BODY);
is($r->{status}, 404, 'a main request in the subrequest-target location: route refused');

# the mirror subrequest of a start goes to /mirror; one into an lfv
# location is refused: point the mirror there
$t->stop(keep_spawned => 1);
{
    my $conf = $t->prefix . '/nginx.conf';
    open my $fh, '<', $conf or die;
    local $/;
    my $c = <$fh>;
    close $fh;
    $c =~ s{mirror /mirror;}{mirror /subrequest-target/m;};
    open $fh, '>', $conf or die;
    print $fh $c;
    close $fh;
}
$t->run;
my $mark = $t->error_log_mark;
$n = forwarded();
$r = start();
is($r->{status}, 202, 'a start with a mirror into an lfv location: 202');
is(forwarded(), $n + 1, 'forwarded once: the mirror subrequest was not');
my $deadline = time + 5;
sleep 0.1 while time < $deadline && $t->error_log($mark) !~ /subrequest/;
like($t->error_log($mark), qr/lfv: subrequest "\/subrequest-target\/m" refused/,
    'the subrequest is refused and logged');

# ---------------------------------------------------------------- Expect

my $port = $t->port('http');
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or die $!;
print $s "POST $URI HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
    . "Expect: 100-continue\r\nContent-Length: 23\r\nConnection: close\r\n\r\n";
my $buf = '';
my $sel = IO::Select->new($s);
while ($sel->can_read(3)) {
    last unless sysread($s, $buf, 4096, length $buf);
}
close $s;
like($buf, qr{^HTTP/1\.1 400 }, 'Expect: 100-continue, refused on its headers: 400 first');
unlike($buf, qr{100 Continue}, 'no 100 Continue before the refusal');

# ---------------------------------------------------------------- UTF-8

$r = start(team => "\xff\xfe\xc3");
is($r->{status}, 403, 'a team name that is not UTF-8: 403');
my $j = json_ok($r);
ok($j, 'the JSON body parses') or diag($r->{body});
like($j->{message} // '', qr/^team "\x{fffd}\x{fffd}\x{fffd}" may not|^no policy allows team/,
    'invalid bytes replaced by U+FFFD') if $j;

# ---------------------------------------------------------------- nginx's own errors

$r = start(path => '/2020-11-20/projects/dead/models/1/start');
is($r->{status}, 502, 'upstream down: 502');
is($r->{headers}{'content-type'}, 'application/json', '502: JSON');
is($r->{headers}{'x-amzn-errortype'}, 'InternalServerException', '502: AWS error type');
is(eval { json_ok($r)->{message} },
    'the proxy could not get an answer from Lookout for Vision', '502: message');

# ---------------------------------------------------------------- forgotten include

$mark = $t->error_log_mark;
$r = start(path => '/2020-11-20/projects/forgotten/models/1/start');
isnt($r->{status}, 202, 'a location without lfv_proxy_params: not accepted upstream');
$deadline = time + 5;
sleep 0.1 while time < $deadline && $t->error_log($mark) !~ /without its signature/;
my $conf_line = do {
    open my $fh, '<', $t->prefix . '/nginx.conf' or die;
    my ($i, $found) = (0, 0);
    while (<$fh>) {
        $i++;
        $found = 1 if m{location /2020-11-20/projects/forgotten/};
        if ($found && /^\s*lfv on;/) { last }
    }
    $i;
};
like($t->error_log($mark),
    qr/\[error\] .*lfv: a signed request went upstream without its signature: the location of "lfv on" in \S+nginx\.conf:$conf_line needs "include lfv_proxy_params;"/,
    'the error log names the location that forgot lfv_proxy_params');

# ---------------------------------------------------------------- the audit log

for my $a (audit_lines()) {
    is($a->{auth} . $a->{token}, '', 'no secret in the audit log: ' . $a->{reason});
}

$t->allow_log(qr/without its signature/);
$t->allow_log(qr/connect\(\) failed/);
$t->done;

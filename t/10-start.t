#!/usr/bin/perl

# StartModel end to end: an unsigned request in, a request signed with
# SigV4 out over verified TLS, checked by botocore in the simulator.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Sim;

my $t = LFV::Test->new;

my $sim = LFV::Sim->lfv($t, keys => {
    AKIDSTATIC0000000001 => { secret => 'static/secret+key/0000000000000000000001' },
});

$t->set(lfv_port => $sim->{port});
$t->set(ca => $sim->{ca});

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    lfv_credentials static access_key_id=AKIDSTATIC0000000001
                    secret_access_key=static/secret+key/0000000000000000000001;

    upstream lookoutvision.us-east-1.amazonaws.com {
        server 127.0.0.1:%%KEY_lfv_port%%;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            lfv on;
            lfv_region us-east-1;

            include %%LFV_PROXY_PARAMS%%;
            proxy_ssl_trusted_certificate %%KEY_ca%%;
        }
    }
}
EOF

$t->run;

my $uri = '/2020-11-20/projects/my-project_1/models/3/start';

sub start {
    my (%o) = @_;
    return $t->http(method => $o{method} || 'POST', path => $o{path} || $uri,
        headers => [ 'Content-Type' => 'application/json',
                     @{ $o{headers} || [] } ],
        body => $o{body} // '{"MinInferenceUnits": 1}');
}

my $r = start();
is($r->{status}, 202, 'start accepted');
is(eval { decode_json($r->{body})->{Status} }, 'STARTING_HOSTING', 'status');
ok($r->{headers}{'x-amzn-requestid'}, 'upstream request id');

my @j = $sim->journal;
is(scalar @j, 1, 'one request upstream');
ok($j[0]{sig_ok}, 'signature accepted by botocore') or diag $j[0]{reason};
is($j[0]{path}, $uri, 'uri forwarded as signed');
is($j[0]{body}, '{"MinInferenceUnits": 1}', 'body forwarded byte for byte');

$r = start(body => "{ \"MinInferenceUnits\" : 2,\n \"MaxInferenceUnits\": 5 }",
    headers => [ 'X-Amzn-Client-Token' => 'token-123',
                 'Authorization' => 'AWS4-HMAC-SHA256 forged',
                 'X-Amz-Date' => '20200101T000000Z',
                 'X-Amz-Security-Token' => 'client-token-value',
                 'X-Amz-Target' => 'x',
                 'Cookie' => 'a=b',
                 'X-Unknown' => 'zzz',
                 'User-Agent' => 'test-agent' ]);
is($r->{status}, 202, 'with max units and client token');

@j = $sim->journal;
ok($j[1]{sig_ok}, 'signature with client token') or diag $j[1]{reason};
is($j[1]{body}, "{ \"MinInferenceUnits\" : 2,\n \"MaxInferenceUnits\": 5 }",
    'body with whitespace forwarded byte for byte');

my %h = map { lc $_->[0] => $_->[1] } @{ $j[1]{headers} };
is($h{'x-amzn-client-token'}, 'token-123', 'client token forwarded');
isnt($h{'x-amz-date'}, '20200101T000000Z', 'client date replaced');
ok(!exists $h{'x-amz-security-token'}, 'client security token stripped');
ok(!exists $h{'x-amz-target'}, 'client x-amz header stripped');
ok(!exists $h{cookie}, 'cookie stripped');
ok(!exists $h{'x-unknown'}, 'unknown header stripped');
ok(!exists $h{'user-agent'}, 'user-agent stripped');
like($h{authorization}, qr/^AWS4-HMAC-SHA256 Credential=AKIDSTATIC0000000001\//,
    'our authorization');
like($h{authorization},
    qr/SignedHeaders=content-type;host;x-amz-date;x-amzn-client-token,/,
    'signed headers');
is($h{host}, 'lookoutvision.us-east-1.amazonaws.com', 'host');

# upstream errors pass through unchanged

$r = start(path => '/2020-11-20/projects/conflict/models/1/start');
is($r->{status}, 409, 'conflict passed through');
is($r->{headers}{'x-amzn-errortype'}, 'ConflictException', 'conflict type');

$r = start(path => '/2020-11-20/projects/missing/models/latest/start');
is($r->{status}, 404, 'not found passed through');
is($r->{headers}{'x-amzn-errortype'}, 'ResourceNotFoundException',
    'not found type');

# chunked request body: signed over the dechunked bytes

$r = $t->http(raw => "POST $uri HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n"
    . "a\r\n{\"MinInfer\r\n"
    . "e\r\nenceUnits\": 4}\r\n0\r\n\r\n");
is($r->{status}, 202, 'chunked body accepted');

# keepalive to upstream: several requests, all signed

for (1 .. 5) {
    $r = start(body => '{"MinInferenceUnits":' . $_ . '}');
}

@j = $sim->journal;
is(scalar @j, 10, 'ten requests upstream');
is(scalar(grep { $_->{sig_ok} } @j), scalar @j, 'every signature accepted');
is($j[4]{body}, '{"MinInferenceUnits": 4}', 'chunked body forwarded');

$t->done;

#!/usr/bin/perl

# Every validation rule on both sides of its boundary: a rejection is
# answered locally in the AWS error shape and nothing goes upstream.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Conf;

my ($t, $sim) = LFV::Conf->start(location => 'lfv_body_max_size 128;');

my $ok_uri = '/2020-11-20/projects/p/models/1/start';
my $forwarded = 0;

# [ name, method, target, headers, body, status (202: forwarded), reason ]

my $p255 = 'a' . ('b' x 254);
my $p256 = 'a' . ('b' x 255);

my @cases = (
    [ 'minimal', 'POST', $ok_uri, [], '{"MinInferenceUnits":1}', 202 ],
    [ 'GET', 'GET', $ok_uri, [], '', 405, 'method' ],
    [ 'PUT', 'PUT', $ok_uri, [], '{"MinInferenceUnits":1}', 405, 'method' ],
    [ 'query', 'POST', "$ok_uri?a=b", [], '{"MinInferenceUnits":1}', 400, 'query' ],
    [ 'empty query', 'POST', "$ok_uri?", [], '{"MinInferenceUnits":1}', 400, 'query' ],
    [ 'percent', 'POST', '/2020-11-20/projects/%70/models/1/start', [],
      '{"MinInferenceUnits":1}', 400, 'percent_encoding' ],
    [ 'dot segment', 'POST', '/2020-11-20/projects/x/../p/models/1/start', [],
      '{"MinInferenceUnits":1}', 400, 'dot_segment' ],
    [ 'double slash', 'POST', '/2020-11-20//projects/p/models/1/start', [],
      '{"MinInferenceUnits":1}', 400, 'double_slash' ],
    [ 'other route', 'POST', '/2020-11-20/projects/p/models/1/stop', [],
      '{"MinInferenceUnits":1}', 404, 'route' ],
    [ 'describe', 'GET', '/2020-11-20/projects/p/models/1', [], '', 404, 'route' ],
    [ 'project 255', 'POST', "/2020-11-20/projects/$p255/models/1/start", [],
      '{"MinInferenceUnits":1}', 202 ],
    [ 'project 256', 'POST', "/2020-11-20/projects/$p256/models/1/start", [],
      '{"MinInferenceUnits":1}', 400, 'project_name' ],
    [ 'project starts with -', 'POST', '/2020-11-20/projects/-p/models/1/start',
      [], '{"MinInferenceUnits":1}', 400, 'project_name' ],
    [ 'project with dot', 'POST', '/2020-11-20/projects/a.b/models/1/start',
      [], '{"MinInferenceUnits":1}', 400, 'project_name' ],
    [ 'project empty', 'POST', '/2020-11-20/projects//models/1/start',
      [], '{"MinInferenceUnits":1}', 400, 'double_slash' ],
    [ 'version latest', 'POST', '/2020-11-20/projects/p/models/latest/start',
      [], '{"MinInferenceUnits":1}', 202 ],
    [ 'version 10 digits', 'POST', '/2020-11-20/projects/p/models/9999999999/start',
      [], '{"MinInferenceUnits":1}', 202 ],
    [ 'version 11 digits', 'POST', '/2020-11-20/projects/p/models/10000000000/start',
      [], '{"MinInferenceUnits":1}', 400, 'model_version' ],
    [ 'version 0', 'POST', '/2020-11-20/projects/p/models/0/start',
      [], '{"MinInferenceUnits":1}', 400, 'model_version' ],
    [ 'version 01', 'POST', '/2020-11-20/projects/p/models/01/start',
      [], '{"MinInferenceUnits":1}', 400, 'model_version' ],
    [ 'version Latest', 'POST', '/2020-11-20/projects/p/models/Latest/start',
      [], '{"MinInferenceUnits":1}', 400, 'model_version' ],

    [ 'content-type with charset', 'POST', $ok_uri,
      [ 'Content-Type' => 'application/json; charset=utf-8' ],
      '{"MinInferenceUnits":1}', 202 ],
    [ 'content-type text/plain', 'POST', $ok_uri,
      [ 'Content-Type' => 'text/plain' ], '{"MinInferenceUnits":1}', 400,
      'content_type' ],
    [ 'content-type jsonx', 'POST', $ok_uri,
      [ 'Content-Type' => 'application/jsonx' ], '{"MinInferenceUnits":1}',
      400, 'content_type' ],
    [ 'content-type amz json', 'POST', $ok_uri,
      [ 'Content-Type' => 'application/x-amz-json-1.1' ],
      '{"MinInferenceUnits":1}', 400, 'content_type' ],

    [ 'token 64', 'POST', $ok_uri, [ 'X-Amzn-Client-Token' => 'a' x 64 ],
      '{"MinInferenceUnits":1}', 202 ],
    [ 'token 65', 'POST', $ok_uri, [ 'X-Amzn-Client-Token' => 'a' x 65 ],
      '{"MinInferenceUnits":1}', 400, 'client_token' ],
    [ 'token 1', 'POST', $ok_uri, [ 'X-Amzn-Client-Token' => 'Z' ],
      '{"MinInferenceUnits":1}', 202 ],
    [ 'token empty', 'POST', $ok_uri, [ 'X-Amzn-Client-Token' => '' ],
      '{"MinInferenceUnits":1}', 400, 'client_token' ],
    [ 'token underscore', 'POST', $ok_uri, [ 'X-Amzn-Client-Token' => 'a_b' ],
      '{"MinInferenceUnits":1}', 400, 'client_token' ],
    [ 'token twice', 'POST', $ok_uri,
      [ 'X-Amzn-Client-Token' => 'a', 'X-Amzn-Client-Token' => 'b' ],
      '{"MinInferenceUnits":1}', 400, 'client_token' ],

    [ 'empty body', 'POST', $ok_uri, [], '', 400, 'body_empty' ],
    [ 'blank body', 'POST', $ok_uri, [], "  \n", 400, 'body_empty' ],
    [ 'array', 'POST', $ok_uri, [], '[1]', 400, 'body_not_object' ],
    [ 'empty object', 'POST', $ok_uri, [], '{}', 400, 'min_units_required' ],
    [ 'max only', 'POST', $ok_uri, [], '{"MaxInferenceUnits":2}', 400,
      'min_units_required' ],
    [ 'min 0', 'POST', $ok_uri, [], '{"MinInferenceUnits":0}', 400, 'min_units' ],
    [ 'min -1', 'POST', $ok_uri, [], '{"MinInferenceUnits":-1}', 400, 'min_units' ],
    [ 'min int32 max', 'POST', $ok_uri, [], '{"MinInferenceUnits":2147483647}', 202 ],
    [ 'min int32 max + 1', 'POST', $ok_uri, [], '{"MinInferenceUnits":2147483648}',
      400, 'int32_range' ],
    [ 'float', 'POST', $ok_uri, [], '{"MinInferenceUnits":1.0}', 400, 'not_integer' ],
    [ 'exponent', 'POST', $ok_uri, [], '{"MinInferenceUnits":1e1}', 400, 'not_integer' ],
    [ 'string', 'POST', $ok_uri, [], '{"MinInferenceUnits":"1"}', 400, 'not_integer' ],
    [ 'null', 'POST', $ok_uri, [], '{"MinInferenceUnits":null}', 400, 'not_integer' ],
    [ 'leading zero', 'POST', $ok_uri, [], '{"MinInferenceUnits":01}', 400,
      'leading_zero' ],
    [ 'max = min', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":3,"MaxInferenceUnits":3}', 202 ],
    [ 'max < min', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":3,"MaxInferenceUnits":2}', 400, 'max_below_min' ],
    [ 'max 0', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1,"MaxInferenceUnits":0}', 400, 'max_units' ],
    [ 'duplicate', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1,"MinInferenceUnits":2}', 400, 'member_duplicate' ],
    [ 'unknown member', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1,"Extra":1}', 400, 'member_unknown' ],
    [ 'client token in body', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1,"ClientToken":"x"}', 400, 'member_unknown' ],
    [ 'escaped name', 'POST', $ok_uri, [], '{"Min\u0049nferenceUnits":1}', 400,
      'member_escaped' ],
    [ 'trailing', 'POST', $ok_uri, [], '{"MinInferenceUnits":1}x', 400,
      'body_trailing' ],
    [ 'two objects', 'POST', $ok_uri, [], '{"MinInferenceUnits":1}{}', 400,
      'body_trailing' ],
    [ 'trailing space', 'POST', $ok_uri, [], "{\"MinInferenceUnits\":1}\n", 202 ],
    [ 'missing comma', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1 "MaxInferenceUnits":2}', 400, 'body_syntax' ],
    [ 'unterminated', 'POST', $ok_uri, [], '{"MinInferenceUnits":1', 400,
      'body_syntax' ],
    [ 'body at cap', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1}' . (' ' x (128 - 23)), 202 ],
    [ 'body over cap', 'POST', $ok_uri, [],
      '{"MinInferenceUnits":1}' . (' ' x (129 - 23)), 413, 'body_too_large' ],
);

for my $c (@cases) {
    my ($name, $method, $target, $headers, $body, $status, $reason) = @$c;

    my @h = @$headers;
    unshift @h, 'Content-Type' => 'application/json'
        unless grep { /^Content-Type$/i } @h;

    my $before = () = $sim->journal;

    my $r = $t->http(method => $method, path => $target, headers => \@h,
        body => $body);

    is($r->{status}, $status, "$name: status");

    my $after = () = $sim->journal;

    if ($status == 202) {
        is($after, $before + 1, "$name: forwarded");
        next;
    }

    is($after, $before, "$name: nothing forwarded");
    is($r->{headers}{'x-amzn-errortype'},
        $status == 404 ? 'UnknownOperationException' : 'ValidationException',
        "$name: error type");
    ok($r->{headers}{'x-amzn-requestid'}, "$name: request id");
    is($r->{headers}{'content-type'}, 'application/json', "$name: json");

    my $j = eval { decode_json($r->{body}) };
    ok($j && $j->{message}, "$name: message") or diag $r->{body};
}

# a chunked body over the cap is refused after reading

my $r = $t->http(raw => "POST $ok_uri HTTP/1.1\r\nHost: x\r\n"
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . "c8\r\n" . ('{' x 200) . "\r\n0\r\n\r\n");
is($r->{status}, 413, 'chunked body over cap');

like($t->error_log, qr/lfv: request rejected: max_below_min/,
    'rejection logged at info');

$t->done;

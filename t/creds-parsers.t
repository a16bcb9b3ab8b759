#!/usr/bin/perl

# The parsers of what the metadata services answer
# (ngx_http_lfv_fetch_response.c, ngx_http_lfv_creds_doc.c,
# ngx_http_lfv_time.c), linked without nginx into t/unit/creds_driver.c:
# the HTTP response, the credentials JSON and RFC 3339 times, every rule
# on both sides of its boundary.  Expected epochs were checked with
# `date -u -d ... +%s`.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use LFV::CredsDriver;
use Digest::SHA qw(sha256_hex);
use Time::Local qw(timegm_modern);

my $d = LFV::CredsDriver->new;

###############################################################################

my $ok_head = "HTTP/1.1 200 OK\r\n";

# [ name, input, expected output line (string or regexp) ]

my @http = (
    [ 'content-length', "${ok_head}Content-Length: 5\r\n\r\nhello",
        'ok status=200 body_len=5 body=hello' ],
    [ 'HTTP/1.0, body to the end',
        "HTTP/1.0 200 OK\r\nServer: EC2ws\r\n\r\n{\"a\":1}",
        'ok status=200 body_len=7 body={"a":1}' ],
    [ 'no header, empty body', "${ok_head}\r\n",
        'ok status=200 body_len=0 body=' ],
    [ 'empty reason', "HTTP/1.1 200 \r\n\r\nx",
        'ok status=200 body_len=1 body=x' ],
    [ 'no reason, no space', "HTTP/1.1 404\r\n\r\nnf",
        'ok status=404 body_len=2 body=nf' ],
    [ 'reason with spaces and obs-text',
        "HTTP/1.1 401 Un auth\x80\xff\r\n\r\n",
        'ok status=401 body_len=0 body=' ],
    [ 'status 100', "HTTP/1.1 100 Continue\r\n\r\n",
        'ok status=100 body_len=0 body=' ],
    [ 'status 599', "HTTP/1.1 599 X\r\n\r\n",
        'ok status=599 body_len=0 body=' ],
    [ 'bare LF', "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
        'ok status=200 body_len=2 body=hi' ],
    [ 'mixed line ends', "${ok_head}A: b\nC: d\r\n\nhi",
        'ok status=200 body_len=2 body=hi' ],
    [ 'bytes past content-length ignored',
        "${ok_head}Content-Length: 2\r\n\r\nhello",
        'ok status=200 body_len=2 body=he' ],
    [ 'content-length 0', "${ok_head}Content-Length: 0\r\n\r\nhello",
        'ok status=200 body_len=0 body=' ],
    [ 'content-length leading zeros',
        "${ok_head}Content-Length: 002\r\n\r\nhello",
        'ok status=200 body_len=2 body=he' ],
    [ 'content-length any case, OWS',
        "${ok_head}content-LENGTH:\t 3 \t\r\n\r\nhello",
        'ok status=200 body_len=3 body=hel' ],
    [ 'content-length twice, same value',
        "${ok_head}Content-Length: 3\r\nContent-Length: 3\r\n\r\nhello",
        'ok status=200 body_len=3 body=hel' ],
    [ 'empty header value', "${ok_head}X-Empty:\r\nX-Sp:  \r\n\r\nb",
        'ok status=200 body_len=1 body=b' ],
    [ 'header name tchars', "${ok_head}!#\$%&'*+-.^_`|~09aZ: v\r\n\r\n",
        'ok status=200 body_len=0 body=' ],
    [ 'body bytes kept as they are', "${ok_head}\r\n\x00\r\n\\",
        'ok status=200 body_len=4 body=\x00\x0d\x0a\x5c' ],

    [ 'empty response', '', 'error: empty response' ],
    [ 'HTTP/2', "HTTP/2 200 OK\r\n\r\n", 'error: invalid status line' ],
    [ 'HTTP/1.2', "HTTP/1.2 200 OK\r\n\r\n", 'error: invalid status line' ],
    [ 'lowercase http', "http/1.1 200 OK\r\n\r\n",
        'error: invalid status line' ],
    [ 'ICY', "ICY 200 OK\r\n\r\n", 'error: invalid status line' ],
    [ 'two-digit status', "HTTP/1.1 20 OK\r\n\r\n",
        'error: invalid status line' ],
    [ 'four-digit status', "HTTP/1.1 2000 OK\r\n\r\n",
        'error: invalid status line' ],
    [ 'status 099', "HTTP/1.1 099 X\r\n\r\n", 'error: invalid status line' ],
    [ 'status 600', "HTTP/1.1 600 X\r\n\r\n", 'error: invalid status line' ],
    [ 'status not digits', "HTTP/1.1 2x0 OK\r\n\r\n",
        'error: invalid status line' ],
    [ 'two spaces before status', "HTTP/1.1  200 OK\r\n\r\n",
        'error: invalid status line' ],
    [ 'control byte in reason', "HTTP/1.1 200 O\x01K\r\n\r\n",
        'error: invalid status line' ],
    [ 'DEL in reason', "HTTP/1.1 200 O\x7fK\r\n\r\n",
        'error: invalid status line' ],
    [ 'bare CR in status line', "HTTP/1.1 200 OK\rX\n\r\n",
        'error: invalid status line' ],
    [ 'status line cut after CR', "HTTP/1.1 200 OK\r",
        'error: invalid status line' ],
    [ 'status line only, no end', "HTTP/1.1 200 OK",
        'error: invalid status line' ],
    [ 'status line truncated', "HTTP/1.1 20", 'error: invalid status line' ],

    [ 'no empty line', $ok_head, 'error: incomplete response header' ],
    [ 'header not ended', "${ok_head}Content-Length: 2\r\n",
        'error: incomplete response header' ],
    [ 'header cut in value', "${ok_head}Content-Length: 2",
        'error: incomplete response header' ],
    [ 'header cut after CR', "${ok_head}A: b\r",
        'error: incomplete response header' ],
    [ 'header cut in name', "${ok_head}Content-Le",
        'error: incomplete response header' ],
    [ 'empty line cut after CR', "${ok_head}\r",
        'error: incomplete response header' ],
    [ 'space in name', "${ok_head}Bad Name: x\r\n\r\n",
        'error: invalid header line' ],
    [ 'space before colon', "${ok_head}Content-Length : 1\r\n\r\nx",
        'error: invalid header line' ],
    [ 'empty name', "${ok_head}: x\r\n\r\n", 'error: invalid header line' ],
    [ 'no colon', "${ok_head}NoColon\r\n\r\n", 'error: invalid header line' ],
    [ 'obs-fold', "${ok_head}A: b\r\n folded\r\n\r\n",
        'error: invalid header line' ],
    [ 'NUL in value', "${ok_head}A: b\x00c\r\n\r\n",
        'error: invalid header line' ],
    [ 'bare CR in value', "${ok_head}A: b\rc\r\n\r\n",
        'error: invalid header line' ],
    [ 'CR CR LF', "${ok_head}A: b\r\r\n\r\n", 'error: invalid header line' ],

    [ 'content-length past the input',
        "${ok_head}Content-Length: 6\r\n\r\nhello",
        'error: truncated response body' ],
    [ 'content-length, no body', "${ok_head}Content-Length: 1\r\n\r\n",
        'error: truncated response body' ],
    [ 'content-length conflict',
        "${ok_head}Content-Length: 3\r\nContent-Length: 4\r\n\r\nhello",
        'error: conflicting Content-Length' ],
    [ 'content-length conflict, zero second',
        "${ok_head}Content-Length: 3\r\ncontent-length: 0\r\n\r\nhello",
        'error: conflicting Content-Length' ],
    (map {
        [ "content-length '$_'", "${ok_head}Content-Length: $_\r\n\r\nhello",
            'error: invalid Content-Length' ]
    } ('', 'abc', '-1', '+5', '5, 5', '5 5', '0x5', '1.0',
       '18446744073709551616', '99999999999999999999999999')),
    [ 'transfer-encoding chunked',
        "${ok_head}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        'error: chunked responses are not supported' ],
    [ 'transfer-encoding any value, any case',
        "${ok_head}transfer-ENCODING: identity\r\n\r\nhello",
        'error: chunked responses are not supported' ],
    [ 'transfer-encoding with content-length',
        "${ok_head}Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello",
        'error: chunked responses are not supported' ],
);

$d->check_all('http', @http);

###############################################################################

my $akid = 'ASIAIOSFODNN7EXAMPLE';
my $secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
my $token = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+x='
    x 20;

sub creds_ok {
    my ($a, $s, $t, $exp) = @_;
    return sprintf 'ok akid=%s secret_len=%d secret_sha256=%s '
        . 'token_len=%d token_sha256=%s expiration=%d',
        $a, length $s, sha256_hex($s), length $t, sha256_hex($t), $exp;
}

sub err { return "error: $_[0] (wiped)" }

# a document around its members: (name => raw JSON value) pairs

sub doc {
    my @m = @_;
    my @out;
    while (my ($k, $v) = splice @m, 0, 2) {
        push @out, "\"$k\":$v";
    }
    return '{' . join(',', @out) . '}';
}

my $base = "\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s\"";
my $min_ok = creds_ok('AKID', 's', '', 0);

my $imds = <<"EOF";
{
  "Code" : "Success",
  "LastUpdated" : "2026-11-26T11:34:56Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "$akid",
  "SecretAccessKey" : "$secret",
  "Token" : "$token",
  "Expiration" : "2026-11-26T12:34:56Z"
}
EOF

my $ecs = '{"RoleArn":"arn:aws:iam::123456789012:role/lfv",'
    . "\"AccessKeyId\":\"$akid\",\"SecretAccessKey\":\"$secret\","
    . "\"Token\":\"$token\",\"Expiration\":\"2026-11-26T12:34:56Z\"}";

my $eks = "{\"AccessKeyId\":\"$akid\",\"SecretAccessKey\":\"$secret\","
    . "\"Token\":\"$token\",\"AccountId\":\"123456789012\","
    . "\"Expiration\":\"2026-11-26T13:34:56.123456+01:00\"}";

my @creds = (
    [ 'IMDS document', $imds,
        creds_ok($akid, $secret, $token, 1795696496) ],
    [ 'IMDS document, CRLF', ($imds =~ s/\n/\r\n/gr),
        creds_ok($akid, $secret, $token, 1795696496) ],
    [ 'ECS document', $ecs, creds_ok($akid, $secret, $token, 1795696496) ],
    [ 'EKS Pod Identity document', $eks,
        creds_ok($akid, $secret, $token, 1795696496) ],
    [ 'minimal', "{$base}", $min_ok ],
    [ 'members in any order', '{"SecretAccessKey":"s","AccessKeyId":"AKID"}',
        $min_ok ],
    [ 'RFC 8259 whitespace everywhere',
        " \t\r\n{ \t\r\n\"AccessKeyId\" \t\r\n: \t\r\n\"AKID\" \t\r\n,"
        . "\"SecretAccessKey\":\"s\" \t\r\n} \t\r\n", $min_ok ],
    [ 'Token null', "{$base,\"Token\":null}", $min_ok ],
    [ 'Token empty', "{$base,\"Token\":\"\"}", $min_ok ],
    [ 'Code Success', "{\"Code\":\"Success\",$base}", $min_ok ],
    [ 'Code escaped', "{\"Code\":\"Succ\\u0065ss\",$base}", $min_ok ],
    [ 'Expiration with fraction and offset',
        "{$base,\"Expiration\":\"2026-11-26T07:04:56.5-05:30\"}",
        creds_ok('AKID', 's', '', 1795696496) ],
    [ 'escapes decoded in the secret',
        '{"AccessKeyId":"AKID",'
        . '"SecretAccessKey":"a\\/b\\\\c\\"d\\u0041\\u007e"}',
        creds_ok('AKID', 'a/b\\c"dA~', '', 0) ],
    [ 'lowercase hex escape in the key id',
        '{"AccessKeyId":"AK\\u004aD","SecretAccessKey":"s"}',
        creds_ok('AKJD', 's', '', 0) ],
    [ 'escaped member name',
        '{"Access\\u004beyId":"AKID","Secret\\u0041ccessKey":"s"}',
        $min_ok ],
    [ 'DEL in an unknown string', "{$base,\"x\":\"a\x7fb\"}", $min_ok ],
    [ 'control escapes in an unknown string',
        "{$base,\"x\":\"\\b\\f\\n\\r\\t\\u0020\"}", $min_ok ],
    [ 'unknown members of every type',
        "{\"n\":0,\"m\":-1.5e+10,\"o\":-0.0E-5,\"p\":1E2,\"q\":123456789,"
        . "\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"a\":[],"
        . "\"deep\":{\"x\":[1,\"y\",{\"z\":[true,false,null,{}]}]},"
        . "\"\":\"empty name\",\"RoleArn\":\"x\",$base}", $min_ok ],
    [ 'unknown member twice', "{\"x\":1,\"x\":2,$base}", $min_ok ],
    [ 'long unknown name',
        '{"' . ('N' x 1000) . "\":1,$base}", $min_ok ],
    [ 'unknown name sharing a prefix', "{\"AccessKeyIdX\":1,$base}",
        $min_ok ],
    [ 'nesting at the limit (8)',
        "{$base,\"x\":" . ('[' x 7) . (']' x 7) . '}', $min_ok ],
    [ 'objects at the limit (8)',
        "{$base,\"x\":" . ('{"a":' x 7) . '1' . ('}' x 7) . '}', $min_ok ],
    [ 'key id of 128', doc(AccessKeyId => '"' . ('A' x 128) . '"',
        SecretAccessKey => '"s"'), creds_ok('A' x 128, 's', '', 0) ],
    [ 'secret of 256', doc(AccessKeyId => '"AKID"',
        SecretAccessKey => '"' . ('~' x 256) . '"'),
        creds_ok('AKID', '~' x 256, '', 0) ],
    [ 'token of 4096', "{$base,\"Token\":\"" . ('T' x 4096) . '"}',
        creds_ok('AKID', 's', 'T' x 4096, 0) ],
    [ 'token of 4096 decoded from 8192 bytes',
        "{$base,\"Token\":\"" . ('\\/' x 4096) . '"}',
        creds_ok('AKID', 's', '/' x 4096, 0) ],
    [ 'Expiration year 9999',
        "{$base,\"Expiration\":\"9999-12-31T23:59:59Z\"}",
        creds_ok('AKID', 's', '', 253402300799) ],

    [ 'empty input', '', err('credentials are not a JSON object') ],
    [ 'spaces only', " \n", err('credentials are not a JSON object') ],
    [ 'array', "[$base]", err('credentials are not a JSON object') ],
    [ 'string', '"AKID"', err('credentials are not a JSON object') ],
    [ 'form feed before', "\x0c{$base}",
        err('credentials are not a JSON object') ],
    [ 'BOM before', "\xef\xbb\xbf{$base}",
        err('credentials are not a JSON object') ],
    [ 'empty object', '{}', err('missing AccessKeyId') ],
    [ 'no key id', '{"SecretAccessKey":"s","Token":"t"}',
        err('missing AccessKeyId') ],
    [ 'no secret', '{"AccessKeyId":"AKID","Token":"t"}',
        err('missing SecretAccessKey') ],
    [ 'only open brace', '{', err('truncated JSON') ],
    [ 'cut after name', '{"AccessKeyId"', err('truncated JSON') ],
    [ 'cut after colon', '{"AccessKeyId":', err('truncated JSON') ],
    [ 'cut in a value', '{"AccessKeyId":"AK', err('truncated JSON') ],
    [ 'cut after a value', "{$base", err('truncated JSON') ],
    [ 'cut after a comma', "{$base,", err('truncated JSON') ],
    [ 'cut in an escape', '{"AccessKeyId":"AK\\', err('truncated JSON') ],
    [ 'cut in \\u', '{"AccessKeyId":"AK\\u004', err('truncated JSON') ],
    [ 'cut in an unknown array', "{$base,\"x\":[1,", err('truncated JSON') ],
    [ 'cut in an unknown number', "{$base,\"x\":-", err('truncated JSON') ],
    [ 'cut in an exponent', "{$base,\"x\":1e", err('truncated JSON') ],
    [ 'trailing comma', "{$base,}", err('invalid JSON') ],
    [ 'leading comma', "{,$base}", err('invalid JSON') ],
    [ 'missing comma', '{"AccessKeyId":"AKID" "SecretAccessKey":"s"}',
        err('invalid JSON') ],
    [ 'missing colon', '{"AccessKeyId" "AKID"}', err('invalid JSON') ],
    [ 'single quotes', "{'AccessKeyId':'AKID'}", err('invalid JSON') ],
    [ 'bare name', '{AccessKeyId:"AKID"}', err('invalid JSON') ],
    [ 'unknown trailing comma in array', "{$base,\"x\":[1,]}",
        err('invalid JSON') ],
    [ 'unknown trailing comma in object', "{$base,\"x\":{\"a\":1,}}",
        err('invalid JSON') ],
    [ 'unknown object with a number name', "{$base,\"x\":{1:1}}",
        err('invalid JSON') ],
    [ 'unknown bad close', "{$base,\"x\":[1}}", err('invalid JSON') ],
    (map {
        [ "unknown value $_", "{$base,\"x\":$_}", err('invalid JSON') ]
    } ('01', '-01', '1.', '.5', '+1', '1e', '1e+', '1.e5', '0x10', '--1',
       'NaN', 'Infinity', '-Infinity', 'tru', 'nul', 'fals', 'True', 'NULL',
       'nulll', 'truefalse', "'x'", 'undefined', '1 2', '"a" "b"')),
    [ 'trailing garbage', "{$base}x", err('trailing data after JSON') ],
    [ 'second object', "{$base} {}", err('trailing data after JSON') ],
    [ 'trailing NUL', "{$base}\x00", err('trailing data after JSON') ],
    [ 'trailing form feed', "{$base}\x0c", err('trailing data after JSON') ],
    [ 'trailing vertical tab', "{$base}\x0b", err('trailing data after JSON') ],
    [ 'NBSP as whitespace', "{\xa0$base}", err('invalid JSON') ],
    [ 'nesting past the limit (9)',
        "{$base,\"x\":" . ('[' x 8) . (']' x 8) . '}',
        err('JSON nested too deeply') ],
    [ 'objects past the limit (9)',
        "{$base,\"x\":" . ('{"a":' x 8) . '1' . ('}' x 8) . '}',
        err('JSON nested too deeply') ],
    [ 'nesting 100000 deep', "{$base,\"x\":" . ('[' x 100000),
        err('JSON nested too deeply') ],

    [ 'raw tab in a string', "{$base,\"x\":\"a\tb\"}",
        err('control character in JSON string') ],
    [ 'raw newline in a name', "{\"a\nb\":1,$base}",
        err('control character in JSON string') ],
    [ 'raw NUL in the secret', "{\"AccessKeyId\":\"AKID\","
        . "\"SecretAccessKey\":\"a\x00b\"}",
        err('control character in JSON string') ],
    [ 'raw UTF-8 in an unknown string', "{$base,\"x\":\"caf\xc3\xa9\"}",
        err('non-ASCII character in JSON string') ],
    [ 'raw UTF-8 in a name', "{\"\xc3\xa9\":1,$base}",
        err('non-ASCII character in JSON string') ],
    (map {
        [ "escape \\$_", "{$base,\"x\":\"\\$_\"}",
            err('invalid escape in JSON string') ]
    } ('x', 'a', 'U0041', "'", '0', 'u00g1', 'u 041', 'u-041')),
    (map {
        [ "escape \\$_", "{$base,\"x\":\"\\$_\"}",
            err('unsupported \\u escape in JSON string') ]
    } ('u0000', 'u001f', 'u000a', 'u007f', 'u0080', 'u00e9', 'u00E9',
       'ud83d', 'ud83d\\ude00', 'uffff', 'u0100')),

    [ 'key id a number', '{"AccessKeyId":123,"SecretAccessKey":"s"}',
        err('AccessKeyId is not a string') ],
    [ 'key id null', '{"AccessKeyId":null,"SecretAccessKey":"s"}',
        err('AccessKeyId is not a string') ],
    [ 'key id an array', '{"AccessKeyId":["AKID"],"SecretAccessKey":"s"}',
        err('AccessKeyId is not a string') ],
    [ 'secret an object', '{"AccessKeyId":"AKID","SecretAccessKey":{}}',
        err('SecretAccessKey is not a string') ],
    [ 'secret null', '{"AccessKeyId":"AKID","SecretAccessKey":null}',
        err('SecretAccessKey is not a string') ],
    [ 'token true', "{$base,\"Token\":true}", err('Token is not a string') ],
    [ 'token a number', "{$base,\"Token\":1}", err('Token is not a string') ],
    [ 'token nul', "{$base,\"Token\":nul}", err('invalid JSON') ],
    [ 'expiration a number', "{$base,\"Expiration\":1795696496}",
        err('Expiration is not a string') ],
    [ 'expiration null', "{$base,\"Expiration\":null}",
        err('Expiration is not a string') ],
    [ 'code null', "{\"Code\":null,$base}", err('Code is not a string') ],
    [ 'code failure', "{\"Code\":\"Failure\",$base}",
        err('Code is not "Success"') ],
    [ 'code lowercase', "{\"Code\":\"success\",$base}",
        err('Code is not "Success"') ],
    [ 'code empty', "{\"Code\":\"\",$base}", err('Code is not "Success"') ],
    [ 'code long', "{\"Code\":\"" . ('S' x 100) . "\",$base}",
        err('Code is not "Success"') ],
    [ 'code after the secret', "{$base,\"Code\":\"AssumeRoleUnauthorized\"}",
        err('Code is not "Success"') ],

    [ 'duplicate key id', "{$base,\"AccessKeyId\":\"AKID\"}",
        err('duplicate AccessKeyId') ],
    [ 'duplicate secret', "{$base,\"SecretAccessKey\":\"s\"}",
        err('duplicate SecretAccessKey') ],
    [ 'duplicate token after null', "{$base,\"Token\":null,\"Token\":\"t\"}",
        err('duplicate Token') ],
    [ 'duplicate expiration',
        "{$base,\"Expiration\":\"2026-11-26T12:34:56Z\","
        . "\"Expiration\":\"2026-11-26T12:34:56Z\"}",
        err('duplicate Expiration') ],
    [ 'duplicate code', "{\"Code\":\"Success\",\"Code\":\"Success\",$base}",
        err('duplicate Code') ],
    [ 'duplicate key id, escaped', "{$base,\"Access\\u004beyId\":\"X\"}",
        err('duplicate AccessKeyId') ],

    [ 'key id empty', '{"AccessKeyId":"","SecretAccessKey":"s"}',
        err('invalid AccessKeyId') ],
    [ 'key id lowercase', '{"AccessKeyId":"akid","SecretAccessKey":"s"}',
        err('invalid AccessKeyId') ],
    [ 'key id dash', '{"AccessKeyId":"AK-ID","SecretAccessKey":"s"}',
        err('invalid AccessKeyId') ],
    [ 'key id space', '{"AccessKeyId":"AK ID","SecretAccessKey":"s"}',
        err('invalid AccessKeyId') ],
    [ 'key id of 129', doc(AccessKeyId => '"' . ('A' x 129) . '"',
        SecretAccessKey => '"s"'), err('AccessKeyId too long') ],
    [ 'secret empty', '{"AccessKeyId":"AKID","SecretAccessKey":""}',
        err('invalid SecretAccessKey') ],
    [ 'secret with a space', '{"AccessKeyId":"AKID","SecretAccessKey":"a b"}',
        err('invalid SecretAccessKey') ],
    [ 'secret with \\u0020',
        '{"AccessKeyId":"AKID","SecretAccessKey":"a\\u0020b"}',
        err('invalid SecretAccessKey') ],
    [ 'secret with \\n', '{"AccessKeyId":"AKID","SecretAccessKey":"a\\nb"}',
        err('invalid SecretAccessKey') ],
    [ 'secret with DEL', "{\"AccessKeyId\":\"AKID\","
        . "\"SecretAccessKey\":\"a\x7fb\"}", err('invalid SecretAccessKey') ],
    [ 'secret of 257', doc(AccessKeyId => '"AKID"',
        SecretAccessKey => '"' . ('s' x 257) . '"'),
        err('SecretAccessKey too long') ],
    [ 'token of 4097', "{$base,\"Token\":\"" . ('T' x 4097) . '"}',
        err('Token too long') ],
    [ 'token of 4097 decoded', "{$base,\"Token\":\"" . ('\\/' x 4097) . '"}',
        err('Token too long') ],
    [ 'token with a tab escape', "{$base,\"Token\":\"a\\tb\"}",
        err('invalid Token') ],
    [ 'token with a space', "{$base,\"Token\":\"a b\"}", err('invalid Token') ],
    [ 'expiration garbage', "{$base,\"Expiration\":\"tomorrow\"}",
        err('invalid Expiration') ],
    [ 'expiration empty', "{$base,\"Expiration\":\"\"}",
        err('invalid Expiration') ],
    [ 'expiration without zone',
        "{$base,\"Expiration\":\"2026-11-26T12:34:56\"}",
        err('invalid Expiration') ],
    [ 'expiration at epoch 0 (means none)',
        "{$base,\"Expiration\":\"1970-01-01T00:00:00Z\"}",
        err('invalid Expiration') ],
    [ 'expiration long', "{$base,\"Expiration\":\"2026-11-26T12:34:56."
        . ('0' x 100) . 'Z"}', err('invalid Expiration') ],

    # a secret already copied when a later byte is wrong is wiped too

    [ 'error after the secret', "{$base,\"Token\":\"t\",\"x\":tru}",
        err('invalid JSON') ],
    [ 'error at the last byte', "{$base,\"Token\":\"$token\"",
        err('truncated JSON') ],
);

$d->check_all('creds', @creds);

###############################################################################

my @time = (
    [ '2026-11-26T12:34:56Z', 1795696496 ],
    [ '2026-11-26t12:34:56z', 1795696496 ],
    [ '2026-11-26T12:34:56+00:00', 1795696496 ],
    [ '2026-11-26T12:34:56-00:00', 1795696496 ],
    [ '2026-11-26T13:34:56+01:00', 1795696496 ],
    [ '2026-11-26T07:04:56-05:30', 1795696496 ],
    [ '2026-11-27T12:33:56+23:59', 1795696496 ],
    [ '2026-11-26T12:34:56.1Z', 1795696496 ],
    [ '2026-11-26T12:34:56.999999999Z', 1795696496 ],
    [ '2026-11-26T12:34:56.000+00:00', 1795696496 ],
    [ '1970-01-01T00:00:00Z', 0 ],
    [ '1970-01-01T01:00:00+01:00', 0 ],
    [ '1970-01-01T00:00:00-00:01', 60 ],
    [ '1999-12-31T23:59:59Z', 946684799 ],
    [ '2000-02-29T12:00:00Z', 951825600 ],
    [ '2024-02-29T00:00:00Z', 1709164800 ],
    [ '2026-12-31T23:59:59Z', 1798761599 ],
    [ '2038-01-19T03:14:08Z', 2147483648 ],
    [ '2100-03-01T00:00:00Z', 4107542400 ],
    [ '2400-02-29T00:00:00Z', 13574563200 ],
    [ '9999-12-31T23:59:59Z', 253402300799 ],
    [ '9999-12-31T23:59:59-23:59', 253402300799 + 86340 ],
    [ '2016-12-31T23:59:60Z', 1483228800 ],

    (map { [ $_, undef ] } (
        '', 'Z', '2026-11-26', '2026-11-26T12:34:56',
        '2026-11-26T12:34:56.Z', '2026-11-26T12:34:56.1234567890Z',
        '2026-11-26T12:34:56ZZ', '2026-11-26T12:34:56Z ',
        ' 2026-11-26T12:34:56Z', '2026-11-26 12:34:56Z',
        '2026-11-26_12:34:56Z', '2026/11/26T12:34:56Z',
        '2026-1-26T12:34:56Z', '26-11-26T12:34:56Z', '+2026-11-26T12:34:56Z',
        '2026-11-26T12:34:5Z', '2026-11-26T12:34Z', '2026-+1-26T12:34:56Z',
        '2026-11-26T12:34:56+01', '2026-11-26T12:34:56+0100',
        '2026-11-26T12:34:56+1:00', '2026-11-26T12:34:56+01:00:00',
        '2026-11-26T12:34:56+24:00', '2026-11-26T12:34:56+01:60',
        '2026-11-26T12:34:56 +01:00', '2026-11-26T12:34:56UTC',
        '2026-11-26T12:34:56GMT', '2026-11-26T12:34:56.5',
        '1969-12-31T23:59:59Z', '0000-01-01T00:00:00Z',
        '1970-01-01T00:00:00+00:01', '1970-01-01T00:59:59+01:00',
        '2026-00-10T00:00:00Z', '2026-13-10T00:00:00Z',
        '2026-01-00T00:00:00Z', '2026-01-32T00:00:00Z',
        '2026-04-31T00:00:00Z', '2026-06-31T00:00:00Z',
        '2026-09-31T00:00:00Z', '2026-11-31T00:00:00Z',
        '2023-02-29T00:00:00Z', '2100-02-29T00:00:00Z',
        '2024-02-30T00:00:00Z', '2026-11-26T24:00:00Z',
        '2026-11-26T12:60:00Z', '2026-11-26T12:34:61Z',
        '2026-11-26T12:34:99Z', "2026-11-26T12:34:56Z\x00",
        "2026-11-26T12:34:56\x00", '２026-11-26T12:34:56Z',
    )),
);

# a case on its own, as when the driver is run by hand

is($d->run('time', '2026-11-26T12:34:56Z'), "epoch=1795696496\n",
    'time: one case per process');

$d->check_all('time',
    map { [ "'$_->[0]'", $_->[0],
            defined $_->[1] ? "epoch=$_->[1]" : 'error' ] } @time);

# every time against Time::Local, days past the month's end included

srand(20261126);

my (@lines, @expect);

for (1 .. 5000) {
    my $y = 1970 + int(rand(8030));
    $y = (1972, 2000, 2100, 2400, 1999)[int(rand(5))] if rand() < 0.2;
    my $mo = 1 + int(rand(12));
    my $d = 1 + int(rand(31));
    my ($h, $mi, $s) = (int(rand(24)), int(rand(60)), int(rand(60)));
    my $oh = rand() < 0.5 ? 0 : int(rand(24));
    my $om = rand() < 0.5 ? 0 : int(rand(60));
    my $sign = rand() < 0.5 ? '+' : '-';
    my $frac = rand() < 0.3 ? '.' . int(rand(10 ** (1 + int(rand(9))))) : '';

    my $zone = ($oh || $om || rand() < 0.5)
        ? sprintf('%s%02d:%02d', $sign, $oh, $om) : 'Z';

    push @lines, sprintf('%04d-%02d-%02dT%02d:%02d:%02d%s%s',
        $y, $mo, $d, $h, $mi, $s, $frac, $zone);

    my $t = eval { timegm_modern($s, $mi, $h, $d, $mo - 1, $y) };
    if (defined $t) {
        $t -= ($sign eq '-' ? -1 : 1) * ($oh * 3600 + $om * 60)
            unless $zone eq 'Z';
        undef $t if $t < 0;
    }
    push @expect, defined $t ? "epoch=$t" : 'error';
}

my @got = split /\n/, $d->run('times', join("\n", @lines));
my @bad = grep { ($got[$_] // '') ne $expect[$_] } 0 .. $#lines;

is(scalar @got, scalar @lines, 'times: one answer per line');
is(scalar @bad, 0, 'times: 5000 random times agree with Time::Local')
    or diag(join "\n", map { "$lines[$_]: got "
        . ($got[$_] // 'nothing') . ", expected $expect[$_]" }
        @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
ok(scalar(grep { $_ eq 'error' } @expect) > 50,
    'times: the random set holds invalid days');

done_testing();


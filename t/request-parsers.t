#!/usr/bin/perl
# The request parsers of ngx_http_lfv_request.c, called directly through
# build/unit/request_driver: each rule of StartModel's input on both
# sides of its boundary.  The expected reasons come from the API rules
# (docs: /work/shared/reference/lookout-for-vision-api.md) and the
# reason names $lfv_reason logs; where a target breaks several rules,
# the checks of the raw target (query, percent-encoding, dot-segments,
# "//") come before the route and the names, as ngx_http_lfv_reason.h
# orders them.
#
# Each case: kind, input, expected "reason" or "ok <results>", where a
# target gives "ok <project> <version>" and a body "ok <min> <max>"
# (-1: not given).

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Spec;
use Fcntl qw(:flock);
use File::Temp qw(tempfile);

my $root = File::Spec->rel2abs("$FindBin::Bin/..");

sub sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

my $P = '/2020-11-20/projects/';
my $S = '/models/1/start';

sub start { my ($project, $version) = @_; "$P$project/models/$version/start" }

my $n255 = 'a' . ('b_-9Z' x 50) . 'cdef';
my $n256 = $n255 . 'x';
my $min = '{"MinInferenceUnits":%s}';
my $minmax = '{"MinInferenceUnits":%s,"MaxInferenceUnits":%s}';

my @cases = (

    # ---- StopModel's body: none, or an object without members

    [stop => '',                                 'ok'],
    [stop => '{}',                               'ok'],
    [stop => " { \t\r\n} \n",                   'ok'],
    [stop => ' ',                                'body_not_object'],
    [stop => '[]',                               'body_not_object'],
    [stop => 'null',                             'body_not_object'],
    [stop => '{',                                'body_syntax'],
    [stop => '{"a":1}',                          'member_unknown'],
    [stop => '{,}',                              'body_syntax'],
    [stop => '{}{}',                             'body_trailing'],
    [stop => '{}x',                              'body_trailing'],

    # ---- projectName: 1..255 of [a-zA-Z0-9][a-zA-Z0-9_-]*

    [target => start('a', 1),                    'ok a 1'],
    [target => start('Z', 1),                    'ok Z 1'],
    [target => start('0', 1),                    'ok 0 1'],
    [target => start('9x', 1),                   'ok 9x 1'],
    [target => start('a_b-C9', 1),               'ok a_b-C9 1'],
    [target => start('a--__', 1),                'ok a--__ 1'],
    [target => start($n255, 'latest'),           "ok $n255 latest"],
    [target => start($n256, 'latest'),           'project_name in start'],
    [target => start('a' x 1000, 1),             'project_name in start'],
    [target => start('_a', 1),                   'project_name in start'],
    [target => start('-a', 1),                   'project_name in start'],
    [target => start('_', 1),                    'project_name in start'],
    [target => start('a.b', 1),                  'project_name in start'],
    [target => start('a.', 1),                   'project_name in start'],
    [target => start('..a', 1),                  'project_name in start'],
    [target => start('a b', 1),                  'project_name in start'],
    [target => start('a~b', 1),                  'project_name in start'],
    [target => start('a+b', 1),                  'project_name in start'],
    [target => start('a:b', 1),                  'project_name in start'],
    [target => start('a@b', 1),                  'project_name in start'],
    [target => start('a=b', 1),                  'project_name in start'],
    [target => start("a\x00b", 1),               'project_name in start'],
    [target => start("a\xc3\xa9", 1),            'project_name in start'],
    [target => start("\xff", 1),                 'project_name in start'],

    # ---- modelVersion: 1..10 of [1-9][0-9]* or "latest"

    [target => start('p', 'latest'),             'ok p latest'],
    [target => start('p', 1),                    'ok p 1'],
    [target => start('p', 9),                    'ok p 9'],
    [target => start('p', 10),                   'ok p 10'],
    [target => start('p', 1000000000),           'ok p 1000000000'],
    [target => start('p', 9999999999),           'ok p 9999999999'],
    [target => start('p', '10000000000'),        'model_version in start'],
    [target => start('p', '99999999999'),        'model_version in start'],
    [target => start('p', 0),                    'model_version in start'],
    [target => start('p', '00'),                 'model_version in start'],
    [target => start('p', '01'),                 'model_version in start'],
    [target => start('p', '0123456789'),         'model_version in start'],
    [target => start('p', '-1'),                 'model_version in start'],
    [target => start('p', '+1'),                 'model_version in start'],
    [target => start('p', '1a'),                 'model_version in start'],
    [target => start('p', 'a1'),                 'model_version in start'],
    [target => start('p', '1 '),                 'model_version in start'],
    [target => start('p', 'LATEST'),             'model_version in start'],
    [target => start('p', 'Latest'),             'model_version in start'],
    [target => start('p', 'latest1'),            'model_version in start'],
    [target => start('p', 'lates'),              'model_version in start'],
    [target => start('p', 'late5t'),             'model_version in start'],

    # ---- the route: only POST .../projects/{p}/models/{v}/start

    [target => '',                               'route'],
    [target => '/',                              'route'],
    [target => '*',                              'route'],
    [target => substr(start('a', 1), 1),         'route'],
    [target => start('a', 1) . '/',              'route'],
    [target => start('a', 1) . 'x',              'route'],
    [target => start('a', 1) . '#x',             'route'],
    [target => start('a', 1) . '/.x',            'route'],
    [target => "${P}a/models/1/",                'route'],
    [target => "${P}a/models/",                  'model_version in describe'],
    [target => "${P}a",                          'route'],
    [target => "${P}a/models/1/stop/",           'route'],
    [target => "${P}a/models/1/stopx",           'route'],
    [target => "${P}a/models/1/start/x",         'route'],
    [target => "${P}a/models/1/Stop",            'route'],
    [target => "${P}a/models/1/stop/../start",   'dot_segment'],
    [target => "${P}a/models/..?maxResults=1",   'dot_segment'],
    [target => "${P}a/models/1/.?x",             'dot_segment'],
    [target => "${P}a/models?x=/../",            'query_parameter in list'],
    [target => "${P}a/models/1/stop%2F..%2Fstart", 'percent_encoding'],

    # ---- the other operations of the hosting cycle

    [target => "${P}a/models/1/stop",            'ok stop a 1'],
    [target => "${P}a/models/latest/stop",       'ok stop a latest'],
    [target => "${P}a/models/01/stop",           'model_version in stop'],
    [target => "${P}a/models/1",                 'ok describe a 1'],
    [target => "${P}a/models/latest",            'ok describe a latest'],
    [target => "${P}a/models/0",                 'model_version in describe'],
    [target => "${P}a/models",                   'ok list a'],
    [target => "${P}_a/models",                  'project_name in list'],
    [target => "${P}a/models/1/stop?x",          'query in stop'],
    [target => "${P}a/models/1?",                'query in describe'],

    # ---- ListModels' query: nextToken and maxResults, each once

    [target => "${P}a/models?",                  'ok list a'],
    [target => "${P}a/models?maxResults=1",      'ok list a max=1'],
    [target => "${P}a/models?maxResults=100",    'ok list a max=100'],
    [target => "${P}a/models?maxResults=101",    'max_results in list'],
    [target => "${P}a/models?maxResults=0",      'max_results in list'],
    [target => "${P}a/models?maxResults=01",     'max_results in list'],
    [target => "${P}a/models?maxResults=-1",     'max_results in list'],
    [target => "${P}a/models?maxResults=",       'max_results in list'],
    [target => "${P}a/models?maxResults=1x",     'max_results in list'],
    [target => "${P}a/models?maxResults=1&maxResults=2", 'query_parameter in list'],
    [target => "${P}a/models?nextToken=abc",     'ok list a token'],
    [target => "${P}a/models?nextToken=a%2Fb%2Bc%3D&maxResults=5",
                                                 'ok list a max=5 token'],
    [target => "${P}a/models?maxResults=5&nextToken=a/b=",
                                                 'ok list a max=5 token'],
    [target => "${P}a/models?nextToken=a+b",     'next_token in list'],
    [target => "${P}a/models?nextToken=a%20b",   'next_token in list'],
    [target => "${P}a/models?nextToken=a%2",     'next_token in list'],
    [target => "${P}a/models?nextToken=a%zz",    'next_token in list'],
    [target => "${P}a/models?nextToken=",        'next_token in list'],
    [target => "${P}a/models?nextToken=" . ('A' x 2048), 'ok list a token'],
    [target => "${P}a/models?nextToken=" . ('A' x 2049), 'next_token in list'],
    [target => "${P}a/models?nextToken=" . ('%41' x 2048), 'ok list a token'],
    [target => "${P}a/models?nextToken=a&nextToken=b", 'query_parameter in list'],
    [target => "${P}a/models?NextToken=a",       'query_parameter in list'],
    [target => "${P}a/models?x=1",               'query_parameter in list'],
    [target => "${P}a/models?maxResults",        'query_parameter in list'],
    [target => "${P}a/models?maxResults=1&",     'query_parameter in list'],
    [target => "${P}a/models?&maxResults=1",     'query_parameter in list'],
    [target => "${P}a/models?=1",                'query_parameter in list'],
    [target => "${P}a/models?max%52esults=1",    'query_parameter in list'],
    [target => $P,                               'project_name'],
    [target => "${P}a/model/1/start",            'route'],
    [target => "${P}a/Models/1/start",           'route'],
    [target => "${P}a/models/1/Start",           'route'],
    [target => "/2020-11-21/projects/a$S",       'route'],
    [target => "/2020-11-20/Projects/a$S",       'route'],
    [target => "/2020-11-20/project/a$S",        'route'],
    [target => "/v1${P}a$S",                     'route'],
    [target => "http://h${P}a$S",                'double_slash'],

    # ---- query string: refused, even empty, but on ListModels

    [target => start('a', 1) . '?',              'query in start'],
    [target => start('a', 1) . '?x=1',           'query in start'],
    [target => "${P}a?$S",                       'route'],
    [target => "${P}_a$S?x",                     'project_name in start'],
    [target => start('a', 1) . '?%zz',           'query in start'],

    # ---- percent-encoding: refused wherever it is

    [target => "${P}a%62$S",                     'percent_encoding'],
    [target => "${P}a%2F$S",                     'percent_encoding'],
    [target => "${P}a%2e$S",                     'percent_encoding'],
    [target => "%2F2020-11-20/projects/a$S",     'percent_encoding'],
    [target => start('a', 1) . '%',              'percent_encoding'],
    [target => "${P}_%41$S",                     'percent_encoding'],

    # ---- dot-segments: "." or ".." as a whole segment

    [target => "${P}./a$S",                      'dot_segment'],
    [target => "${P}../a$S",                     'dot_segment'],
    [target => "${P}a/../a$S",                   'dot_segment'],
    [target => "${P}a/./models/1/start",         'dot_segment'],
    [target => start('a', 1) . '/.',             'dot_segment'],
    [target => start('a', 1) . '/..',            'dot_segment'],
    [target => start('a', 1) . '/../start',      'dot_segment'],
    [target => "/./2020-11-20/projects/a$S",     'dot_segment'],
    [target => '/.',                             'dot_segment'],
    [target => '/..',                            'dot_segment'],
    [target => "${P}.../a$S",                    'project_name'],
    [target => "${P}.a$S",                       'project_name in start'],

    # ---- "//": refused anywhere

    [target => "/${P}a$S",                       'double_slash'],
    [target => "${P}/a$S",                       'double_slash'],
    [target => "${P}a//models/1/start",          'double_slash'],
    [target => "${P}a/models//start",            'double_slash'],
    [target => start('a', 1) . '//',             'double_slash'],
    [target => '//',                             'double_slash'],

    # ---- body: a JSON object, MinInferenceUnits required >= 1,
    #      MaxInferenceUnits optional >= 1 and not below Min, int32

    [body => '',                                 'body_empty'],
    [body => " \t\r\n ",                         'body_empty'],
    [body => '[]',                               'body_not_object'],
    [body => '[{"MinInferenceUnits":1}]',        'body_not_object'],
    [body => '1',                                'body_not_object'],
    [body => '"x"',                              'body_not_object'],
    [body => 'null',                             'body_not_object'],
    [body => 'true',                             'body_not_object'],
    [body => "\x00",                             'body_not_object'],
    [body => "\f{}",                             'body_not_object'],
    [body => '{}',                               'min_units_required'],
    [body => " \n{ \t}\r\n",                     'min_units_required'],
    [body => sprintf($min, 1),                   'ok 1 -1'],
    [body => sprintf($min, 2),                   'ok 2 -1'],
    [body => sprintf($min, 10),                  'ok 10 -1'],
    [body => " \n{ \"MinInferenceUnits\" \t:\r\n 3 \n} \n\t",
                                                 'ok 3 -1'],
    [body => sprintf($min, 2147483647),          'ok 2147483647 -1'],
    [body => sprintf($min, 2147483648),          'int32_range'],
    [body => sprintf($min, 4294967297),          'int32_range'],
    [body => sprintf($min, '9' x 40),            'int32_range'],
    [body => sprintf($min, 0),                   'min_units'],
    [body => sprintf($min, '-0'),                'min_units'],
    [body => sprintf($min, -1),                  'min_units'],
    [body => sprintf($min, -2147483648),         'min_units'],
    [body => sprintf($min, -2147483649),         'int32_range'],

    # fraction, exponent, leading zeros, not a number

    [body => sprintf($min, '1.0'),               'not_integer'],
    [body => sprintf($min, '1.5'),               'not_integer'],
    [body => sprintf($min, '0.5'),               'not_integer'],
    [body => sprintf($min, '1e0'),               'not_integer'],
    [body => sprintf($min, '1E2'),               'not_integer'],
    [body => sprintf($min, '1e+2'),              'not_integer'],
    [body => sprintf($min, '-1.5'),              'not_integer'],
    [body => sprintf($min, '01'),                'leading_zero'],
    [body => sprintf($min, '00'),                'leading_zero'],
    [body => sprintf($min, '007'),               'leading_zero'],
    [body => sprintf($min, '-01'),               'leading_zero'],
    [body => sprintf($min, '+1'),                'body_syntax'],
    [body => sprintf($min, '"1"'),               'not_integer'],
    [body => sprintf($min, 'null'),              'not_integer'],
    [body => sprintf($min, 'true'),              'not_integer'],
    [body => sprintf($min, 'false'),             'not_integer'],
    [body => sprintf($min, '[1]'),               'not_integer'],
    [body => sprintf($min, '{"a":1}'),           'not_integer'],
    [body => sprintf($min, '{}'),                'not_integer'],
    [body => sprintf($min, 'Infinity'),          'body_syntax'],
    [body => sprintf($min, 'NaN'),               'body_syntax'],
    [body => sprintf($min, '1x'),                'body_syntax'],
    [body => sprintf($min, '1 2'),               'body_syntax'],

    # MaxInferenceUnits

    [body => sprintf($minmax, 1, 1),             'ok 1 1'],
    [body => sprintf($minmax, 1, 2),             'ok 1 2'],
    [body => sprintf($minmax, 5, 5),             'ok 5 5'],
    [body => sprintf($minmax, 1, 2147483647),    'ok 1 2147483647'],
    [body => sprintf($minmax, 2147483647, 2147483647),
                                                 'ok 2147483647 2147483647'],
    [body => '{"MaxInferenceUnits":5,"MinInferenceUnits":2}',
                                                 'ok 2 5'],
    [body => sprintf($minmax, 3, 2),             'max_below_min'],
    [body => sprintf($minmax, 2147483647, 1),    'max_below_min'],
    [body => '{"MaxInferenceUnits":1,"MinInferenceUnits":2}',
                                                 'max_below_min'],
    [body => '{"MaxInferenceUnits":2}',          'min_units_required'],
    [body => sprintf($minmax, 1, 0),             'max_units'],
    [body => sprintf($minmax, 1, '-0'),          'max_units'],
    [body => sprintf($minmax, 1, -1),            'max_units'],
    [body => sprintf($minmax, 1, 2147483648),    'int32_range'],
    [body => sprintf($minmax, 1, '1.0'),         'not_integer'],
    [body => sprintf($minmax, 1, '01'),          'leading_zero'],
    [body => sprintf($minmax, 1, 'null'),        'not_integer'],
    [body => sprintf($minmax, 1, '"2"'),         'not_integer'],

    # members: duplicates, unknown, escaped names

    [body => '{"MinInferenceUnits":1,"MinInferenceUnits":1}',
                                                 'member_duplicate'],
    [body => '{"MinInferenceUnits":1,"MinInferenceUnits":2}',
                                                 'member_duplicate'],
    [body => sprintf($minmax, 1, 2) =~ s/}$/,"MaxInferenceUnits":2}/r,
                                                 'member_duplicate'],
    [body => '{"MinInferenceUnits":1,"Foo":1}',  'member_unknown'],
    [body => '{"Foo":1,"MinInferenceUnits":1}',  'member_unknown'],
    [body => '{"minInferenceUnits":1}',          'member_unknown'],
    [body => '{"MININFERENCEUNITS":1}',          'member_unknown'],
    [body => '{"MinInferenceUnits ":1}',         'member_unknown'],
    [body => '{" MinInferenceUnits":1}',         'member_unknown'],
    [body => '{"MinInferenceUnit":1}',           'member_unknown'],
    [body => '{"":1}',                           'member_unknown'],
    [body => "{\"M\xc3\xadnInferenceUnits\":1}", 'member_unknown'],
    [body => '{"ClientToken":"x","MinInferenceUnits":1}',
                                                 'member_unknown'],
    [body => '{"a":{"MinInferenceUnits":1}}',    'member_unknown'],
    [body => '{"Min\u0049nferenceUnits":1}',     'member_escaped'],
    [body => '{"MinInferenceUnits\"":1}',        'member_escaped'],
    [body => '{"\\\\":1}',                       'member_escaped'],

    # trailing bytes after the object

    [body => sprintf($min, 1) . " \r\n\t",       'ok 1 -1'],
    [body => sprintf($min, 1) . 'x',             'body_trailing'],
    [body => sprintf($min, 1) . '{}',            'body_trailing'],
    [body => sprintf($min, 1) . ' ,',            'body_trailing'],
    [body => sprintf($min, 1) . "\x00",          'body_trailing'],
    [body => '{}x',                              'body_trailing'],

    # JSON syntax

    [body => '{',                                'body_syntax'],
    [body => ' { ',                              'body_syntax'],
    [body => '{"MinInferenceUnits":1',           'body_syntax'],
    [body => '{"MinInferenceUnits":1,',          'body_syntax'],
    [body => '{"MinInferenceUnits":1,}',         'body_syntax'],
    [body => '{,"MinInferenceUnits":1}',         'body_syntax'],
    [body => '{"MinInferenceUnits" 1}',          'body_syntax'],
    [body => '{"MinInferenceUnits"=1}',          'body_syntax'],
    [body => '{"MinInferenceUnits":1;}',         'body_syntax'],
    [body => '{"MinInferenceUnits":1 "MaxInferenceUnits":2}',
                                                 'body_syntax'],
    [body => '{MinInferenceUnits:1}',            'body_syntax'],
    [body => "{'MinInferenceUnits':1}",          'body_syntax'],
    [body => '{"MinInferenceUnits',              'body_syntax'],
    [body => "{\"Min\nInferenceUnits\":1}",      'body_syntax'],
    [body => "{\"Min\x00\":1}",                  'body_syntax'],
    [body => "{\"MinInferenceUnits\":1\x0b}",    'body_syntax'],

    # a value that is not JSON at all is a syntax error, not a type error

    [body => '{"MinInferenceUnits":}',           'body_syntax'],
    [body => '{"MinInferenceUnits":-}',          'body_syntax'],
    [body => sprintf($min, '1.'),                'body_syntax'],
    [body => sprintf($min, '1e'),                'body_syntax'],
    [body => sprintf($min, '0x10'),              'body_syntax'],
    [body => sprintf($min, '-1x'),               'body_syntax'],
    [body => sprintf($min, '0 1'),               'body_syntax'],
    [body => sprintf($min, '2147483648x'),       'body_syntax'],

    # ---- X-Amzn-Client-Token: 1..64 of [a-zA-Z0-9-]

    [token => '',                                'client_token'],
    [token => 'a',                               'ok'],
    [token => '-',                               'ok'],
    [token => 'x' x 63,                          'ok'],
    [token => 'x' x 64,                          'ok'],
    [token => 'x' x 65,                          'client_token'],
    [token => 'x' x 1000,                        'client_token'],
    [token => 'abc-DEF-0123456789',              'ok'],
    [token => '123e4567-e89b-12d3-a456-426614174000', 'ok'],
    [token => 'a_b',                             'client_token'],
    [token => 'a b',                             'client_token'],
    [token => 'a.b',                             'client_token'],
    [token => 'a=b',                             'client_token'],
    [token => 'a/b',                             'client_token'],
    [token => 'a+b',                             'client_token'],
    [token => "a\tb",                            'client_token'],
    [token => "a\x00",                           'client_token'],
    [token => "\xc3\xa9",                        'client_token'],
    [token => ('x' x 63) . '_',                  'client_token'],

    # ---- Content-Type: application/json, any case, parameters allowed

    [ctype => 'application/json',                'ok'],
    [ctype => 'APPLICATION/JSON',                'ok'],
    [ctype => 'Application/Json',                'ok'],
    [ctype => 'application/json; charset=utf-8', 'ok'],
    [ctype => 'application/json;charset=UTF-8',  'ok'],
    [ctype => 'application/json ; charset=utf-8', 'ok'],
    [ctype => 'application/json;',               'ok'],
    [ctype => "application/json \t",             'ok'],
    [ctype => '',                                'content_type'],
    [ctype => 'application/',                    'content_type'],
    [ctype => 'application/jso',                 'content_type'],
    [ctype => 'application/jsonx',               'content_type'],
    [ctype => 'application/json-seq',            'content_type'],
    [ctype => 'application/json+x',              'content_type'],
    [ctype => 'application/json,text/plain',     'content_type'],
    [ctype => 'application/json x',              'content_type'],
    [ctype => 'application /json',               'content_type'],
    [ctype => 'application/x-amz-json-1.1',      'content_type'],
    [ctype => 'application/merge-patch+json',    'content_type'],
    [ctype => 'text/json',                       'content_type'],
    [ctype => 'text/plain',                      'content_type'],
    [ctype => 'json',                            'content_type'],
    [ctype => "application/json\x00",            'content_type'],
);

# no skipping: a driver that does not build is a failure; the lock
# keeps test files run in parallel from building into build/unit at once

open my $lock, '<', "$root/t/unit/Makefile" or die "t/unit/Makefile: $!";
flock($lock, LOCK_EX) or die "flock: $!";
my $out = qx{make -s -C @{[ sh_quote($root) ]} unit 2>&1};
is($?, 0, 'make unit builds the drivers') or diag($out);
close $lock;

my $driver = "$root/build/unit/request_driver";
ok(-x $driver, 'build/unit/request_driver exists') or do {
    done_testing();
    exit;
};

my ($fh, $input) = tempfile(UNLINK => 1);
print $fh "$_->[0]\t" . unpack('H*', $_->[1]) . "\n" for @cases;
close $fh;

my @out = split /\n/, qx{@{[ sh_quote($driver) ]} < @{[ sh_quote($input) ]}};
is($?, 0, 'request_driver ran');
is(scalar @out, scalar @cases, scalar(@cases) . ' cases answered');

for my $i (0 .. $#cases) {
    my ($kind, $in, $expect, $todo) = @{ $cases[$i] };
    my (undef, @got) = split /\t/, $out[$i] // '';

    my $shown = length $in > 60 ? substr($in, 0, 40) . '...(' . length($in)
        . ' bytes)' : $in;
    $shown =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;

    TODO: {
        local $TODO = $todo;
        is("@got", $expect, "$kind '$shown'");
    }
}

done_testing();

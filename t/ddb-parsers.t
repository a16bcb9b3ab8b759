#!/usr/bin/perl

# DynamoDB's JSON 1.0 bodies (ngx_http_lfv_ddb_doc.c), through
# build/unit/ddb_driver: the answers of GetItem, PutItem, UpdateItem,
# DeleteItem and Query and the error answers, valid ones of every shape
# (escapes, surrogate pairs, raw UTF-8, every bound reached), every rule
# broken once on both sides of its bound, unknown members skipped,
# nesting over the limit, every prefix of a valid answer refused; then
# the writer: each request written, read back with JSON::PP and compared
# to the structure it must be, every string escaped, each rule broken
# refused.  t/19-ddb-doc.t sends what the writer writes to dynalite.
#
# Each parse case: name, driver mode, answer, the driver's output: the
# attributes one a line ("S NAME VALUE", "N NAME VALUE", strings with
# bytes outside 0x21..0x7e and "\" as \xHH), then "ok ...", or only
# "error: <why>".

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Spec;
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use JSON::PP;

my $root = File::Spec->rel2abs("$FindBin::Bin/..");

sub sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

###############################################################################

my $ascii = JSON::PP->new->ascii->allow_nonref;

sub esc {
    my ($s) = @_;
    $s =~ s/([^\x21-\x5b\x5d-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

# a JSON string of a UTF-8 byte string, ASCII only

sub js {
    my ($s) = @_;
    utf8::decode($s);
    return $ascii->encode($s);
}

# an attribute: [ S|N, name, value ]; items as JSON and as printed

sub S { return [ 'S', @_ ] }
sub N { return [ 'N', @_ ] }

sub item {
    return '{' . join(',', map {
        js($_->[1]) . ':{"' . $_->[0] . '":' . js($_->[2]) . '}'
    } @_) . '}';
}

sub lines {
    return map {
        "$_->[0] " . esc($_->[1]) . ' '
            . ($_->[0] eq 'S' ? esc($_->[2]) : $_->[2])
    } @_;
}

sub item_ok { return join "\n", lines(@_), 'ok item ' . scalar @_ }

sub err { return "error: $_[0]" }

# a GetItem answer of one raw attribute value, and of a raw item

sub get1 { return '{"Item":{"a":' . $_[0] . '}}' }
sub gets { return '{"Item":{"a":{"S":' . $_[0] . '}}}' }
sub getn { return '{"Item":{"a":{"N":"' . $_[0] . '"}}}' }

my $key = [ S('pk', 'team#a'), S('sk', 'state') ];
my $dyn_item = '{"Item":{"pk":{"S":"team#a"},"sk":{"S":"state"},'
    . '"n":{"N":"0"},"ver":{"N":"1"},"expires":{"N":"1767225600"},'
    . '"who":{"S":"alice"}}}';
my @dyn_attrs = (@$key, N('n', 0), N('ver', 1), N('expires', 1767225600),
    S('who', 'alice'));

my $i64max = '9223372036854775807';
my $i64min = '-9223372036854775808';

my @names64 = ('a' x 64, 'Z' x 63 . '9', '_' x 64);
my @sixteen = map { N("a$_", $_) } 1 .. 16;

my @cases;

###############################################################################

# GetItem: valid

push @cases,
    [ 'empty answer: no item', get => '{}', 'ok no item' ],
    [ 'empty answer with whitespace', get => " \t\r\n{ \t\r\n}\n ",
        'ok no item' ],
    [ 'an empty item', get => '{"Item":{}}', 'ok item 0' ],
    [ "dynalite's answer", get => $dyn_item, item_ok(@dyn_attrs) ],
    [ 'with ConsumedCapacity (skipped)', get => '{"Item":' . item(@$key)
        . ',"ConsumedCapacity":{"CapacityUnits":0.5,"TableName":"t",'
        . '"Table":{"CapacityUnits":0.5}}}', item_ok(@$key) ],
    [ 'ConsumedCapacity first', get => '{"ConsumedCapacity":'
        . '{"CapacityUnits":1.0E0},"Item":' . item(@$key) . '}',
        item_ok(@$key) ],
    [ 'ConsumedCapacity without an item', get =>
        '{"ConsumedCapacity":{"CapacityUnits":0.5,"TableName":"t"}}',
        'ok no item' ],
    [ 'unknown members of every JSON type skipped', get => '{"a":"x\u00e9",'
        . '"b":-1.5e+3,"c":true,"d":false,"e":null,"f":[],"g":{},'
        . '"h":[1,"2",[3],{"4":[5]}],"Item":' . item(@$key)
        . ',"i":{"j":{"k":{"l":0}}}}', item_ok(@$key) ],
    [ 'Attributes is not an answer of GetItem (skipped)', get =>
        '{"Attributes":' . item(@$key) . '}', 'ok no item' ],
    [ 'whitespace everywhere', get => "{ \"Item\" :\n{ \"pk\" : { \"S\" :"
        . " \"a\" } ,\t\"n\":{\"N\" :\"1\"}\r}\n}",
        item_ok(S('pk', 'a'), N('n', 1)) ],
    [ 'member names with escapes', get =>
        '{"\u0049tem":{"\u0070k":{"\u0053":"a"},"n":{"\u004e":"1"}}}',
        item_ok(S('pk', 'a'), N('n', 1)) ],
    [ 'S empty', get => gets('""'), item_ok(S('a', '')) ],
    [ 'S simple escapes', get => gets('"\"\\\\\/\b\f\n\r\t"'),
        item_ok(S('a', "\"\\/\b\f\n\r\t")) ],
    [ 'S \u of ASCII, lower and upper case hex', get =>
        gets('"\u0041\u007a\u007E\u0020"'), item_ok(S('a', 'Az~ ')) ],
    [ 'S \u0000 and controls', get => gets('"\u0000\u0001\u001f\u007f"'),
        item_ok(S('a', "\x00\x01\x1f\x7f")) ],
    [ 'S \u of 2 and 3 bytes', get => gets('"\u00e9\u00E9\u07ff\u0800'
        . '\u20ac\ufffd\uffff"'), item_ok(S('a', "\xc3\xa9\xc3\xa9\xdf\xbf"
        . "\xe0\xa0\x80\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbf")) ],
    [ 'S surrogate pairs', get => gets('"\ud83d\ude00\uD800\uDC00'
        . '\udbff\udfff"'), item_ok(S('a', "\xf0\x9f\x98\x80\xf0\x90\x80"
        . "\x80\xf4\x8f\xbf\xbf")) ],
    [ 'S raw UTF-8 of 2, 3 and 4 bytes', get =>
        gets("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"
        . "\xed\x9f\xbf\xee\x80\x80\""), item_ok(S('a', "\xc3\xa9\xe2\x82"
        . "\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80")) ],
    [ 'S raw DEL, U+2028 (as JSON.stringify writes them)', get =>
        gets("\"\x7f\xe2\x80\xa8\""), item_ok(S('a', "\x7f\xe2\x80\xa8")) ],
    [ 'S of 1024 bytes', get => gets('"' . 'x' x 1024 . '"'),
        item_ok(S('a', 'x' x 1024)) ],
    [ 'S of 1024 bytes of 4-byte UTF-8', get =>
        gets('"' . "\xf0\x9f\x98\x80" x 256 . '"'),
        item_ok(S('a', "\xf0\x9f\x98\x80" x 256)) ],
    [ 'S of 1024 bytes, 6144 of escapes', get =>
        gets('"' . '\u0041' x 1024 . '"'), item_ok(S('a', 'A' x 1024)) ],
    [ 'S of 1024 bytes, surrogate pairs', get =>
        gets('"' . '\ud83d\ude00' x 256 . '"'),
        item_ok(S('a', "\xf0\x9f\x98\x80" x 256)) ],
    [ 'S of JSON text', get => gets(js('{"S":"x"}')),
        item_ok(S('a', '{"S":"x"}')) ],
    (map { [ "name of 64: $_", get => '{"Item":' . item(S($_, 'v')) . '}',
        item_ok(S($_, 'v')) ] } @names64),
    [ 'names of one byte', get => '{"Item":' . item(S('a', 1), S('Z', 2),
        S('0', 3), S('_', 4)) . '}',
        item_ok(S('a', 1), S('Z', 2), S('0', 3), S('_', 4)) ],
    [ 'names differ in case', get => '{"Item":' . item(S('a', 1),
        S('A', 2)) . '}', item_ok(S('a', 1), S('A', 2)) ],
    [ '16 attributes', get => '{"Item":' . item(@sixteen) . '}',
        item_ok(@sixteen) ],
    [ 'N 0, 1, -1, 10', get => '{"Item":' . item(N('a', 0), N('b', 1),
        N('c', -1), N('d', 10)) . '}',
        item_ok(N('a', 0), N('b', 1), N('c', -1), N('d', 10)) ],
    [ 'N int64 max and min', get => '{"Item":' . item(N('a', $i64max),
        N('b', $i64min)) . '}', item_ok(N('a', $i64max), N('b', $i64min)) ],
    [ 'N written with escapes', get => getn('\u0034\u0032'),
        item_ok(N('a', 42)) ],
    [ 'an item of S and N mixed', get => '{"Item":' . item(N('n', 5),
        @$key, S('who', "caf\xc3\xa9")) . '}',
        item_ok(N('n', 5), @$key, S('who', "caf\xc3\xa9")) ],
    [ 'nesting: a skipped member 7 levels below (8 in all)', get =>
        '{"x":' . '[' x 6 . '{"y":1}' . ']' x 6 . '}', 'ok no item' ],
    [ 'a skipped string: raw bytes not checked as UTF-8', get =>
        "{\"x\":\"\xff\xfe\"}", 'ok no item' ];

# PutItem, UpdateItem, DeleteItem: Attributes

for my $op (qw(put update delete)) {
    push @cases,
        [ "$op: {}", $op => '{}', 'ok no item' ],
        [ "$op: Attributes", $op => '{"Attributes":' . item(@dyn_attrs)
            . '}', item_ok(@dyn_attrs) ],
        [ "$op: Attributes with ConsumedCapacity and "
            . 'ItemCollectionMetrics', $op => '{"Attributes":'
            . item(N('n', 3)) . ',"ConsumedCapacity":{"CapacityUnits":1,'
            . '"TableName":"t"},"ItemCollectionMetrics":{"ItemCollectionKey":'
            . '{"pk":{"S":"a"}},"SizeEstimateRangeGB":[0,1]}}',
            item_ok(N('n', 3)) ],
        [ "$op: Item is not its answer (skipped)", $op => '{"Item":'
            . item(@$key) . '}', 'ok no item' ],
        [ "$op: Attributes twice", $op => '{"Attributes":{},"Attributes":{}}',
            err('Attributes given twice') ],
        [ "$op: Attributes of type M", $op =>
            '{"Attributes":{"a":{"M":{}}}}', err('an attribute of type M') ];
}

push @cases,
    [ 'an operation without an item: Query', query_op => '{}',
        err('an operation whose answer has no item') ];

###############################################################################

# GetItem: refused

push @cases,
    [ 'no input', get => '', err('the answer is empty') ],
    [ 'whitespace only', get => " \n\t\r", err('the answer is empty') ],
    [ 'an array', get => '[]', err('the answer is not a JSON object') ],
    [ 'null', get => 'null', err('the answer is not a JSON object') ],
    [ 'a string', get => '"{}"', err('the answer is not a JSON object') ],
    [ 'HTML', get => '<html>500</html>',
        err('the answer is not a JSON object') ],
    [ 'a byte order mark', get => "\xef\xbb\xbf{}",
        err('the answer is not a JSON object') ],
    [ 'a form feed as whitespace', get => "\f{}",
        err('the answer is not a JSON object') ],
    [ 'data after the object', get => '{}x',
        err('data after the JSON object') ],
    [ 'two objects', get => '{}{}', err('data after the JSON object') ],
    [ 'a comma after the object', get => '{},',
        err('data after the JSON object') ],
    [ 'NUL after the object', get => "{}\x00",
        err('data after the JSON object') ],
    [ 'an open object', get => '{', err('truncated JSON') ],
    [ 'an open item', get => '{"Item":{}', err('truncated JSON') ],
    [ 'a trailing comma', get => '{"Item":{},}', err('invalid JSON') ],
    [ 'a trailing comma in an item', get =>
        '{"Item":{"a":{"S":"x"},}}', err('invalid JSON') ],
    [ 'a trailing comma in a value', get => get1('{"S":"x",}'),
        err('invalid JSON') ],
    [ 'no colon', get => '{"Item" {}}', err('invalid JSON') ],
    [ 'no comma', get => '{"a":1 "Item":{}}', err('invalid JSON') ],
    [ 'a name not quoted', get => '{Item:{}}', err('invalid JSON') ],
    [ 'single quotes', get => "{'Item':{}}", err('invalid JSON') ],
    [ 'a comment', get => '{/* */}', err('invalid JSON') ],
    [ 'a name of a number', get => '{1:{}}', err('invalid JSON') ],
    [ 'Item null', get => '{"Item":null}',
        err('an item is not a JSON object') ],
    [ 'Item an array', get => '{"Item":[]}',
        err('an item is not a JSON object') ],
    [ 'Item a string', get => '{"Item":"x"}',
        err('an item is not a JSON object') ],
    [ 'Item twice', get => '{"Item":{},"Item":{}}',
        err('Item given twice') ],
    [ 'Item twice, once escaped', get => '{"Item":{},"\u0049tem":{}}',
        err('Item given twice') ],
    [ 'a name out of the item (lower case "item")', get =>
        '{"item":{"a":{"BOOL":true}}}', 'ok no item' ],
    (map { [ "an attribute of type $_->[0]", get => get1($_->[1]),
        err("an attribute of type $_->[0]") ] }
        [ BOOL => '{"BOOL":true}' ], [ NULL => '{"NULL":true}' ],
        [ M => '{"M":{"x":{"S":"y"}}}' ], [ L => '{"L":[{"S":"y"}]}' ],
        [ SS => '{"SS":["a"]}' ], [ NS => '{"NS":["1"]}' ],
        [ B => '{"B":"AAE="}' ], [ BS => '{"BS":["AAE="]}' ]),
    [ 'a type of another case', get => get1('{"s":"x"}'),
        err('an attribute of an unknown type') ],
    [ 'an unknown type', get => get1('{"X":"x"}'),
        err('an attribute of an unknown type') ],
    [ 'an empty type', get => get1('{"":"x"}'),
        err('an attribute of an unknown type') ],
    [ 'a value not an object', get => get1('"x"'),
        err('an attribute value is not a JSON object') ],
    [ 'a value null', get => get1('null'),
        err('an attribute value is not a JSON object') ],
    [ 'a value without a type', get => get1('{}'),
        err('an attribute value has no type') ],
    [ 'S and N', get => get1('{"S":"x","N":"1"}'),
        err('an attribute value of more than one type') ],
    [ 'S twice', get => get1('{"S":"x","S":"y"}'),
        err('an attribute value of more than one type') ],
    [ 'S and BOOL', get => get1('{"S":"x","BOOL":true}'),
        err('an attribute value of more than one type') ],
    [ 'S a number', get => get1('{"S":1}'),
        err('an S value is not a JSON string') ],
    [ 'S null', get => get1('{"S":null}'),
        err('an S value is not a JSON string') ],
    [ 'N a number', get => get1('{"N":1}'),
        err('an N value is not a JSON string') ],
    [ 'an empty name', get => '{"Item":{"":{"S":"x"}}}',
        err('an attribute name is empty') ],
    [ 'a name of 65', get => '{"Item":{"' . 'a' x 65 . '":{"S":"x"}}}',
        err('an attribute name is longer than 64 bytes') ],
    [ 'a name of 64 escaped to 65', get => '{"Item":{"' . 'a' x 64
        . '\u0061":{"S":"x"}}}',
        err('an attribute name is longer than 64 bytes') ],
    (map { [ 'a name with ' . esc($_), get => '{"Item":{"a' . $_
        . 'b":{"S":"x"}}}',
        err('an attribute name has a byte out of [A-Za-z0-9_]') ] }
        ('-', '.', ' ', '#', ':', '$', "\xc3\xa9", '\u00e9', '\u0000',
         '\n', '\/')),
    [ 'a name given twice', get => '{"Item":{"a":{"S":"x"},"a":{"N":"1"}}}',
        err('an attribute given twice in an item') ],
    [ 'a name given twice, once escaped', get =>
        '{"Item":{"pk":{"S":"x"},"\u0070\u006b":{"S":"x"}}}',
        err('an attribute given twice in an item') ],
    [ 'a name given twice, not next to each other', get => '{"Item":'
        . item(@sixteen[0 .. 14], N('a1', 1)) . '}',
        err('an attribute given twice in an item') ],
    [ '17 attributes', get => '{"Item":' . item(@sixteen, N('b', 1)) . '}',
        err('an item has more than 16 attributes') ],
    [ 'S of 1025', get => gets('"' . 'x' x 1025 . '"'),
        err('an S value is longer than 1024 bytes') ],
    [ 'S of 1025 of escapes', get => gets('"' . '\u0041' x 1025 . '"'),
        err('an S value is longer than 1024 bytes') ],
    [ 'S of 1023 and a 2-byte character', get =>
        gets('"' . 'x' x 1023 . '\u00e9"'),
        err('an S value is longer than 1024 bytes') ],
    [ 'S of 1021 and a 4-byte character', get =>
        gets('"' . 'x' x 1021 . "\xf0\x9f\x98\x80\""),
        err('an S value is longer than 1024 bytes') ];

# strings: JSON and UTF-8

push @cases,
    (map { [ 'invalid UTF-8: ' . esc($_->[0]), get => gets("\"$_->[0]\""),
        err('invalid UTF-8 in a JSON string') ] }
        [ "\xff" ], [ "\xfe" ], [ "\x80" ], [ "a\xbf" ], [ "\xc0\x80" ],
        [ "\xc1\xbf" ], [ "\xe0\x80\x80" ], [ "\xe0\x9f\xbf" ],
        [ "\xed\xa0\x80" ], [ "\xed\xbf\xbf" ], [ "\xf0\x80\x80\x80" ],
        [ "\xf0\x8f\xbf\xbf" ], [ "\xf4\x90\x80\x80" ], [ "\xf5\x80\x80\x80" ],
        [ "\xf8\x88\x80\x80\x80" ], [ "\xc3" ], [ "\xe2\x82" ],
        [ "\xf0\x9f\x98" ], [ "\xc3x" ], [ "\xe2\x82x" ], [ "\xc3\xc3\xa9" ],
        [ "\xc3\\u00a9" ]),
    [ 'invalid UTF-8 in a member name', get => "{\"It\xffem\":{}}",
        err('invalid UTF-8 in a JSON string') ],
    (map { [ "a lone surrogate: $_", get => gets("\"$_\""),
        err('a lone surrogate in a JSON string') ] }
        '\ud800', '\udbff', '\udc00', '\udfff', '\ud800x', 'x\ud83d',
        '\ud800\u0041', '\ud800\ud800', '\ude00\ud83d', '\ud800\n',
        '\ud800\\\\udc00', '\ud83d\ude00\ude00'),
    [ 'a raw control character', get => gets("\"a\x01\""),
        err('control character in JSON string') ],
    [ 'a raw LF', get => gets("\"a\n\""),
        err('control character in JSON string') ],
    [ 'a raw tab', get => gets("\"a\t\""),
        err('control character in JSON string') ],
    [ 'a raw NUL', get => gets("\"a\x00\""),
        err('control character in JSON string') ],
    [ 'an unknown escape \x', get => gets('"\x41"'),
        err('invalid escape in JSON string') ],
    [ 'an escape of an apostrophe', get => gets(q{"\\'"}),
        err('invalid escape in JSON string') ],
    [ 'an escape \u with 3 hex digits', get => gets('"\u004"'),
        err('invalid escape in JSON string') ],
    [ 'an escape \u with a non-hex digit', get => gets('"\u00G1"'),
        err('invalid escape in JSON string') ],
    [ 'an escape \U', get => gets('"\U0041"'),
        err('invalid escape in JSON string') ],
    [ 'a string without its end', get => '{"Item":{"a":{"S":"abc',
        err('truncated JSON') ];

# numbers

push @cases,
    [ 'N empty', get => getn(''), err('an N value is empty') ],
    (map { [ "N $_->[0]", get => getn($_->[0]), err($_->[1]) ] }
        [ '1.5', 'an N value has a fraction (integers only)' ],
        [ '1.0', 'an N value has a fraction (integers only)' ],
        [ '0.0', 'an N value has a fraction (integers only)' ],
        [ '-0.5', 'an N value has a fraction (integers only)' ],
        [ '1.5e3', 'an N value has a fraction (integers only)' ],
        [ '1e3', 'an N value has an exponent (integers only)' ],
        [ '1E3', 'an N value has an exponent (integers only)' ],
        [ '1e+3', 'an N value has an exponent (integers only)' ],
        [ '-1e-3', 'an N value has an exponent (integers only)' ],
        [ '0e0', 'an N value has an exponent (integers only)' ],
        [ '007', 'an N value has a leading zero' ],
        [ '00', 'an N value has a leading zero' ],
        [ '-007', 'an N value has a leading zero' ],
        [ '01', 'an N value has a leading zero' ],
        [ '-0', 'an N value is -0' ],
        [ '+1', 'an N value is not a number' ],
        [ ' 1', 'an N value is not a number' ],
        [ '1 ', 'an N value is not a number' ],
        [ '0x10', 'an N value is not a number' ],
        [ '1,000', 'an N value is not a number' ],
        [ '1_000', 'an N value is not a number' ],
        [ 'abc', 'an N value is not a number' ],
        [ '-', 'an N value is not a number' ],
        [ '--1', 'an N value is not a number' ],
        [ '1.', 'an N value is not a number' ],
        [ '.5', 'an N value is not a number' ],
        [ '1e', 'an N value is not a number' ],
        [ '1.5x', 'an N value is not a number' ],
        [ 'Infinity', 'an N value is not a number' ],
        [ 'NaN', 'an N value is not a number' ],
        [ '1\u0000', 'an N value is not a number' ],
        [ '9223372036854775808', 'an N value is out of the int64 range' ],
        [ '-9223372036854775809', 'an N value is out of the int64 range' ],
        [ '18446744073709551616', 'an N value is out of the int64 range' ],
        [ '99999999999999999999999', 'an N value is out of the int64 range' ],
        [ '1' . '0' x 125, 'an N value is out of the int64 range' ]);

# nesting and skipped members

push @cases,
    [ 'nesting: 8 levels below the answer (9 in all)', get =>
        '{"x":' . '[' x 8 . '1' . ']' x 8 . '}',
        err('JSON nested too deeply') ],
    [ 'nesting: objects 8 levels below', get =>
        '{"x":' . '{"y":' x 8 . '1' . '}' x 8 . '}',
        err('JSON nested too deeply') ],
    [ 'nesting: arrays 7 levels below (8 in all)', get =>
        '{"x":' . '[' x 7 . '1' . ']' x 7 . '}', 'ok no item' ],
    [ 'nesting: 1000 levels', get => '{"x":' . '[' x 1000 . ']' x 1000 . '}',
        err('JSON nested too deeply') ],
    [ 'a skipped member not JSON: tru', get => '{"x":tru}',
        err('invalid JSON') ],
    [ 'a skipped member not JSON: 01', get => '{"x":01}',
        err('invalid JSON') ],
    [ 'a skipped member not JSON: 1.', get => '{"x":1.}',
        err('invalid JSON') ],
    [ 'a skipped member not JSON: an open array', get => '{"x":[1,}',
        err('invalid JSON') ],
    [ 'a skipped member with a raw control character', get =>
        "{\"x\":\"\x01\"}", err('control character in JSON string') ],
    [ 'a skipped member with a bad escape', get => '{"x":"\q"}',
        err('invalid escape in JSON string') ],
    [ 'a member without a value', get => '{"x":}', err('invalid JSON') ];

###############################################################################

# Query

sub query_ok {
    my ($items, $scanned, $last) = @_;
    return join "\n", (map { ('item', lines(@$_)) } @$items),
        ($last ? ('last_key', lines(@$last)) : ()),
        sprintf('ok items %d scanned %d more %d', scalar @$items, $scanned,
            $last ? 1 : 0);
}

sub query {
    my (%o) = @_;
    my @m;
    push @m, '"Count":' . ($o{count} // scalar @{ $o{items} || [] })
        unless $o{no_count};
    push @m, '"ScannedCount":' . $o{scanned} if defined $o{scanned};
    push @m, '"Items":[' . join(',', map { item(@$_) } @{ $o{items} || [] })
        . ']' unless $o{no_items};
    push @m, '"LastEvaluatedKey":' . item(@{ $o{last} }) if $o{last};
    push @m, @{ $o{more} || [] };
    return '{' . join(',', @m) . '}';
}

my @qitems = map { [ S('pk', 'team#q'), S('sk', sprintf('w#%04d', $_ * 10)),
    N('i', $_) ] } 1 .. 5;
my $qlast = [ S('pk', 'team#q'), S('sk', 'w#0020') ];

push @cases,
    [ 'query: none', 'query 0' => query(scanned => 0),
        query_ok([], 0) ],
    [ 'query: none, room for 5', 'query 5' => query(scanned => 0),
        query_ok([], 0) ],
    [ "query: dynalite's answer of none", 'query 1' =>
        '{"ScannedCount":0,"Count":0,"Items":[],"ConsumedCapacity":'
        . '{"CapacityUnits":0,"TableName":"lfv-teams","Table":'
        . '{"CapacityUnits":0}}}', query_ok([], 0) ],
    [ 'query: one', 'query 1' => query(items => [ $qitems[0] ], scanned => 1),
        query_ok([ $qitems[0] ], 1) ],
    [ 'query: five in room for five', 'query 5' =>
        query(items => \@qitems, scanned => 5), query_ok(\@qitems, 5) ],
    [ 'query: five in room for 100', 'query 100' =>
        query(items => \@qitems, scanned => 7), query_ok(\@qitems, 7) ],
    [ 'query: no ScannedCount', 'query 2' =>
        query(items => [ @qitems[0, 1] ]), query_ok([ @qitems[0, 1] ], 0) ],
    [ 'query: with LastEvaluatedKey', 'query 2' =>
        query(items => [ @qitems[0, 1] ], scanned => 2, last => $qlast),
        query_ok([ @qitems[0, 1] ], 2, $qlast) ],
    [ "query: dynalite's order (LastEvaluatedKey before Items)", 'query 2' =>
        '{"ScannedCount":2,"LastEvaluatedKey":' . item(@$qlast)
        . ',"Count":2,"Items":[' . item(@{ $qitems[0] }) . ','
        . item(@{ $qitems[1] }) . ']}',
        query_ok([ @qitems[0, 1] ], 2, $qlast) ],
    [ 'query: LastEvaluatedKey and no items', 'query 2' =>
        query(scanned => 10, last => $qlast), query_ok([], 10, $qlast) ],
    [ 'query: empty items', 'query 2' => query(items => [ [], [] ]),
        query_ok([ [], [] ], 0) ],
    [ 'query: items of 16 attributes', 'query 2' =>
        query(items => [ \@sixteen, \@sixteen ]),
        query_ok([ \@sixteen, \@sixteen ], 0) ],
    [ 'query: ScannedCount 2^31 - 1', 'query 0' =>
        query(scanned => 2147483647), query_ok([], 2147483647) ],
    [ 'query: unknown members skipped', 'query 1' => query(items =>
        [ $qitems[0] ], more => [ '"ConsumedCapacity":{"CapacityUnits":0.5}',
        '"x":[null]' ]), query_ok([ $qitems[0] ], 0) ],
    [ 'query: whitespace', 'query 1' => " { \"Items\" : [ {} ] , \"Count\""
        . " : 1 } ", query_ok([ [] ], 0) ];

push @cases,
    [ 'query: more than room for', 'query 4' =>
        query(items => \@qitems), err('more Items than asked for') ],
    [ 'query: one in room for none', 'query 0' =>
        query(items => [ $qitems[0] ]), err('more Items than asked for') ],
    [ 'query: no Items', 'query 1' => '{"Count":0,"ScannedCount":0}',
        err('no Items') ],
    [ 'query: no Count', 'query 1' => '{"Items":[]}', err('no Count') ],
    [ 'query: {}', 'query 1' => '{}', err('no Items') ],
    [ 'query: Count too high', 'query 5' =>
        query(items => [ $qitems[0] ], count => 2),
        err('Count is not the number of Items') ],
    [ 'query: Count too low', 'query 5' =>
        query(items => [ @qitems[0, 1] ], count => 1),
        err('Count is not the number of Items') ],
    [ 'query: ScannedCount below Count', 'query 5' =>
        query(items => [ @qitems[0, 1] ], scanned => 1),
        err('ScannedCount is below Count') ],
    (map { [ "query: Count $_", 'query 5' => query(count => $_),
        err('Count is not an integer 0..2147483647') ] }
        qw(-1 -0 1.0 1e0 00 01 2147483648 99999999999 "0" null true [0])),
    [ 'query: Count 2^31 - 1', 'query 5' => query(count => 2147483647),
        err('Count is not the number of Items') ],
    (map { [ "query: ScannedCount $_", 'query 5' => query(scanned => $_),
        err('ScannedCount is not an integer 0..2147483647') ] }
        qw(-1 0.5 1E2 007 2147483648 "1" {})),
    [ 'query: Count an open number', 'query 5' => '{"Count":-',
        err('truncated JSON') ],
    [ 'query: Items an object', 'query 5' => '{"Count":0,"Items":{}}',
        err('Items is not a JSON array') ],
    [ 'query: Items null', 'query 5' => '{"Count":0,"Items":null}',
        err('Items is not a JSON array') ],
    [ 'query: an item not an object', 'query 5' =>
        '{"Count":1,"Items":[[]]}', err('an item is not a JSON object') ],
    [ 'query: an item a string', 'query 5' =>
        '{"Count":1,"Items":["x"]}', err('an item is not a JSON object') ],
    [ 'query: a trailing comma in Items', 'query 5' =>
        '{"Count":1,"Items":[{},]}', err('an item is not a JSON object') ],
    [ 'query: a comma first in Items', 'query 5' =>
        '{"Count":1,"Items":[,{}]}', err('an item is not a JSON object') ],
    [ 'query: Items without a comma', 'query 5' =>
        '{"Count":2,"Items":[{} {}]}', err('invalid JSON') ],
    [ 'query: an open Items', 'query 5' => '{"Count":2,"Items":[{},',
        err('truncated JSON') ],
    [ 'query: Items twice', 'query 5' => '{"Items":[],"Items":[]}',
        err('Items given twice') ],
    [ 'query: Count twice', 'query 5' => '{"Count":0,"Count":0}',
        err('Count given twice') ],
    [ 'query: ScannedCount twice', 'query 5' =>
        '{"ScannedCount":0,"ScannedCount":0}',
        err('ScannedCount given twice') ],
    [ 'query: LastEvaluatedKey twice', 'query 5' =>
        query(last => $qlast, more => [ '"LastEvaluatedKey":'
        . item(@$qlast) ]), err('LastEvaluatedKey given twice') ],
    [ 'query: LastEvaluatedKey empty', 'query 5' =>
        query(more => [ '"LastEvaluatedKey":{}' ]),
        err('LastEvaluatedKey is empty') ],
    [ 'query: LastEvaluatedKey null', 'query 5' =>
        query(more => [ '"LastEvaluatedKey":null' ]),
        err('an item is not a JSON object') ],
    [ 'query: a second item of type BOOL', 'query 5' => '{"Count":2,'
        . '"Items":[{"a":{"S":"x"}},{"a":{"BOOL":false}}]}',
        err('an attribute of type BOOL') ],
    [ 'query: an item of 17', 'query 5' =>
        query(items => [ [ @sixteen, S('x', 1) ] ]),
        err('an item has more than 16 attributes') ],
    [ 'query: a name twice in the last key', 'query 5' =>
        query(last => [ S('pk', 'a'), S('pk', 'b') ]),
        err('an attribute given twice in an item') ],
    [ 'query: data after', 'query 5' => query() . ']',
        err('data after the JSON object') ],
    [ 'query: nested too deeply', 'query 5' => query(more =>
        [ '"x":' . '[' x 8 . ']' x 8 ]), err('JSON nested too deeply') ];

###############################################################################

# errors

sub error_ok {
    my ($type, $msg) = @_;
    return join "\n", "type $type",
        (defined $msg ? ('message ' . esc($msg)) : ()), 'ok';
}

my $ccf = 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException';

push @cases,
    [ 'error: ConditionalCheckFailedException', error =>
        qq{{"__type":"$ccf","message":"The conditional request failed"}},
        error_ok('ConditionalCheckFailedException',
            'The conditional request failed') ],
    [ 'error: Message', error =>
        qq{{"__type":"$ccf","Message":"The conditional request failed"}},
        error_ok('ConditionalCheckFailedException',
            'The conditional request failed') ],
    [ 'error: message first', error =>
        qq{{"message":"m","__type":"$ccf"}},
        error_ok('ConditionalCheckFailedException', 'm') ],
    [ 'error: a type without "#"', error =>
        '{"__type":"ProvisionedThroughputExceededException","message":"x"}',
        error_ok('ProvisionedThroughputExceededException', 'x') ],
    [ 'error: no message (dynalite\'s SerializationException)', error =>
        '{"__type":"com.amazon.coral.service#SerializationException"}',
        error_ok('SerializationException') ],
    [ 'error: an empty message', error =>
        '{"__type":"x#Y","message":""}', error_ok('Y', '') ],
    [ 'error: the last "#"', error => '{"__type":"a#b#C1"}',
        error_ok('C1') ],
    [ 'error: "#" first', error => '{"__type":"#C"}', error_ok('C') ],
    [ 'error: type of one byte', error => '{"__type":"X"}', error_ok('X') ],
    [ 'error: type of 256', error => '{"__type":"' . 'a.' x 127 . '#X"}',
        error_ok('X') ],
    [ 'error: a message with escapes and UTF-8', error =>
        '{"__type":"x#Y","message":"a\"b\\\\c\nd\u00e9\ud83d\ude00'
        . "\xe2\x82\xac\"}",
        error_ok('Y', "a\"b\\c\nd\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac") ],
    [ 'error: a long message', error =>
        '{"__type":"x#Y","message":"' . 'm' x 100000 . '"}',
        error_ok('Y', 'm' x 100000) ],
    [ 'error: members skipped', error => '{"Item":{"a":{"BOOL":true}},'
        . '"__type":"x#Y","code":500,"x":[[]]}', error_ok('Y') ],
    [ 'error: the type with escapes', error =>
        '{"__type":"x\u0023\u0059"}', error_ok('Y') ];

push @cases,
    [ 'error: no input', error => '', err('the answer is empty') ],
    [ 'error: HTML', error => '<html><body>500</body></html>',
        err('the answer is not a JSON object') ],
    [ 'error: {}', error => '{}', err('no __type') ],
    [ 'error: only a message', error => '{"message":"x"}', err('no __type') ],
    [ 'error: __type twice', error => '{"__type":"A","__type":"B"}',
        err('__type given twice') ],
    [ 'error: message twice', error =>
        '{"__type":"A","message":"a","message":"b"}',
        err('message given twice') ],
    [ 'error: message and Message', error =>
        '{"__type":"A","message":"a","Message":"b"}',
        err('message given twice') ],
    [ 'error: MESSAGE is another member', error =>
        '{"__type":"A","MESSAGE":1}', error_ok('A') ],
    [ 'error: __type null', error => '{"__type":null}',
        err('__type is not a JSON string') ],
    [ 'error: __type a number', error => '{"__type":400}',
        err('__type is not a JSON string') ],
    [ 'error: message null', error => '{"__type":"A","message":null}',
        err('message is not a JSON string') ],
    [ 'error: Message an object', error => '{"__type":"A","Message":{}}',
        err('message is not a JSON string') ],
    [ 'error: an empty __type', error => '{"__type":""}',
        err('__type is not 1..256 bytes') ],
    [ 'error: __type of 257', error => '{"__type":"' . 'a.' x 127
        . '#XY"}', err('__type is not 1..256 bytes') ],
    [ 'error: __type with a space', error => '{"__type":"a b#C"}',
        err('__type has a byte out of visible ASCII') ],
    [ 'error: __type with UTF-8', error => "{\"__type\":\"\xc3\xa9#C\"}",
        err('__type has a byte out of visible ASCII') ],
    [ 'error: __type with a NUL', error => '{"__type":"a\u0000#C"}',
        err('__type has a byte out of visible ASCII') ],
    [ 'error: __type ending with "#"', error => '{"__type":"a.b#"}',
        err('__type has no name after its "#"') ],
    [ 'error: __type "#"', error => '{"__type":"#"}',
        err('__type has no name after its "#"') ],
    (map { [ "error: a short type with \"$_\"", error =>
        "{\"__type\":\"a#B${_}C\"}",
        err('__type does not end with a name of [A-Za-z0-9]') ] }
        qw(. _ - : / ; $)),
    [ 'error: a message with a lone surrogate', error =>
        '{"__type":"A","message":"\ud800"}',
        err('a lone surrogate in a JSON string') ],
    [ 'error: a message not UTF-8', error =>
        "{\"__type\":\"A\",\"message\":\"\xff\"}",
        err('invalid UTF-8 in a JSON string') ],
    [ 'error: data after', error => '{"__type":"A"} x',
        err('data after the JSON object') ];

###############################################################################

# no skipping: a driver that does not build is a failure; the lock
# keeps test files run in parallel from building into build/unit at once

open my $lock, '<', "$root/t/unit/Makefile" or die "t/unit/Makefile: $!";
flock($lock, LOCK_EX) or die "flock: $!";
my $out = qx{make -s -C @{[ sh_quote($root) ]} unit 2>&1};
is($?, 0, 'make unit builds the drivers') or diag($out);
close $lock;

my $driver = "$root/build/unit/ddb_driver";
ok(-x $driver, 'build/unit/ddb_driver exists') or do {
    done_testing();
    exit;
};

my $tmp = tempdir(CLEANUP => 1);

# one driver process for many inputs: "<mode> <length>\n<input>" records;
# the answers, each its lines up to and with its last one

sub batch {
    my (@in) = @_;

    my $file = "$tmp/input";
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh "batch\n", map { "$_->[0] " . length($_->[1]) . "\n$_->[1]" } @in;
    close $fh;

    local $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0';
    local $ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1';

    my $cmd = sh_quote($driver) . ' < ' . sh_quote($file) . ' 2> '
        . sh_quote("$tmp/stderr");
    my $got = qx{$cmd};
    my $rc = $?;

    open my $eh, '<', "$tmp/stderr" or die "stderr: $!";
    my $stderr = do { local $/; <$eh> };
    close $eh;

    is($rc, 0, 'ddb_driver ran ' . scalar(@in) . ' inputs') or diag($stderr);
    is($stderr, '', 'ddb_driver: nothing on stderr');

    my (@answers, @cur);

    for my $l (split /\n/, $got, -1) {
        push @cur, $l;

        if ($l =~ /^(ok( .*)?|error: .*)$/) {
            push @answers, join "\n", @cur;
            @cur = ();
        }
    }

    push @answers, join "\n", grep { length } @cur if grep { length } @cur;

    is(scalar @answers, scalar @in, scalar(@in) . ' inputs answered');

    return @answers;
}

sub shown {
    my ($s) = @_;
    $s = substr($s, 0, 60) . '...(' . length($s) . ' bytes)'
        if length $s > 80;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

# the table

my @got = batch(map { [ $_->[1], $_->[2] ] } @cases);

for my $i (0 .. $#cases) {
    is($got[$i], $cases[$i][3], "$cases[$i][1]: " . shown($cases[$i][0]));
}

###############################################################################

# every prefix of a valid answer refused, with a message and a zeroed
# result (the driver says so otherwise)

my $rich = '{"ConsumedCapacity":{"CapacityUnits":0.5,"TableName":"t"},'
    . '"Item":{"pk":{"S":"team#a"},"s":{"S":"a\"\\\\\/\b\f\n\r\t\u0041'
    . '\u00e9\u20ac\ud83d\ude00' . "\xc3\xa9\xf0\x9f\x98\x80" . '"},'
    . '"n":{"N":"-9223372036854775808"},"z":{"N":"0"},"e":{"S":""}},'
    . '"x":[true,false,null,-1.5e3,{"y":[]}]}';

for my $p ([ 'GetItem', get => $rich ], [ 'GetItem of dynalite', get =>
        $dyn_item ], [ 'UpdateItem', update => '{"Attributes":'
        . item(@dyn_attrs) . '}' ],
    [ 'Query', 'query 5' => query(items => [ @qitems[0, 1] ], scanned => 3,
        last => $qlast, more => [ '"ConsumedCapacity":{"CapacityUnits":1}' ])
    ],
    [ 'error', error => qq({"__type":"$ccf","message":"The conditional )
        . 'request \u0066ailed"}' ])
{
    my ($name, $mode, $doc) = @$p;

    my ($whole) = batch([ $mode, $doc ]);
    like($whole, qr/^ok/m, "$name: the whole answer is taken");

    my @prefix = batch(map { [ $mode, substr($doc, 0, $_) ] }
        0 .. length($doc) - 1);
    my @bad = grep { $prefix[$_] !~ /^error: [^\n]*\z/ } 0 .. $#prefix;

    is(scalar @bad, 0, "$name: all " . length($doc) . ' prefixes refused')
        or diag(join "\n", map { "prefix of $_: $prefix[$_]" }
            @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

###############################################################################

# the writer: requests as the driver takes them (tab separated, strings
# in hex), written, read back with JSON::PP

sub hx { return unpack 'H*', $_[0] }

sub w {
    my (%r) = @_;
    my @l;
    push @l, "op\t$r{op}" if defined $r{op};
    for my $f (qw(table index pk sk update key_condition condition)) {
        push @l, "$f\t" . hx($r{$f}) if defined $r{$f};
    }
    for my $f (qw(item value start)) {
        next unless $r{$f};
        push @l, $f if !@{ $r{$f} };
        push @l, map {
            join "\t", $f, $_->[0], hx($_->[1]),
                $_->[0] eq 'S' ? hx($_->[2]) : $_->[2]
        } @{ $r{$f} };
    }
    push @l, map { join "\t", 'name', hx($_->[0]), hx($_->[1]) }
        @{ $r{names} || [] };
    push @l, map { "$_\t$r{$_}" } grep { defined $r{$_} }
        qw(limit return consistent);
    push @l, @{ $r{raw} || [] };
    return join "\n", @l;
}

# the structure JSON::PP gives: strings as characters

sub chars { my $s = shift; utf8::decode($s); return $s }

sub av {
    my ($list) = @_;
    return { map { chars($_->[1]) => { $_->[0] => chars("$_->[2]") } }
        @$list };
}

my $T = 'lfv-teams';
my %key = (table => $T, pk => 'team#a', sk => 'state');
my $jkey = { pk => { S => 'team#a' }, sk => { S => 'state' } };

# every byte that must be escaped, and characters of every UTF-8 length
my $hard = join('', map { chr } 0 .. 0x1f) . "\"\\/\x7f"
    . "\xc2\x80\xc3\xa9\xdf\xbf\xe0\xa0\x80\xe2\x82\xac\xe2\x80\xa8\xef\xbf"
    . "\xbf\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";

my @writes = (
    [ 'GetItem', w(op => 'GetItem', %key, consistent => 1),
        'GetItem', { TableName => $T, Key => $jkey,
        ConsistentRead => JSON::PP::true } ],
    [ 'GetItem, not consistent', w(op => 'GetItem', %key),
        'GetItem', { TableName => $T, Key => $jkey } ],
    [ 'PutItem', w(op => 'PutItem', %key, item => [ N('n', 0), S('who',
        'alice'), N('ver', 1) ], condition => 'attribute_not_exists(pk)'),
        'PutItem', { TableName => $T, Item => { %$jkey, n => { N => '0' },
        who => { S => 'alice' }, ver => { N => '1' } },
        ConditionExpression => 'attribute_not_exists(pk)' } ],
    [ 'PutItem of the key only, ALL_OLD', w(op => 'PutItem', %key,
        return => 'ALL_OLD'), 'PutItem', { TableName => $T, Item => $jkey,
        ReturnValues => 'ALL_OLD' } ],
    [ 'PutItem with names and values', w(op => 'PutItem', %key,
        item => [ N('v', 2) ], condition => '#v = :v',
        names => [ [ '#v', 'v' ] ], value => [ N(':v', 1) ]),
        'PutItem', { TableName => $T, Item => { %$jkey, v => { N => '2' } },
        ConditionExpression => '#v = :v',
        ExpressionAttributeNames => { '#v' => 'v' },
        ExpressionAttributeValues => { ':v' => { N => '1' } } } ],
    [ 'UpdateItem, every field', w(op => 'UpdateItem', %key,
        update => 'SET #w = :w, #v = #v + :one',
        condition => '#v = :ver', names => [ [ '#w', 'who' ], [ '#v', 'ver' ] ],
        value => [ S(':w', 'carol'), N(':one', 1), N(':ver', 7) ],
        return => 'ALL_NEW'), 'UpdateItem', { TableName => $T, Key => $jkey,
        UpdateExpression => 'SET #w = :w, #v = #v + :one',
        ConditionExpression => '#v = :ver',
        ExpressionAttributeNames => { '#w' => 'who', '#v' => 'ver' },
        ExpressionAttributeValues => { ':w' => { S => 'carol' },
            ':one' => { N => '1' }, ':ver' => { N => '7' } },
        ReturnValues => 'ALL_NEW' } ],
    [ 'UpdateItem, the update only', w(op => 'UpdateItem', %key,
        update => 'REMOVE x'), 'UpdateItem', { TableName => $T, Key => $jkey,
        UpdateExpression => 'REMOVE x' } ],
    (map { [ "UpdateItem, ReturnValues $_", w(op => 'UpdateItem', %key,
        update => 'REMOVE x', return => $_), 'UpdateItem', { TableName => $T,
        Key => $jkey, UpdateExpression => 'REMOVE x', ReturnValues => $_ } ] }
        qw(ALL_OLD UPDATED_OLD UPDATED_NEW)),
    [ 'UpdateItem, ReturnValues NONE not written', w(op => 'UpdateItem',
        %key, update => 'REMOVE x', return => 'NONE'), 'UpdateItem',
        { TableName => $T, Key => $jkey, UpdateExpression => 'REMOVE x' } ],
    [ 'UpdateItem, an empty ExpressionAttributeValues not written', w(op => 'UpdateItem',
        %key, update => 'REMOVE x', value => []), 'UpdateItem',
        { TableName => $T, Key => $jkey, UpdateExpression => 'REMOVE x' } ],
    [ 'UpdateItem, N at int64 bounds', w(op => 'UpdateItem', %key,
        update => 'SET a = :a, b = :b, c = :c', value => [ N(':a', $i64max),
        N(':b', $i64min), N(':c', 0) ]), 'UpdateItem', { TableName => $T,
        Key => $jkey, UpdateExpression => 'SET a = :a, b = :b, c = :c',
        ExpressionAttributeValues => { ':a' => { N => $i64max },
        ':b' => { N => $i64min }, ':c' => { N => '0' } } } ],
    [ 'DeleteItem', w(op => 'DeleteItem', %key), 'DeleteItem',
        { TableName => $T, Key => $jkey } ],
    [ 'DeleteItem, condition and values', w(op => 'DeleteItem', %key,
        condition => 'n = :n', value => [ N(':n', 9) ], return => 'ALL_OLD'),
        'DeleteItem', { TableName => $T, Key => $jkey,
        ConditionExpression => 'n = :n',
        ExpressionAttributeValues => { ':n' => { N => '9' } },
        ReturnValues => 'ALL_OLD' } ],
    [ 'Query', w(op => 'Query', table => $T,
        key_condition => 'pk = :p AND begins_with(sk, :w)',
        value => [ S(':p', 'team#q'), S(':w', 'w#') ], limit => 10,
        consistent => 1), 'Query', { TableName => $T,
        KeyConditionExpression => 'pk = :p AND begins_with(sk, :w)',
        ExpressionAttributeValues => { ':p' => { S => 'team#q' },
        ':w' => { S => 'w#' } }, Limit => 10,
        ConsistentRead => JSON::PP::true } ],
    [ 'Query with ExclusiveStartKey and names', w(op => 'Query', table => $T,
        key_condition => '#p = :p', names => [ [ '#p', 'pk' ] ],
        value => [ S(':p', 'team#q') ], start => $qlast, limit => 2147483647),
        'Query', { TableName => $T, KeyConditionExpression => '#p = :p',
        ExpressionAttributeNames => { '#p' => 'pk' },
        ExpressionAttributeValues => { ':p' => { S => 'team#q' } },
        ExclusiveStartKey => av($qlast), Limit => 2147483647 } ],
    [ 'Query of an index', w(op => 'Query', table => $T, index => 'due',
        key_condition => 'gpk = :g AND #d <= :now', names => [ [ '#d', 'due' ] ],
        value => [ S(':g', 'lease'), N(':now', 1796206475) ], limit => 8),
        'Query', { TableName => $T, IndexName => 'due',
        KeyConditionExpression => 'gpk = :g AND #d <= :now',
        ExpressionAttributeNames => { '#d' => 'due' },
        ExpressionAttributeValues => { ':g' => { S => 'lease' },
        ':now' => { N => '1796206475' } }, Limit => 8 } ],
    [ 'every string escaped', w(op => 'PutItem', table => 'a_b.c-D9',
        pk => $hard, sk => "\x00", item => [ S('s', $hard), S('e', '') ],
        condition => "x <> :v \xe2\x82\xac", value => [ S(':v', $hard) ]),
        'PutItem', { TableName => 'a_b.c-D9', Item => {
        pk => { S => chars($hard) }, sk => { S => "\x00" },
        s => { S => chars($hard) }, e => { S => '' } },
        ConditionExpression => chars("x <> :v \xe2\x82\xac"),
        ExpressionAttributeValues => { ':v' => { S => chars($hard) } } } ],
    [ 'the longest strings', w(op => 'PutItem', table => 't' x 255,
        pk => "\xf0\x9f\x98\x80" x 256, sk => "\x01" x 1024,
        item => [ map { S($_ x 64, "\xe2\x82\xac" x 341) } 'a' .. 'n' ],
        condition => 'c' x 4096, names => [ map { [ "#$_" x 1 . 'x' x 62,
        $_ x 64 ] } 'a' .. 'p' ], value => [ map { S(':' . $_ x 63, 'v') }
        'a' .. 'p' ]), 'PutItem', { TableName => 't' x 255,
        Item => { pk => { S => chars("\xf0\x9f\x98\x80" x 256) },
        sk => { S => "\x01" x 1024 }, map { ($_ x 64 => { S =>
        chars("\xe2\x82\xac" x 341) }) } 'a' .. 'n' },
        ConditionExpression => 'c' x 4096,
        ExpressionAttributeNames => { map { ("#$_" . 'x' x 62 => $_ x 64) }
        'a' .. 'p' }, ExpressionAttributeValues => { map {
        (':' . $_ x 63 => { S => 'v' }) } 'a' .. 'p' } } ],
);

# requests refused: one rule broken each

my @refused = (
    [ 'an unknown operation', w(op => 5, %key), 'an unknown operation' ],
    [ 'an operation of -1', w(op => -1, %key), 'an unknown operation' ],
    [ 'GetItem with an update', w(op => 'GetItem', %key, update => 'x'),
        'a field the operation does not take' ],
    [ 'GetItem with a condition', w(op => 'GetItem', %key, condition => 'x'),
        'a field the operation does not take' ],
    [ 'GetItem with values', w(op => 'GetItem', %key, value => []),
        'a field the operation does not take' ],
    [ 'GetItem with a limit', w(op => 'GetItem', %key, limit => 1),
        'a field the operation does not take' ],
    [ 'GetItem with ReturnValues', w(op => 'GetItem', %key,
        return => 'ALL_OLD'), 'a field the operation does not take' ],
    [ 'GetItem with an item', w(op => 'GetItem', %key, item => []),
        'a field the operation does not take' ],
    [ 'UpdateItem with an item', w(op => 'UpdateItem', %key, update => 'x',
        item => []), 'a field the operation does not take' ],
    [ 'UpdateItem consistent', w(op => 'UpdateItem', %key, update => 'x',
        consistent => 1), 'a field the operation does not take' ],
    [ 'DeleteItem with an update', w(op => 'DeleteItem', %key,
        update => 'x'), 'a field the operation does not take' ],
    [ 'DeleteItem with ExclusiveStartKey', w(op => 'DeleteItem', %key,
        start => $qlast), 'a field the operation does not take' ],
    [ 'Query with a key', w(op => 'Query', %key, key_condition => 'x',
        limit => 1), 'a field the operation does not take' ],
    [ 'Query with a condition', w(op => 'Query', table => $T,
        key_condition => 'x', condition => 'y', limit => 1),
        'a field the operation does not take' ],
    [ 'Query of an index, consistent', w(op => 'Query', table => $T,
        index => 'due', key_condition => 'x', limit => 1, consistent => 1),
        'a consistent read of an index' ],
    [ 'Query of an index of 2 bytes', w(op => 'Query', table => $T,
        index => 'du', key_condition => 'x', limit => 1),
        'the index name is not 3..255 bytes of [A-Za-z0-9_.-]' ],
    [ 'Query of an index of 256 bytes', w(op => 'Query', table => $T,
        index => 'd' x 256, key_condition => 'x', limit => 1),
        'the index name is not 3..255 bytes of [A-Za-z0-9_.-]' ],
    [ 'Query of an index named "a b c"', w(op => 'Query', table => $T,
        index => 'a b c', key_condition => 'x', limit => 1),
        'the index name is not 3..255 bytes of [A-Za-z0-9_.-]' ],
    [ 'GetItem of an index', w(op => 'GetItem', %key, index => 'due'),
        'a field the operation does not take' ],
    [ 'Query with ReturnValues', w(op => 'Query', table => $T,
        key_condition => 'x', limit => 1, return => 'ALL_NEW'),
        'a field the operation does not take' ],
    [ 'GetItem without a key', w(op => 'GetItem', table => $T),
        'a field the operation needs is missing' ],
    [ 'UpdateItem without an update', w(op => 'UpdateItem', %key),
        'a field the operation needs is missing' ],
    [ 'Query without a key condition', w(op => 'Query', table => $T,
        limit => 1), 'a field the operation needs is missing' ],
    [ 'Query without a limit', w(op => 'Query', table => $T,
        key_condition => 'x'), 'a field the operation needs is missing' ],
    [ 'GetItem without pk', w(op => 'GetItem', table => $T, sk => 's'),
        'a key value is empty' ],
    [ 'DeleteItem without sk', w(op => 'DeleteItem', table => $T,
        pk => 'p'), 'a key value is empty' ],
    [ 'pk of 1025', w(op => 'GetItem', %key, pk => 'p' x 1025),
        'a key value is longer than 1024 bytes' ],
    [ 'sk of 1025', w(op => 'GetItem', %key, sk => 's' x 1025),
        'a key value is longer than 1024 bytes' ],
    [ 'pk not UTF-8', w(op => 'GetItem', %key, pk => "a\xff"),
        'a string is not UTF-8' ],
    [ 'sk a surrogate in UTF-8', w(op => 'GetItem', %key,
        sk => "\xed\xa0\x80"), 'a string is not UTF-8' ],
    [ 'sk cut short UTF-8', w(op => 'GetItem', %key, sk => "\xe2\x82"),
        'a string is not UTF-8' ],
    [ 'PutItem ReturnValues ALL_NEW', w(op => 'PutItem', %key,
        return => 'ALL_NEW'), 'ReturnValues the operation does not take' ],
    [ 'DeleteItem ReturnValues UPDATED_OLD', w(op => 'DeleteItem', %key,
        return => 'UPDATED_OLD'), 'ReturnValues the operation does not take' ],
    [ 'ReturnValues 5', w(op => 'UpdateItem', %key, update => 'x',
        return => 5), 'ReturnValues the operation does not take' ],
    [ 'an empty table name', w(op => 'GetItem', %key, table => ''),
        'the table name is not 3..255 bytes' ],
    [ 'a table name of 2', w(op => 'GetItem', %key, table => 'ab'),
        'the table name is not 3..255 bytes' ],
    [ 'a table name of 256', w(op => 'GetItem', %key, table => 't' x 256),
        'the table name is not 3..255 bytes' ],
    (map { [ "a table name with \"$_\"", w(op => 'GetItem', %key,
        table => "ab${_}c"),
        'the table name has a byte out of [A-Za-z0-9_.-]' ] }
        ('#', ' ', '"', '/', ':', "\xc3\xa9")),
    [ 'an expression of 4097', w(op => 'UpdateItem', %key,
        update => 'u' x 4097), 'an expression is longer than 4096 bytes' ],
    [ 'a condition of 4097', w(op => 'DeleteItem', %key,
        condition => 'c' x 4097), 'an expression is longer than 4096 bytes' ],
    [ 'a key condition of 4097', w(op => 'Query', table => $T,
        key_condition => 'k' x 4097, limit => 1),
        'an expression is longer than 4096 bytes' ],
    [ 'an expression not UTF-8', w(op => 'UpdateItem', %key,
        update => "SET a = \xc3"), 'a string is not UTF-8' ],
    [ 'PutItem: an attribute pk', w(op => 'PutItem', %key,
        item => [ S('pk', 'x') ]), 'an attribute given twice in an item' ],
    [ 'PutItem: an attribute sk', w(op => 'PutItem', %key,
        item => [ N('a', 1), S('sk', 'x') ]),
        'an attribute given twice in an item' ],
    [ 'PutItem: an attribute twice', w(op => 'PutItem', %key,
        item => [ N('a', 1), S('a', 'x') ]),
        'an attribute given twice in an item' ],
    [ 'PutItem: 15 attributes and the key', w(op => 'PutItem', %key,
        item => [ map { N("a$_", $_) } 1 .. 15 ]),
        'an item has more than 16 attributes' ],
    [ 'PutItem: an empty name', w(op => 'PutItem', %key,
        item => [ N('', 1) ]),
        'an attribute name is not 1..64 bytes of [A-Za-z0-9_]' ],
    [ 'PutItem: a name of 65', w(op => 'PutItem', %key,
        item => [ N('a' x 65, 1) ]),
        'an attribute name is not 1..64 bytes of [A-Za-z0-9_]' ],
    [ 'PutItem: a name with "-"', w(op => 'PutItem', %key,
        item => [ N('a-b', 1) ]),
        'an attribute name is not 1..64 bytes of [A-Za-z0-9_]' ],
    [ 'PutItem: an S of 1025', w(op => 'PutItem', %key,
        item => [ S('a', 'x' x 1025) ]),
        'an S value is longer than 1024 bytes' ],
    [ 'PutItem: an S not UTF-8', w(op => 'PutItem', %key,
        item => [ S('a', "\xc0\x80") ]), 'a string is not UTF-8' ],
    [ 'PutItem: an attribute of type 0', w(op => 'PutItem', %key,
        item => [ [ 'X', 'a', 1 ] ]), 'an attribute of an unknown type' ],
    [ 'a value placeholder without ":"', w(op => 'UpdateItem', %key,
        update => 'x', value => [ N('v', 1) ]),
        'a value placeholder is not ":" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a value placeholder ":"', w(op => 'UpdateItem', %key, update => 'x',
        value => [ N(':', 1) ]),
        'a value placeholder is not ":" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a value placeholder of 65', w(op => 'UpdateItem', %key,
        update => 'x', value => [ N(':' . 'v' x 64, 1) ]),
        'a value placeholder is not ":" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a value placeholder "#v"', w(op => 'UpdateItem', %key,
        update => 'x', value => [ N('#v', 1) ]),
        'a value placeholder is not ":" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a value placeholder twice', w(op => 'UpdateItem', %key,
        update => 'x', value => [ N(':v', 1), S(':v', 'x') ]),
        'a placeholder given twice' ],
    [ 'a value of an S of 1025', w(op => 'UpdateItem', %key, update => 'x',
        value => [ S(':v', 'x' x 1025) ]),
        'an S value is longer than 1024 bytes' ],
    [ 'values: 17', w(op => 'UpdateItem', %key, update => 'x',
        raw => [ "count\tvalue\t17" ]), 'an item has more than 16 attributes' ],
    [ 'a name placeholder without "#"', w(op => 'UpdateItem', %key,
        update => 'x', names => [ [ 'a', 'a' ] ]),
        'a name placeholder is not "#" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a name placeholder "#"', w(op => 'UpdateItem', %key, update => 'x',
        names => [ [ '#', 'a' ] ]),
        'a name placeholder is not "#" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a name placeholder "#a-b"', w(op => 'UpdateItem', %key,
        update => 'x', names => [ [ '#a-b', 'a' ] ]),
        'a name placeholder is not "#" and 1..63 of [A-Za-z0-9_]' ],
    [ 'a name of 65', w(op => 'UpdateItem', %key, update => 'x',
        names => [ [ '#a', 'a' x 65 ] ]),
        'an attribute name is not 1..64 bytes of [A-Za-z0-9_]' ],
    [ 'an empty name', w(op => 'UpdateItem', %key, update => 'x',
        names => [ [ '#a', '' ] ]),
        'an attribute name is not 1..64 bytes of [A-Za-z0-9_]' ],
    [ 'a name placeholder twice', w(op => 'UpdateItem', %key,
        update => 'x', names => [ [ '#a', 'a' ], [ '#a', 'b' ] ]),
        'a placeholder given twice' ],
    [ 'names: 17', w(op => 'UpdateItem', %key, update => 'x',
        names => [ map { [ "#a$_", 'a' ] } 1 .. 17 ]),
        'ExpressionAttributeNames has more than 16 names' ],
    [ 'names: NULL with a count', w(op => 'UpdateItem', %key,
        update => 'x', raw => [ "names_null\t1" ]),
        'ExpressionAttributeNames without names' ],
    [ 'an empty ExclusiveStartKey', w(op => 'Query', table => $T,
        key_condition => 'x', limit => 1, start => []),
        'ExclusiveStartKey is empty' ],
    [ 'an ExclusiveStartKey of 17', w(op => 'Query', table => $T,
        key_condition => 'x', limit => 1, raw => [ "count\tstart\t17" ]),
        'an item has more than 16 attributes' ],
    [ 'an ExclusiveStartKey with a bad name', w(op => 'Query', table => $T,
        key_condition => 'x', limit => 1, start => [ S('p k', 'a') ]),
        'an attribute name is not 1..64 bytes of [A-Za-z0-9_]' ],
    [ 'a Limit of 2^31', w(op => 'Query', table => $T, key_condition => 'x',
        limit => 2147483648), 'Limit is over 2147483647' ],
);

my @wrote = batch(map { [ write => $_->[1] ] } @writes, @refused);

for my $i (0 .. $#writes) {
    my ($name, undef, $target, $want) = @{ $writes[$i] };
    my ($t, $body, $ok) = split /\n/, $wrote[$i], 3;
    $body //= '';

    is($t, "target DynamoDB_20120810.$target", "write $name: X-Amz-Target");
    is($ok, 'ok ' . length($body), "write $name: its length");
    unlike($body, qr/[^\x20-\x7e]/, "write $name: printable ASCII only");
    my $got = eval { JSON::PP->new->decode($body) };
    is_deeply($got, $want, "write $name: the structure") or diag($body);
}

for my $i (0 .. $#refused) {
    is($wrote[@writes + $i], "error: $refused[$i][2]",
        "write refused: $refused[$i][0]");
}

# the exact text: compact, members in one order

is((split /\n/, $wrote[0])[1],
    '{"TableName":"lfv-teams","Key":{"pk":{"S":"team#a"},"sk":{"S":"state"}},'
    . '"ConsistentRead":true}', 'write GetItem: the exact body');
is((split /\n/, $wrote[5])[1],
    '{"TableName":"lfv-teams","Key":{"pk":{"S":"team#a"},"sk":{"S":"state"}},'
    . '"UpdateExpression":"SET #w = :w, #v = #v + :one",'
    . '"ConditionExpression":"#v = :ver",'
    . '"ExpressionAttributeNames":{"#w":"who","#v":"ver"},'
    . '"ExpressionAttributeValues":{":w":{"S":"carol"},":one":{"N":"1"},'
    . '":ver":{"N":"7"}},"ReturnValues":"ALL_NEW"}',
    'write UpdateItem: the exact body');

my ($esc) = grep { $writes[$_][0] eq 'every string escaped' } 0 .. $#writes;
like((split /\n/, $wrote[$esc])[1],
    qr/^\{"TableName":"a_b\.c-D9","Item":\{"pk":\{"S":"\\u0000\\u0001.*\\u001f\\"\\\\\/\\u007f\\u0080\\u00e9\\u07ff\\u0800\\u20ac\\u2028\\uffff\\ud800\\udc00\\ud83d\\ude00\\udbff\\udfff"\}/,
    'write: escapes as \uXXXX in lower case, "/" as it is, surrogate pairs');
like((split /\n/, $wrote[$esc])[1], qr/^[^\n]*\\b\\t\\n\\u000b\\f\\r/,
    'write: \b \t \n \f \r short, VT as \u000b');

# what the writer wrote, read by the parser: PutItem's body as GetItem's
# answer (TableName and ConditionExpression skipped) gives the item back

my @back = batch(map { [ get => (split /\n/, $wrote[$_])[1] ] }
    grep { $writes[$_][2] eq 'PutItem' } 0 .. $#writes);
my @puts = grep { $_->[2] eq 'PutItem' } @writes;

for my $i (0 .. $#puts) {
    my $item = $puts[$i][3]{Item};
    my @want = map {
        my ($t) = keys %{ $item->{$_} };
        my $v = $item->{$_}{$t};
        utf8::encode($v);
        "$t $_ " . ($t eq 'S' ? esc($v) : $v)
    } sort keys %$item;
    my @lines = split /\n/, $back[$i];
    my $last = pop @lines;
    is_deeply([ sort(@lines), $last ], [ sort(@want), 'ok item ' . @want ],
        "write $puts[$i][0], read back: the same item");
}

###############################################################################

# the store's items (ngx_http_lfv_store_doc.c): a lease and a team's
# limits, read strictly out of GetItem's answer; every request about a
# lease read is one the writer takes

my $H = 'lookoutvision.us-east-1.amazonaws.com';
my $nonce = '0123456789abcdef';

sub lease_doc {
    my (%o) = @_;
    my %a = (pk => [ S => 'team#alpha' ], sk => [ S => "model#$H/line-1/3" ],
        gpk => [ S => 'lease' ], due => [ N => 1796200000 ],
        region => [ S => 'us-east-1' ], units => [ N => 2 ],
        started => [ N => 1796199000 ], ends => [ N => 1796200000 ],
        attempts => [ N => 0 ], alerted => [ N => 0 ], pending => [ N => 0 ],
        owner => [ S => '' ], claimed => [ N => 0 ], nonce => [ S => $nonce ],
        %o);
    return '{"Item":{' . join(',', map { defined $a{$_}
        ? qq("$_":{"$a{$_}[0]":) . js("$a{$_}[1]") . '}' : () } sort keys %a) . '}}';
}

sub lease_line {
    my (%o) = @_;
    my %f = (team => 'alpha', key => "$H/line-1/3", region => 'us-east-1',
        units => 2, started => 1796199000, ends => 1796200000, due => 1796200000,
        attempts => 0, alerted => 0, pending => 0, claimed => 0, owner => '',
        nonce => $nonce, %o);
    return "lease team $f{team} key $f{key} region $f{region} units $f{units} "
        . "started $f{started} ends $f{ends} due $f{due} attempts $f{attempts} "
        . "alerted $f{alerted} pending $f{pending} claimed $f{claimed} owner "
        . "$f{owner} nonce $f{nonce}\nok requests";
}

sub limits_doc {
    my (%o) = @_;
    my %a = (pk => [ S => 'team#alpha' ], sk => [ S => 'limits' ],
        ver => [ N => 7 ], win => [ N => 1796169600 ], used => [ N => 12 ],
        excess => [ N => 1500 ], last_ms => [ N => '1796199000123' ],
        expires => [ N => 1803975000 ], %o);
    return '{"Item":{' . join(',', map { defined $a{$_}
        ? qq("$_":{"$a{$_}[0]":) . js("$a{$_}[1]") . '}' : () } sort keys %a) . '}}';
}

my @store_items = (
    [ 'a lease', lease => lease_doc(), lease_line() ],
    [ 'a pending lease, claimed', lease => lease_doc(pending => [ N => 1 ],
        owner => [ S => 'ip-10-0-1-7.ec2.internal/4242' ], claimed => [ N => 1796199001 ]),
        lease_line(pending => 1, owner => 'ip-10-0-1-7.ec2.internal/4242',
        claimed => 1796199001) ],
    [ 'a lease without an end, alerted', lease => lease_doc(ends => [ N => 0 ],
        alerted => [ N => 1 ], attempts => [ N => 9 ]),
        lease_line(ends => 0, alerted => 1, attempts => 9) ],
    [ 'a lease of the longest names', lease => lease_doc(
        pk => [ S => 'team#' . 't' x 128 ],
        sk => [ S => 'model#' . 'h' x 255 . '/' . 'p' x 255 . '/' . '1' x 10 ],
        region => [ S => 'r' x 63 ]),
        lease_line(team => 't' x 128, key => 'h' x 255 . '/' . 'p' x 255 . '/' . '1' x 10,
        region => 'r' x 63) ],
    map({ [ "a lease without $_", lease => lease_doc($_ => undef),
        err($_ =~ /^(pk|sk|gpk|region|owner|nonce)$/
            ? 'a key or a string of the lease is missing'
            : 'a number of the lease is missing or out of range') ] }
        qw(pk sk gpk due region units started ends attempts alerted pending owner claimed nonce)),
    [ 'a lease with units of a string', lease => lease_doc(units => [ S => '2' ]),
        err('a number of the lease is missing or out of range') ],
    [ 'a lease of 0 units', lease => lease_doc(units => [ N => 0 ]),
        err('the lease names no model, or a field is out of range') ],
    [ 'a lease of negative units', lease => lease_doc(units => [ N => -1 ]),
        err('a number of the lease is missing or out of range') ],
    [ 'a lease of 2^40 units', lease => lease_doc(units => [ N => 2 ** 40 ]),
        err('a number of the lease is missing or out of range') ],
    [ 'a lease pending 2', lease => lease_doc(pending => [ N => 2 ]),
        err('the lease names no model, or a field is out of range') ],
    [ 'a lease alerted 2', lease => lease_doc(alerted => [ N => 2 ]),
        err('the lease names no model, or a field is out of range') ],
    map({ [ "a lease of sk $_->[0]", lease => lease_doc(sk => [ S => $_->[1] ]),
        err($_->[2]) ] }
        [ 'model#', 'model#', 'the keys of the lease are not a lease\'s' ],
        [ 'limits', 'limits', 'the keys of the lease are not a lease\'s' ],
        [ 'lease#...', "lease#$H/p/1", 'the keys of the lease are not a lease\'s' ],
        [ 'with one slash', "model#$H/p", 'the lease names no model, or a field is out of range' ],
        [ 'with three slashes', "model#$H/p/1/2", 'the lease names no model, or a field is out of range' ],
        [ 'with //', "model#$H//1", 'the lease names no model, or a field is out of range' ],
        [ 'ending in /', "model#$H/p/", 'the lease names no model, or a field is out of range' ],
        [ 'starting with /', "model#/p/1", 'the lease names no model, or a field is out of range' ],
        [ 'of 523 bytes of key', 'model#' . 'h' x 256 . '/' . 'p' x 255 . '/' . '1' x 10,
          'the keys of the lease are not a lease\'s' ]),
    [ 'a lease of pk team#', lease => lease_doc(pk => [ S => 'team#' ]),
        err('the keys of the lease are not a lease\'s') ],
    [ 'a lease of a team of 129 bytes', lease => lease_doc(pk => [ S => 'team#' . 't' x 129 ]),
        err('the keys of the lease are not a lease\'s') ],
    [ 'a lease of gpk "leases"', lease => lease_doc(gpk => [ S => 'leases' ]),
        err('the keys of the lease are not a lease\'s') ],
    [ 'a lease of an empty region', lease => lease_doc(region => [ S => '' ]),
        err('the lease names no model, or a field is out of range') ],
    [ 'a lease of a region of 64 bytes', lease => lease_doc(region => [ S => 'r' x 64 ]),
        err('the lease names no model, or a field is out of range') ],
    [ 'a lease of a nonce of 15 bytes', lease => lease_doc(nonce => [ S => 'a' x 15 ]),
        err('the lease names no model, or a field is out of range') ],
    [ 'a lease of a nonce in upper case', lease => lease_doc(nonce => [ S => 'A' x 16 ]),
        err('the nonce of the lease is not hexadecimal') ],
    [ 'a lease of a nonce with a space', lease => lease_doc(nonce => [ S => '0123456789abcde ' ]),
        err('the nonce of the lease is not hexadecimal') ],
    [ 'no item', lease => '{}', err('no item') ],

    [ 'limits', limits => limits_doc(),
        "limits ver 7 win 1796169600 used 12 excess 1500 last 1796199000123 admitted \nok admits 0" ],
    [ 'limits admitting one', limits => limits_doc(admitted => [ S => $nonce ]),
        "limits ver 7 win 1796169600 used 12 excess 1500 last 1796199000123 admitted $nonce\nok admits 1" ],
    [ 'limits admitting three', limits => limits_doc(admitted =>
        [ S => join ' ', $nonce, 'f' x 16, '0' x 16 ]),
        'limits ver 7 win 1796169600 used 12 excess 1500 last 1796199000123 admitted '
        . join('\x20', $nonce, 'f' x 16, '0' x 16) . "\nok admits 3" ],
    [ 'limits admitting none', limits => limits_doc(admitted => [ S => '' ]),
        "limits ver 7 win 1796169600 used 12 excess 1500 last 1796199000123 admitted \nok admits 0" ],
    map({ [ "limits admitting \"$_\"", limits => limits_doc(admitted => [ S => $_ ]),
        err('the team\'s item admits no nonces') ] }
        'a' x 15, 'a' x 17, "$nonce ", " $nonce", "$nonce  $nonce", "$nonce,$nonce",
        'G' x 16, 'A' x 16),
    [ 'limits admitting a number', limits => limits_doc(admitted => [ N => 1 ]),
        err('the team\'s item admits no nonces') ],
    map({ [ "limits without $_", limits => limits_doc($_ => undef),
        err('the team\'s item lacks a number of its own') ] }
        qw(ver win used excess last_ms)),
    [ 'limits of version 0', limits => limits_doc(ver => [ N => 0 ]),
        err('the team\'s item has version 0') ],
    [ 'limits of a negative use', limits => limits_doc(used => [ N => -1 ]),
        err('the team\'s item lacks a number of its own') ],
);

my @store_got = batch(map { [ $_->[1], $_->[2] ] } @store_items);
for my $i (0 .. $#store_items) {
    is($store_got[$i], $store_items[$i][3], "store item: $store_items[$i][0]");
}

done_testing();

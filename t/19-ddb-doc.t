#!/usr/bin/perl

# DynamoDB's bodies (ngx_http_lfv_ddb_doc.c) against a real DynamoDB
# implementation, without nginx: requests written by the writer
# (build/unit/ddb_driver, "write") sent as they are to dynalite
# (LFV::Sim->call_raw), and dynalite's raw answers read by the parsers:
# PutItem and UpdateItem with conditions that hold and that fail,
# GetItem, Query with Limit and ExclusiveStartKey, DeleteItem; every
# value comes back as written (strings of every UTF-8 length and every
# escape, int64's bounds, an item of 16 attributes at their longest);
# ConditionalCheckFailedException and dynalite's other errors read as
# such; and what dynalite holds that the store must refuse (a BOOL, a
# number past int64) refused.  t/ddb-parsers.t has the rules one by one.
#
# LFV_DDB_CORPUS=DIR writes each answer read here to DIR (the seeds of
# t/fuzz/corpus/fuzz_ddb were made so).

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Fcntl qw(:flock);

# only dynalite runs here: no nginx, so no module is needed
BEGIN { $ENV{LFV_NO_MODULE} = 1 }

use lib 't/lib';
use LFV::Test;
use LFV::Sim;

my $t = LFV::Test->new;
my $root = $t->repo;

BAIL_OUT('dynalite not installed: run make dynalite')
    unless -f "$root/build/node/node_modules/dynalite/cli.js";

sub sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

# the driver, built as t/ddb-parsers.t builds it

open my $lock, '<', "$root/t/unit/Makefile" or die "t/unit/Makefile: $!";
flock($lock, LOCK_EX) or die "flock: $!";
my $out = qx{make -s -C @{[ sh_quote($root) ]} unit 2>&1};
is($?, 0, 'make unit builds the drivers') or diag($out);
close $lock;

my $driver = "$root/build/unit/ddb_driver";
ok(-x $driver, 'build/unit/ddb_driver exists') or BAIL_OUT('no ddb_driver');

my $n = 0;

sub driver {
    my ($mode, $input) = @_;
    my $file = $t->prefix . '/ddb-input';
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh "$mode\n", $input // '';
    close $fh;
    local $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0';
    local $ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1';
    my $got = qx{@{[ sh_quote($driver) ]} < @{[ sh_quote($file) ]} 2>&1};
    is($?, 0, "ddb_driver $mode: exit 0") or diag($got);
    return $got;
}

sub esc {
    my ($s) = @_;
    $s =~ s/([^\x21-\x5b\x5d-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

sub hx { return unpack 'H*', $_[0] }

sub S { return [ 'S', @_ ] }
sub N { return [ 'N', @_ ] }

# a request in the driver's write format (t/unit/ddb_driver.c)

sub request {
    my (%r) = @_;
    my @l = ("op\t$r{op}");
    for my $f (qw(table pk sk update key_condition condition)) {
        push @l, "$f\t" . hx($r{$f}) if defined $r{$f};
    }
    for my $f (qw(item value start)) {
        push @l, map {
            join "\t", $f, $_->[0], hx($_->[1]),
                $_->[0] eq 'S' ? hx($_->[2]) : $_->[2]
        } @{ $r{$f} || [] };
    }
    push @l, map { join "\t", 'name', hx($_->[0]), hx($_->[1]) }
        @{ $r{names} || [] };
    push @l, map { "$_\t$r{$_}" } grep { defined $r{$_} }
        qw(limit return consistent);
    return join "\n", @l;
}

my $ddb = LFV::Sim->dynalite($t);
my $T = 'lfv-teams';
$ddb->create_table($T);

# write the request, send it as it is, read the answer as mode says;
# returns (status, the parser's lines, the body sent, the raw answer)

sub send_read {
    my ($mode, %r) = @_;
    my $w = driver('write', request(%r));
    my ($target, $body, $ok) = split /\n/, $w, 3;
    $body //= '';
    chomp($ok //= '');
    is("$target\n$ok", "target DynamoDB_20120810.$r{op}\nok " . length($body),
        "$r{op}: written") or diag($w);
    my ($answer, $status) = $ddb->call_raw($r{op}, $body);
    if ($ENV{LFV_DDB_CORPUS} && defined $answer) {
        my $f = sprintf('%s/dynalite-%02d-%s-%s', $ENV{LFV_DDB_CORPUS}, ++$n,
            lc $r{op}, $status // 'none');
        open my $fh, '>:raw', $f or die "$f: $!";
        print $fh $answer;
        close $fh;
    }
    my $read = driver($mode, $answer);
    chomp $read;
    return ($status // 0, $read, $body, $answer // '');
}

# the parser's lines of an item, in any order, and the last line

sub sorted {
    my ($read) = @_;
    my @l = split /\n/, $read;
    my $last = pop @l;
    return [ sort(@l), $last ];
}

sub lines {
    return map {
        "$_->[0] " . esc($_->[1]) . ' '
            . ($_->[0] eq 'S' ? esc($_->[2]) : $_->[2])
    } @_;
}

sub item_is {
    my ($read, $attrs, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply(sorted($read), [ sort(lines(@$attrs)),
        'ok item ' . scalar @$attrs ], $name) or diag($read);
}

my $ccf = "type ConditionalCheckFailedException\n"
    . "message The\\x20conditional\\x20request\\x20failed\nok";

my %key = (table => $T, pk => 'team#a', sk => 'state');
my @key = (S('pk', 'team#a'), S('sk', 'state'));

# every byte that must be escaped, and characters of every UTF-8 length
my $hard = join('', map { chr } 1 .. 0x1f) . "\"\\/\x7f "
    . "\xc2\x80\xc3\xa9\xdf\xbf\xe0\xa0\x80\xe2\x82\xac\xe2\x80\xa8\xef\xbf"
    . "\xbf\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";

my @attrs = (N('n', 0), N('ver', 1), S('who', 'alice'), S('hard', $hard),
    N('max', '9223372036854775807'), N('min', '-9223372036854775808'),
    N('neg', -7), S('empty', ''));

# ---------------------------------------------------------------- PutItem

my ($st, $read, $body, $answer) = send_read(put => op => 'PutItem', %key,
    item => \@attrs, condition => 'attribute_not_exists(pk)');
is("$st $answer", '200 {}', 'PutItem, attribute_not_exists(pk): 200 {}');
is($read, 'ok no item', 'PutItem: read as no item');

($st, $read, $body, $answer) = send_read(error => op => 'PutItem', %key,
    item => [ S('who', 'bob') ], condition => 'attribute_not_exists(pk)');
is($st, 400, 'PutItem again, attribute_not_exists(pk): 400');
is($read, $ccf, 'read as ConditionalCheckFailedException and its message');
like($answer, qr/^\{"__type":"com\.amazonaws\.dynamodb\.v20120810#/,
    "dynalite's __type has its prefix");

# ---------------------------------------------------------------- GetItem

($st, $read, $body) = send_read(get => op => 'GetItem', %key,
    consistent => 1);
is($st, 200, 'GetItem ConsistentRead: 200');
like($body, qr/"ConsistentRead":true\}$/, 'GetItem: ConsistentRead sent');
item_is($read, [ @key, @attrs ], 'GetItem: every value as written');

($st, $read) = send_read(get => op => 'GetItem', %key, sk => 'nothing');
is("$st $read", '200 ok no item', 'GetItem of a missing item: no item');

# ---------------------------------------------------------------- UpdateItem

my %cond = (op => 'UpdateItem', %key,
    update => 'SET #w = :w, #v = #v + :one',
    condition => '#v = :ver', names => [ [ '#w', 'who' ], [ '#v', 'ver' ] ],
    return => 'ALL_NEW');

($st, $read) = send_read(error => %cond, value => [ S(':w', "carol \xc3\xa9"),
    N(':one', 1), N(':ver', 7) ]);
is($st, 400, 'UpdateItem whose condition fails: 400');
is($read, $ccf, 'read as ConditionalCheckFailedException');

($st, $read) = send_read(update => %cond, value => [ S(':w', "carol \xc3\xa9"),
    N(':one', 1), N(':ver', 1) ]);
is($st, 200, 'UpdateItem whose condition holds: 200');
my @new = (@key, N('n', 0), N('ver', 2), S('who', "carol \xc3\xa9"),
    @attrs[3 .. $#attrs]);
item_is($read, \@new, 'ALL_NEW: the new item');

($st, $read) = send_read(update => op => 'UpdateItem', %key,
    update => 'ADD #n :inc', names => [ [ '#n', 'n' ] ],
    value => [ N(':inc', -5) ], return => 'UPDATED_NEW');
item_is($read, [ N('n', -5) ], 'ADD -5, UPDATED_NEW: n');
$new[2] = N('n', -5);

($st, $read) = send_read(update => op => 'UpdateItem', %key,
    update => 'SET big = :b', value => [ N(':b', '9223372036854775807') ],
    return => 'UPDATED_OLD');
is("$st $read", '200 ok item 0',
    'UPDATED_OLD of a new attribute: dynalite answers {"Attributes":{}}, '
    . 'read as an empty item');

($st, $read) = send_read(update => op => 'UpdateItem', %key,
    update => 'ADD big :one', value => [ N(':one', 1) ],
    return => 'UPDATED_NEW');
is($st, 200, 'ADD past int64: dynalite takes it (38 digits)');
is($read, 'error: an N value is out of the int64 range',
    'the answer past int64: refused');

($st, $read) = send_read(update => op => 'UpdateItem', %key,
    update => 'REMOVE big');
is("$st $read", '200 ok no item', 'REMOVE, no ReturnValues: {}');

# ---------------------------------------------------------------- PutItem ALL_OLD

($st, $read) = send_read(put => op => 'PutItem', %key,
    item => [ N('n', 1) ], return => 'ALL_OLD');
is($st, 200, 'PutItem over the item, ALL_OLD: 200');
item_is($read, \@new, 'ALL_OLD: the item replaced');

# ---------------------------------------------------------------- the longest item

my @longest = map { S($_ x 64, "\xf0\x9f\x98\x80" x 256) } 'a' .. 'n';
my %long = (table => $T, pk => "\xe2\x82\xac" x 341 . 'x',
    sk => $hard x 2);

($st) = send_read(put => op => 'PutItem', %long, item => \@longest);
is($st, 200, 'PutItem of 16 attributes at their longest: 200');
($st, $read) = send_read(get => op => 'GetItem', %long, consistent => 1);
item_is($read, [ S('pk', $long{pk}), S('sk', $long{sk}), @longest ],
    'GetItem: 16 attributes, 1024 bytes each, as written');

# ---------------------------------------------------------------- Query

for my $i (1 .. 5) {
    ($st) = send_read(put => op => 'PutItem', table => $T, pk => 'team#q',
        sk => sprintf('w#%04d', $i * 10), item => [ N('i', $i) ]);
    $st == 200 or diag "PutItem w#$i: $st";
}

sub qitem {
    return ('item', lines(S('pk', 'team#q'), S('sk', sprintf('w#%04d', $_[0] * 10)),
        N('i', $_[0])));
}

my %query = (op => 'Query', table => $T,
    key_condition => 'pk = :p AND begins_with(sk, :w)',
    value => [ S(':p', 'team#q'), S(':w', 'w#') ]);

($st, $read) = send_read('query 2' => %query, limit => 2, consistent => 1);
is($st, 200, 'Query Limit 2: 200');
is($read, join("\n", qitem(1), qitem(2), 'last_key',
    lines(S('pk', 'team#q'), S('sk', 'w#0020')), 'ok items 2 scanned 2 more 1'),
    'Query Limit 2: two items and LastEvaluatedKey');

($st, $read) = send_read('query 10' => %query, limit => 10,
    start => [ S('pk', 'team#q'), S('sk', 'w#0020') ]);
is($read, join("\n", qitem(3), qitem(4), qitem(5),
    'ok items 3 scanned 3 more 0'),
    'Query from ExclusiveStartKey: the rest, no LastEvaluatedKey');

($st, $read) = send_read('query 2' => %query, limit => 3);
is($read, 'error: more Items than asked for',
    'Query of 3 read into room for 2: refused');

($st, $read) = send_read('query 0' => %query, limit => 5,
    value => [ S(':p', 'team#none'), S(':w', 'w#') ]);
is("$st $read", '200 ok items 0 scanned 0 more 0', 'Query of nothing');

($st, $read) = send_read('query 5' => op => 'Query', table => $T,
    key_condition => '#p = :p AND #s BETWEEN :a AND :b',
    names => [ [ '#p', 'pk' ], [ '#s', 'sk' ] ],
    value => [ S(':p', 'team#q'), S(':a', 'w#0020'), S(':b', 'w#0040') ],
    limit => 5);
is($read, join("\n", qitem(2), qitem(3), qitem(4),
    'ok items 3 scanned 3 more 0'), 'Query BETWEEN with names');

# ---------------------------------------------------------------- DeleteItem

($st, $read) = send_read(error => op => 'DeleteItem', %key,
    condition => 'n = :n', value => [ N(':n', 9) ]);
is("$st\n$read", "400\n$ccf", 'DeleteItem whose condition fails');

($st, $read) = send_read(delete => op => 'DeleteItem', %key,
    condition => 'n = :n', value => [ N(':n', 1) ], return => 'ALL_OLD');
is($st, 200, 'DeleteItem whose condition holds: 200');
item_is($read, [ @key, N('n', 1) ], 'DeleteItem ALL_OLD: the item');

($st, $read) = send_read(get => op => 'GetItem', %key, consistent => 1);
is("$st $read", '200 ok no item', 'GetItem after the delete: no item');

($st, $read) = send_read(delete => op => 'DeleteItem', %key,
    return => 'ALL_OLD');
is("$st $read", '200 ok no item', 'DeleteItem of a missing item: {}');

# ---------------------------------------------------------------- errors

($st, $read) = send_read(error => op => 'GetItem', %key, table => 'nope');
is("$st\n$read", "400\ntype ResourceNotFoundException\nmessage "
    . esc('Requested resource not found') . "\nok",
    'GetItem of a missing table: ResourceNotFoundException');

($st, $read) = send_read(error => op => 'Query', table => $T,
    key_condition => 'pk = :p', limit => 1);
is($st, 400, 'Query without its value: 400');
like($read, qr/^type ValidationException\nmessage \S+\nok$/,
    'read as ValidationException with its message');

my ($raw, $rst) = $ddb->call_raw(GetItem => '{"TableName":');
is($rst, 400, 'a body cut short: 400');
is(driver(error => $raw), "type SerializationException\nok\n",
    'SerializationException: no message');

($raw, $rst) = $ddb->call_raw(Scan => '{"TableName":"' . $T . '"}',
    headers => [ 'X-Amz-Target' => 'DynamoDB_20120810.Nothing' ]);
is(driver(error => $raw), "type UnknownOperationException\nok\n",
    'UnknownOperationException');

# ---------------------------------------------------------------- what dynalite holds that we refuse

($answer, $st) = $ddb->call(PutItem => { TableName => $T, Item => {
    pk => { S => 'team#x' }, sk => { S => 'bool' },
    flag => { BOOL => JSON::PP::true } } });
($st, $read) = send_read(get => op => 'GetItem', table => $T, pk => 'team#x',
    sk => 'bool');
is("$st $read", '200 error: an attribute of type BOOL',
    'an item with a BOOL (written by another client): refused');

($answer, $st) = $ddb->call(PutItem => { TableName => $T, Item => {
    pk => { S => 'team#x' }, sk => { S => 'frac' }, f => { N => '1.50' } } });
($st, $read) = send_read(get => op => 'GetItem', table => $T, pk => 'team#x',
    sk => 'frac');
is("$st $read", '200 error: an N value has a fraction (integers only)',
    'a number with a fraction: refused');

($answer, $st) = $ddb->call(PutItem => { TableName => $T, Item => {
    pk => { S => 'team#x' }, sk => { S => 'norm' }, a => { N => '007' },
    b => { N => '-0' }, c => { N => '1e2' }, d => { N => '10.000' } } });
($st, $read) = send_read(get => op => 'GetItem', table => $T, pk => 'team#x',
    sk => 'norm');
item_is($read, [ S('pk', 'team#x'), S('sk', 'norm'), N('a', 7), N('b', 0),
    N('c', 100), N('d', 10) ],
    'numbers dynalite was given as 007, -0, 1e2, 10.000: it answers 7, 0, '
    . '100, 10');

$ddb->stop_store;

$t->done;

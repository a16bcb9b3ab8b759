#!/usr/bin/perl

# The DynamoDB of the tests, without nginx: dynalite (npm's, installed by
# `make dynalite` under build/node) started by LFV::Sim on 127.0.0.1 only,
# in memory, and the team-state table of the coming feature (pk HASH, sk
# RANGE, PAY_PER_REQUEST) made ACTIVE by create_table. Then what the
# feature will rely on, in JSON 1.0 through LFV::Sim's call(): PutItem,
# GetItem, UpdateItem with a ConditionExpression that fails
# (ConditionalCheckFailedException, 400) and that passes, an ADD counter
# with UPDATED_NEW, Query with BETWEEN and with <, DeleteItem; and, pinned
# so that a new dynalite that changes them is noticed, what dynalite does
# not have (UpdateTimeToLive, TTL expiry, ReturnValuesOnConditionCheckFailure,
# TransactWriteItems / TransactGetItems, PartiQL). Then t/sim/ddb_proxy.py in
# front of it: every request forwarded as is; every fault kind on every
# target with a count (whether the write reached the store or not), target
# all, hang released and not, delay, the counters and the journal, the
# store stopped behind it. Last, stop_store / start_store on the same port:
# in memory the data are gone, with path => they survive.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

# only dynalite and the proxy run here: no nginx, so no module is needed
BEGIN { $ENV{LFV_NO_MODULE} = 1 }

use lib 't/lib';
use LFV::Test;
use LFV::Sim;

my $t = LFV::Test->new;

BAIL_OUT('dynalite not installed: run make dynalite')
    unless -f $t->repo . '/build/node/node_modules/dynalite/cli.js';

my $T = 'lfv-teams';
my $ddb = LFV::Sim->dynalite($t);

like($ddb->{port}, qr/^[1-9]\d*$/, 'dynalite: a port');
is($ddb->{url}, "http://127.0.0.1:$ddb->{port}", 'dynalite: its url');
ok($t->wait_port($ddb->{port}, 1), 'dynalite: accepts on 127.0.0.1');
ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.2', PeerPort => $ddb->{port}, Proto => 'tcp',
    Timeout => 1), 'dynalite: not on another address (127.0.0.2)');
like(LFV::Test::_slurp($t->prefix . '/dynalite.log'),
    qr{^Dynalite listening at: http://127\.0\.0\.1:$ddb->{port}$}m, 'dynalite: its log');

sub S { return { S => "$_[0]" } }
sub N { return { N => "$_[0]" } }
sub key { return { pk => S($_[0]), sk => S($_[1]) } }

sub err_type {
    my ($a) = @_;
    return (($a // {})->{__type} // '') =~ /#(\w+)$/ ? $1 : undef;
}

# ---------------------------------------------------------------- the table

my ($a, $st, $r) = $ddb->call(GetItem => { TableName => $T, Key => key('x', 'y') });
is($st, 400, 'GetItem before the table: 400');
is(err_type($a), 'ResourceNotFoundException', 'GetItem before the table: ResourceNotFoundException');

($a, $st) = $ddb->call(ListTables => {}, headers => [ Authorization => 'Bearer x' ]);
is("$st " . (err_type($a) // ''), '400 MissingAuthenticationTokenException',
    'an Authorization that is not AWS4-: refused (call sends a SigV4-looking one)');
($a, $st) = $ddb->call(ListTables => {}, headers => [ Authorization => undef ]);
is(err_type($a), 'MissingAuthenticationTokenException', 'no Authorization: refused');
($a, $st) = $ddb->call(ListTables => {}, headers => [ 'X-Amz-Date' => undef ]);
is(err_type($a), 'IncompleteSignatureException', 'no X-Amz-Date: IncompleteSignatureException');
($a, $st) = $ddb->call(ListTables => {});
is($st, 200, 'ListTables: 200 (the signature itself is not checked)');

my $desc = $ddb->create_table($T);
is($desc->{TableStatus}, 'ACTIVE', 'create_table: ACTIVE');
is_deeply($desc->{KeySchema}, [ { AttributeName => 'pk', KeyType => 'HASH' },
    { AttributeName => 'sk', KeyType => 'RANGE' } ], 'key schema: pk HASH, sk RANGE');
is_deeply([ sort map { "$_->{AttributeName}:$_->{AttributeType}" } @{ $desc->{AttributeDefinitions} } ],
    [ 'due:N', 'gpk:S', 'pk:S', 'sk:S' ], 'attributes: pk S, sk S, gpk S, due N');
is_deeply([ map { [ $_->{IndexName}, $_->{IndexStatus},
    [ map { "$_->{AttributeName}:$_->{KeyType}" } @{ $_->{KeySchema} } ],
    $_->{Projection}{ProjectionType} ] } @{ $desc->{GlobalSecondaryIndexes} || [] } ],
    [ [ 'due', 'ACTIVE', [ 'gpk:HASH', 'due:RANGE' ], 'ALL' ] ],
    'the index "due": gpk HASH, due RANGE, all attributes, ACTIVE');
is($desc->{BillingModeSummary}{BillingMode}, 'PAY_PER_REQUEST', 'BillingMode PAY_PER_REQUEST');
is($ddb->{ttl}, 0, 'create_table: no TTL (dynalite has no UpdateTimeToLive)');

($a, $st) = $ddb->call(UpdateTimeToLive => { TableName => $T,
    TimeToLiveSpecification => { AttributeName => 'expires', Enabled => JSON::PP::true } });
is("$st " . (err_type($a) // ''), '400 UnknownOperationException', 'not in dynalite: UpdateTimeToLive');
($a, $st) = $ddb->call(DescribeTimeToLive => { TableName => $T });
is($a->{TimeToLiveDescription}{TimeToLiveStatus}, 'DISABLED', 'DescribeTimeToLive: always DISABLED');

($a, $st) = $ddb->call(CreateTable => { TableName => $T,
    KeySchema => [ { AttributeName => 'pk', KeyType => 'HASH' } ],
    AttributeDefinitions => [ { AttributeName => 'pk', AttributeType => 'S' } ],
    BillingMode => 'PAY_PER_REQUEST' });
is("$st " . (err_type($a) // ''), '400 ResourceInUseException', 'CreateTable again: ResourceInUseException');

# ---------------------------------------------------------------- items

my $item = { %{ key('team#a', 'state') }, n => N(0), ver => N(1), expires => N(time + 3600),
    who => S('alice') };
($a, $st, $r) = $ddb->call(PutItem => { TableName => $T, Item => $item });
is($st, 200, 'PutItem: 200');
is_deeply($a, {}, 'PutItem: {}');
is($r->{headers}{'content-type'}, 'application/x-amz-json-1.0', 'answer: application/x-amz-json-1.0');
like($r->{headers}{'x-amzn-requestid'} // '', qr/^[A-Z0-9]{52}$/, 'answer: x-amzn-RequestId');
like($r->{headers}{'x-amz-crc32'} // '', qr/^\d+$/, 'answer: x-amz-crc32');

($a, $st) = $ddb->call(GetItem => { TableName => $T, Key => key('team#a', 'state'),
    ConsistentRead => JSON::PP::true });
is($st, 200, 'GetItem: 200');
is_deeply($a->{Item}, $item, 'GetItem: the item');

($a, $st, $r) = $ddb->call(PutItem => { TableName => $T, Item => { %$item, who => S('bob') },
    ConditionExpression => 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure => 'ALL_OLD' });
is($st, 400, 'PutItem attribute_not_exists(pk) on an item: 400');
is(err_type($a), 'ConditionalCheckFailedException', 'ConditionalCheckFailedException');
is($a->{message}, 'The conditional request failed', 'its message');
ok(!exists $a->{Item}, 'not in dynalite: ReturnValuesOnConditionCheckFailure (accepted, no Item)');
ok(!defined $r->{headers}{'x-amzn-errortype'}, 'dynalite errors: no x-amzn-ErrorType, only __type');
is(scalar $ddb->call(GetItem => { TableName => $T, Key => key('team#a', 'state') })->{Item}{who}{S},
    'alice', 'the failed put changed nothing');

my %cond = (TableName => $T, Key => key('team#a', 'state'),
    UpdateExpression => 'SET #w = :w, #v = #v + :one',
    ConditionExpression => '#v = :ver',
    ExpressionAttributeNames => { '#w' => 'who', '#v' => 'ver' },
    ReturnValues => 'ALL_NEW');
($a, $st) = $ddb->call(UpdateItem => { %cond,
    ExpressionAttributeValues => { ':w' => S('carol'), ':one' => N(1), ':ver' => N(7) } });
is("$st " . (err_type($a) // ''), '400 ConditionalCheckFailedException',
    'UpdateItem whose condition fails: 400 ConditionalCheckFailedException');
($a, $st) = $ddb->call(UpdateItem => { %cond,
    ExpressionAttributeValues => { ':w' => S('carol'), ':one' => N(1), ':ver' => N(1) } });
is($st, 200, 'UpdateItem whose condition holds: 200');
is_deeply([ $a->{Attributes}{who}, $a->{Attributes}{ver} ], [ S('carol'), N(2) ],
    'ALL_NEW: the new item');

my %add = (TableName => $T, UpdateExpression => 'ADD #n :inc SET #e = if_not_exists(#e, :e)',
    ExpressionAttributeNames => { '#n' => 'n', '#e' => 'expires' }, ReturnValues => 'UPDATED_NEW');
($a, $st) = $ddb->call(UpdateItem => { %add, Key => key('team#a', 'state'),
    ExpressionAttributeValues => { ':inc' => N(5), ':e' => N(1) } });
is($st, 200, 'ADD counter: 200');
is_deeply($a->{Attributes}, { n => N(5), expires => $item->{expires} },
    'ADD counter: UPDATED_NEW, if_not_exists kept expires');
($a) = $ddb->call(UpdateItem => { %add, Key => key('team#a', 'state'),
    ExpressionAttributeValues => { ':inc' => N(-2), ':e' => N(1) } });
is_deeply($a->{Attributes}{n}, N(3), 'ADD -2: 3');
($a) = $ddb->call(UpdateItem => { %add, Key => key('team#a', 'new'),
    ExpressionAttributeValues => { ':inc' => N(1), ':e' => N(42) } });
is_deeply($a->{Attributes}, { n => N(1), expires => N(42) }, 'ADD on a missing item creates it');

# a bounded counter: the add only while under the limit
my %bounded = (TableName => $T, Key => key('team#a', 'bounded'), UpdateExpression => 'ADD #n :one',
    ConditionExpression => 'attribute_not_exists(#n) OR #n < :lim',
    ExpressionAttributeNames => { '#n' => 'n' }, ReturnValues => 'UPDATED_NEW',
    ExpressionAttributeValues => { ':one' => N(1), ':lim' => N(2) });
my @got = map { my ($x, $s) = $ddb->call(UpdateItem => \%bounded); $s == 200 ? $x->{Attributes}{n}{N} : err_type($x) } 1 .. 3;
is_deeply(\@got, [ 1, 2, 'ConditionalCheckFailedException' ], 'a bounded counter: 1, 2, then refused');

# ---------------------------------------------------------------- Query

for my $i (1 .. 5) {
    ($a, $st) = $ddb->call(PutItem => { TableName => $T,
        Item => { %{ key('team#q', sprintf('w#%04d', $i * 10)) }, i => N($i) } });
    $st == 200 or diag "PutItem w#$i: $st";
}
$ddb->call(PutItem => { TableName => $T, Item => { %{ key('team#other', 'w#0020') } } });

sub sks { return [ map { $_->{sk}{S} } @{ $_[0]{Items} || [] } ] }

($a, $st) = $ddb->call(Query => { TableName => $T, ConsistentRead => JSON::PP::true,
    KeyConditionExpression => 'pk = :p AND sk BETWEEN :a AND :b',
    ExpressionAttributeValues => { ':p' => S('team#q'), ':a' => S('w#0020'), ':b' => S('w#0040') } });
is($st, 200, 'Query BETWEEN: 200');
is_deeply(sks($a), [ 'w#0020', 'w#0030', 'w#0040' ], 'Query BETWEEN: both ends included, in order');
is($a->{Count}, 3, 'Query BETWEEN: Count');

($a, $st) = $ddb->call(Query => { TableName => $T,
    KeyConditionExpression => 'pk = :p AND sk < :x', ScanIndexForward => JSON::PP::false,
    ExpressionAttributeValues => { ':p' => S('team#q'), ':x' => S('w#0030') } });
is_deeply(sks($a), [ 'w#0020', 'w#0010' ], 'Query sk < :x, ScanIndexForward false: descending');

($a, $st) = $ddb->call(Query => { TableName => $T, Limit => 2,
    KeyConditionExpression => 'pk = :p AND begins_with(sk, :w)',
    ExpressionAttributeValues => { ':p' => S('team#q'), ':w' => S('w#') } });
is_deeply([ sks($a), $a->{LastEvaluatedKey} ], [ [ 'w#0010', 'w#0020' ], key('team#q', 'w#0020') ],
    'Query Limit 2: two items and LastEvaluatedKey');
($a, $st) = $ddb->call(Query => { TableName => $T, Limit => 10,
    KeyConditionExpression => 'pk = :p AND begins_with(sk, :w)', ExclusiveStartKey => $a->{LastEvaluatedKey},
    ExpressionAttributeValues => { ':p' => S('team#q'), ':w' => S('w#') } });
is_deeply([ sks($a), exists $a->{LastEvaluatedKey} ? 1 : 0 ], [ [ 'w#0030', 'w#0040', 'w#0050' ], 0 ],
    'Query from ExclusiveStartKey: the rest, no LastEvaluatedKey');

# ---------------------------------------------------------------- DeleteItem

($a, $st) = $ddb->call(DeleteItem => { TableName => $T, Key => key('team#a', 'new'),
    ConditionExpression => '#n = :n', ExpressionAttributeNames => { '#n' => 'n' },
    ExpressionAttributeValues => { ':n' => N(9) } });
is(err_type($a), 'ConditionalCheckFailedException', 'DeleteItem whose condition fails');
($a, $st) = $ddb->call(DeleteItem => { TableName => $T, Key => key('team#a', 'new'),
    ReturnValues => 'ALL_OLD' });
is($st, 200, 'DeleteItem: 200');
is_deeply($a->{Attributes}, { %{ key('team#a', 'new') }, n => N(1), expires => N(42) },
    'DeleteItem ALL_OLD: the item');
($a, $st) = $ddb->call(GetItem => { TableName => $T, Key => key('team#a', 'new') });
is_deeply([ $st, $a ], [ 200, {} ], 'GetItem after the delete: 200 {}');
($a, $st) = $ddb->call(DeleteItem => { TableName => $T, Key => key('team#a', 'new') });
is($st, 200, 'DeleteItem of a missing item: 200');

# ---------------------------------------------------------------- what dynalite has not

($a, $st) = $ddb->call(PutItem => { TableName => $T,
    Item => { %{ key('team#ttl', 'old') }, expires => N(int(time) - 86400) } });
($a) = $ddb->call(GetItem => { TableName => $T, Key => key('team#ttl', 'old') });
ok($a->{Item}, 'not in dynalite: TTL expiry (an item expired a day ago is read back)');

for my $op (qw(TransactWriteItems TransactGetItems ExecuteStatement BatchExecuteStatement
               ExecuteTransaction UpdateTimeToLive DescribeEndpoints))
{
    ($a, $st) = $ddb->call($op => {});
    is("$st " . (err_type($a) // ''), '400 UnknownOperationException', "not in dynalite: $op");
}

($a, $st) = $ddb->call(BatchWriteItem => { RequestItems => { $T => [
    { PutRequest => { Item => key('team#b', '1') } }, { PutRequest => { Item => key('team#b', '2') } } ] } });
is_deeply([ $st, $a->{UnprocessedItems} ], [ 200, {} ], 'BatchWriteItem: 200, nothing unprocessed');
($a, $st) = $ddb->call(BatchGetItem => { RequestItems => { $T => { Keys => [ key('team#b', '1'),
    key('team#b', '2') ] } } });
is(scalar @{ $a->{Responses}{$T} || [] }, 2, 'BatchGetItem: both');

# ---------------------------------------------------------------- the fault proxy

my $px = LFV::Sim->ddb_proxy($t, upstream => $ddb);
like($px->{port}, qr/^[1-9]\d*$/, 'ddb_proxy: ready holds the port');
isnt($px->{port}, $ddb->{port}, 'ddb_proxy: its own port');
is($px->{url}, "http://127.0.0.1:$px->{port}", 'ddb_proxy: its url');

($a, $st, $r) = $px->call(GetItem => { TableName => $T, Key => key('team#a', 'state') });
is($st, 200, 'through the proxy: 200');
is($a->{Item}{who}{S}, 'carol', 'through the proxy: the item');
like($r->{headers}{'x-amz-crc32'} // '', qr/^\d+$/, "through the proxy: dynalite's x-amz-crc32");
($a, $st) = $px->call(GetItem => { TableName => $T });
is("$st " . (err_type($a) // ''), '400 ValidationException', "through the proxy: dynalite's 400");
$r = $t->http(port => $px->{port}, path => '/');
like($r->{body} // '', qr/^healthy: /, "through the proxy: a GET, dynalite's health answer");

my @j = $px->journal;
is(scalar @j, 3, 'journal: a line per request');
is_deeply([ @{ $j[0] }{qw(target status fault forwarded upstream_status method path)} ],
    [ 'GetItem', 200, undef, JSON::PP::true, 200, 'POST', '/' ], 'journal: the first request');
is_deeply($j[0]{request}, { TableName => $T, Key => key('team#a', 'state') },
    'journal: the request body as JSON');
is($j[0]{x_amz_target}, 'DynamoDB_20120810.GetItem', 'journal: the X-Amz-Target');
is($j[0]{response}{Item}{who}{S}, 'carol', "journal: dynalite's answer");
is_deeply([ $j[2]{target}, $j[2]{request}, $j[2]{status} ], [ undef, undef, 200 ],
    'journal: the GET (no target, no body)');
is_deeply($px->control(GET => 'counters'),
    { GetItem => 2, PutItem => 0, UpdateItem => 0, DeleteItem => 0, Query => 0, other => 1, total => 3 },
    'counters');
is_deeply($px->control(POST => 'reset'),
    { GetItem => 0, PutItem => 0, UpdateItem => 0, DeleteItem => 0, Query => 0, other => 0, total => 0 },
    'reset zeroes them');

# the control API's refusals
for my $bad ([ { kind => 'slow' }, 'kind must be' ], [ { kind => 'throttle', target => 'Scan' }, 'target must be' ],
    [ { kind => 'throttle', count => 0 }, 'count must be' ], [ { kind => 'delay' }, '"delay" needs' ],
    [ { kind => 'throttle', forward => JSON::PP::true }, 'takes no forward' ],
    [ { kind => 'reset', forward => 1 }, '"forward" must be' ])
{
    my $res = $px->control(POST => 'fault', $bad->[0]);
    like(ref $res ? $res->{error} // '' : $res, qr/\Q$bad->[1]\E/, 'fault refused: ' . encode_json($bad->[0]));
}
is($px->control(GET => 'fault')->{GetItem}{kind}, 'none', 'nothing set by a refused fault');
like($t->http(port => $px->{port}, path => '/_sim/nothing')->{status}, qr/^404$/, 'unknown control path: 404');

# one request of each target; what it does, so its effect can be looked for
my $seq = 0;
sub op_request {
    my ($op) = @_;
    $seq++;
    return { TableName => $T, Key => key('team#f', 'counter') } if $op eq 'GetItem';
    return { TableName => $T, Item => { %{ key('team#f', "put#$seq") } } } if $op eq 'PutItem';
    return { TableName => $T, Key => key('team#f', 'counter'), UpdateExpression => 'ADD n :one',
        ExpressionAttributeValues => { ':one' => N(1) }, ReturnValues => 'UPDATED_NEW' }
        if $op eq 'UpdateItem';
    return { TableName => $T, Key => key('team#f', "del#$seq") } if $op eq 'DeleteItem';
    return { TableName => $T, KeyConditionExpression => 'pk = :p',
        ExpressionAttributeValues => { ':p' => S('team#f') } };
}
sub counter { my $x = $ddb->call(GetItem => { TableName => $T, Key => key('team#f', 'counter') });
              return ($x->{Item} || {})->{n}{N} // 0 }
sub exists_item { my $x = $ddb->call(GetItem => { TableName => $T, Key => key('team#f', $_[0]) });
                  return $x->{Item} ? 1 : 0 }

# whether the faulted request reached dynalite: UpdateItem's ADD shows it
# (the counter), PutItem too (the item is there); for the others the journal
my %reaches = (throttle => 0, status500 => 0, reset => 0, garbage => 1, truncated => 1);
my @ops = qw(GetItem PutItem UpdateItem DeleteItem Query);
for my $kind (qw(throttle status500 garbage truncated reset)) {
    for my $op (@ops) {
        my $c0 = counter();
        my $set = $px->control(POST => 'fault', { kind => $kind, target => $op, count => 1 });
        is_deeply([ $set->{$op}{kind}, $set->{$op}{count} ], [ $kind, 1 ], "$kind $op: set, count 1");
        my $other = $op eq 'GetItem' ? 'Query' : 'GetItem';
        my (undef, $ost) = $px->call($other => op_request($other));
        is($ost, 200, "$kind $op: $other not met");
        my $req = op_request($op);
        my $lines = () = $px->journal;
        ($a, $st, $r) = $px->call($op => $req);
        my $h = $r->{headers};
        if ($kind eq 'throttle') {
            is("$st " . (err_type($a) // ''), '400 ProvisionedThroughputExceededException', "$kind $op: 400");
            is($a->{__type}, 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
                "$kind $op: __type");
            is($h->{'x-amzn-errortype'}, 'ProvisionedThroughputExceededException', "$kind $op: x-amzn-ErrorType");
        } elsif ($kind eq 'status500') {
            is("$st " . (err_type($a) // ''), '500 InternalServerError', "$kind $op: 500 InternalServerError");
            is($h->{'x-amzn-errortype'}, 'InternalServerError', "$kind $op: x-amzn-ErrorType");
        } elsif ($kind eq 'garbage') {
            is($st, 200, "$kind $op: 200");
            ok(!defined $a && length($r->{body} // '') && !$r->{incomplete}, "$kind $op: a whole body, not JSON");
        } elsif ($kind eq 'truncated') {
            is($st, 200, "$kind $op: 200");
            ok($r->{incomplete} && length($r->{body}) < $h->{'content-length'},
                "$kind $op: fewer bytes than Content-Length, then closed")
                or diag explain $r;
        } else {
            ok(!defined $st && !$r->{timed_out}, "$kind $op: closed, no answer") or diag explain $r;
        }
        my @jl = $px->journal;
        is(scalar @jl, $lines + 1, "$kind $op: journaled");
        my $e = $jl[-1] || {};
        is_deeply([ @$e{qw(target fault)}, $e->{forwarded} ? 1 : 0, $e->{request} ],
            [ $op, $kind, $reaches{$kind}, $req ], "$kind $op: journal target, fault, forwarded, request");
        is($e->{status}, $kind eq 'reset' ? undef : $st, "$kind $op: journal status");
        if ($op eq 'UpdateItem') {
            is(counter(), $c0 + $reaches{$kind}, "$kind $op: the ADD " . ($reaches{$kind} ? 'applied' : 'not applied'));
        } elsif ($op eq 'PutItem') {
            is(exists_item($req->{Item}{sk}{S}), $reaches{$kind}, "$kind $op: the item " . ($reaches{$kind} ? 'written' : 'not written'));
        }
        (undef, $st) = $px->call($op => op_request($op));
        is($st, 200, "$kind $op: count used up, the next one answered");
        is($px->control(GET => 'fault')->{$op}{kind}, 'none', "$kind $op: none again");
    }
}

# status500 and reset with forward: the request reaches dynalite first
for my $kind (qw(status500 reset)) {
    my $c0 = counter();
    $px->control(POST => 'fault', { kind => $kind, target => 'UpdateItem', count => 1, forward => JSON::PP::true });
    ($a, $st) = $px->call(UpdateItem => op_request('UpdateItem'));
    is($st, $kind eq 'reset' ? undef : 500, "$kind forward: " . ($kind eq 'reset' ? 'no answer' : '500'));
    is(counter(), $c0 + 1, "$kind forward: the ADD applied all the same");
    is(($px->journal)[-1]{upstream_status}, 200, "$kind forward: journal, dynalite answered 200");
}

# target all, count 2: each target's next two
$px->control(POST => 'reset');
$px->control(POST => 'fault', { kind => 'throttle', count => 2 });
for my $op (@ops) {
    my @s = map { my (undef, $s) = $px->call($op => op_request($op)); $s } 1 .. 3;
    is_deeply(\@s, [ 400, 400, 200 ], "target all, count 2: $op throttled twice, then answered");
}
(undef, $st) = $px->call(DescribeTable => { TableName => $T });
is($st, 200, 'target all: another operation (DescribeTable) never met');
is_deeply($px->control(GET => 'counters'),
    { GetItem => 3, PutItem => 3, UpdateItem => 3, DeleteItem => 3, Query => 3, other => 1, total => 16 },
    'counters: every request, faulted ones too');

# no count: until set again
$px->control(POST => 'fault', { kind => 'status500', target => 'Query' });
my @s = map { my (undef, $s) = $px->call(Query => op_request('Query')); $s } 1 .. 3;
is_deeply(\@s, [ 500, 500, 500 ], 'no count: every request');
is($px->control(GET => 'fault')->{Query}{count}, undef, 'no count: count null');
$px->control(POST => 'fault', { kind => 'none', target => 'Query' });
(undef, $st) = $px->call(Query => op_request('Query'));
is($st, 200, 'none: answered again');

# delay
$px->control(POST => 'fault', { kind => 'delay', target => 'GetItem', seconds => 0.6, count => 1 });
my $t0 = time;
($a, $st) = $px->call(GetItem => op_request('GetItem'));
my $took = time - $t0;
is($st, 200, 'delay: answered as usual');
ok($took >= 0.6 && $took < 5, 'delay: after 0.6 s') or diag "took $took s";
is(($px->journal)[-1]{fault}, 'delay', 'delay: journaled');

# hang, not released: the client gives up; the line written when it ends
my $c0 = counter();
$px->control(POST => 'fault', { kind => 'hang', target => 'UpdateItem', count => 1 });
my $lines = () = $px->journal;
($a, $st, $r) = $px->call(UpdateItem => op_request('UpdateItem'), timeout => 1);
ok($r->{timed_out}, 'hang: no answer within 1 s');
my $deadline = time + 5;
sleep 0.05 while (() = $px->journal) == $lines && time < $deadline;
my $e = ($px->journal)[-1];
is_deeply([ @$e{qw(target fault status)}, $e->{forwarded} ? 1 : 0 ], [ 'UpdateItem', 'hang', undef, 0 ],
    'hang: journaled unanswered, not forwarded, once the client went away');
is(counter(), $c0, 'hang: the ADD not applied');

# hang, released by setting the fault again: forwarded and answered then
$px->control(POST => 'fault', { kind => 'hang', target => 'UpdateItem' });
my $out = $t->prefix . '/hang.json';
my $before = $px->control(GET => 'counters')->{UpdateItem};
my $pid = fork // die "fork: $!";
if (!$pid) {
    my ($x, $s) = $px->call(UpdateItem => op_request('UpdateItem'), timeout => 20);
    if (open my $fh, '>', "$out.tmp") {
        print $fh encode_json({ status => $s, answer => $x });
        close $fh;
        rename "$out.tmp", $out;
    }
    POSIX::_exit(0);
}
$deadline = time + 10;
sleep 0.05 while $px->control(GET => 'counters')->{UpdateItem} == $before && time < $deadline;
sleep 0.3;
ok(!-e $out, 'hang: no answer while the fault holds');
$t0 = time;
$px->control(POST => 'fault', { kind => 'none', target => 'UpdateItem' });
$deadline = time + 10;
sleep 0.02 until -e $out || time > $deadline;
waitpid($pid, 0);
my $res = eval { decode_json(LFV::Test::_slurp($out)) } || {};
is($res->{status}, 200, 'hang released: answered');
is_deeply($res->{answer}{Attributes}{n}, N($c0 + 1), 'hang released: the ADD applied then');
ok(time - $t0 < 2, 'hang released: at once');
is_deeply([ @{ ($px->journal)[-1] }{qw(fault status upstream_status)} ], [ 'hang', 200, 200 ],
    'hang released: journaled');

# ---------------------------------------------------------------- the store goes away

is($ddb->stop_store, 1, 'stop_store');
ok(!$ddb->store_running, 'stop_store: dynalite gone');
ok(!$t->wait_port($ddb->{port}, 0.2), 'stop_store: its port closed');
($a, $st, $r) = $ddb->call(GetItem => op_request('GetItem'));
like($r->{error} // '', qr/connect/, 'the store stopped: connection refused');
($a, $st, $r) = $px->call(GetItem => op_request('GetItem'));
ok(!defined $st && !$r->{timed_out}, 'the store stopped, through the proxy: closed, no answer');
$e = ($px->journal)[-1];
like($e->{upstream_error} // '', qr/Connection ?Refused|refused/i, 'journal: upstream_error');
is_deeply([ $e->{status}, $e->{forwarded} ? 1 : 0 ], [ undef, 0 ], 'journal: not forwarded, no status');

my $port = $ddb->{port};
$ddb->start_store;
is($ddb->{port}, $port, 'start_store: the same port');
ok($ddb->store_running, 'start_store: running');
($a, $st) = $px->call(GetItem => { TableName => $T, Key => key('team#a', 'state') });
is(err_type($a), 'ResourceNotFoundException', 'in memory: the table is gone after a restart');
$ddb->create_table($T);
($a, $st) = $px->call(GetItem => { TableName => $T, Key => key('team#a', 'state') });
is_deeply([ $st, $a ], [ 200, {} ], 'the table made anew, through the proxy: empty');

# with path =>: LevelDB under the prefix, the data survive a restart
my $disk = LFV::Sim->dynalite($t, name => 'dynalite-disk', path => 'db');
is($disk->{path}, $t->prefix . '/dynalite-disk/db', 'path: under the test prefix');
isnt($disk->{port}, $ddb->{port}, 'a second dynalite: its own port');
$disk->create_table($T);
$disk->call(PutItem => { TableName => $T, Item => { %{ key('team#d', 'state') }, n => N(7) } });
$disk->stop_store;
ok(-e "$disk->{path}/CURRENT", 'path: a LevelDB directory');
$disk->start_store;
($a, $st) = $disk->call(GetItem => { TableName => $T, Key => key('team#d', 'state') });
is_deeply($a->{Item}{n}, N(7), 'path: the item survived stop_store / start_store');
eval { $disk->start_store };
like($@, qr/already running/, 'start_store while running: refused');

# ---------------------------------------------------------------- stopped

is($t->kill_spawned('ddb_proxy'), 1, 'ddb_proxy: SIGTERM');
ok(!-e "$px->{dir}/ready", 'ddb_proxy: the ready file removed at exit');
my $plog = LFV::Test::_slurp($t->prefix . '/ddb_proxy.log');
like($plog, qr/^ddb_proxy: stopped$/m, 'ddb_proxy: stopped cleanly');
unlike($plog, qr/Traceback/, 'ddb_proxy: no traceback');
for my $d ($ddb, $disk) {
    $d->stop_store;
    ok(!$t->wait_port($d->{port}, 0.1), "$d->{name}: stopped, port closed");
    unlike(LFV::Test::_slurp($t->prefix . "/$d->{name}.log"), qr/Error|at .*\.js:\d+/,
        "$d->{name}: no error in its log");
}

$t->done;

#!/usr/bin/perl

# The state file of lfv_policy_zone (ngx_http_lfv_state_doc.c), through
# build/unit/state_driver: valid documents, every rule of the format
# broken once on both sides of its bound, every prefix and every
# one-byte change of a valid document refused, a handler that refuses a
# record, and the writer: exactly the documents built here (CRCs
# computed here), parsed back to the same records, and each record the
# parser would refuse refused.
#
# Each parse case: name, document, the driver's answer: one line per
# record the handler got, then "ok N", or only "error: line L: <err>"
# ("error: <err>" about the whole document).

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Spec;
use Fcntl qw(:flock);
use File::Temp qw(tempdir);

my $root = File::Spec->rel2abs("$FindBin::Bin/..");

sub sh_quote { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

###############################################################################

# CRC-32 (ISO-HDLC, as nginx's ngx_crc32_long): String::CRC32 where
# Debian has it installed, else this

my @crc_table = map {
    my $c = $_;
    $c = ($c & 1) ? (0xedb88320 ^ ($c >> 1)) : ($c >> 1) for 1 .. 8;
    $c;
} 0 .. 255;

my $crc32 = eval { require String::CRC32; \&String::CRC32::crc32 }
    // sub {
        my $c = 0xffffffff;
        $c = $crc_table[($c ^ $_) & 0xff] ^ ($c >> 8) for unpack 'C*', $_[0];
        return $c ^ 0xffffffff;
    };

# the document: the header, the lines, the end line

sub body { return join '', "lfv-state 1\n", map { "$_\n" } @_ }

sub end_line {
    my ($body, $count) = @_;
    return sprintf "end %d %08x\n", $count, $crc32->($body);
}

sub doc {
    my $body = body(@_);
    return $body . end_line($body, scalar @_);
}

# a team as the format encodes it, and as the driver prints it

sub enc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub esc {
    my ($s) = @_;
    $s =~ s/([^\x21-\x5b\x5d-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

# the driver's answer for a valid document of these lines

sub answer {
    my @out = map {
        my @f = split / /, $_, -1;
        (my $team = $f[1]) =~ s/%([0-9A-F]{2})/chr hex $1/ge;
        join ' ', $f[0], esc($team), @f[2 .. $#f];
    } @_;
    return join "\n", @out, 'ok ' . scalar @_;
}

sub ok_doc {
    my ($name, @lines) = @_;
    return [ $name, doc(@lines), answer(@lines) ];
}

sub err {
    my ($line, $msg) = @_;
    return $line ? "error: line $line: $msg" : "error: $msg";
}

# a team and a lease line, one field (index 0 is the keyword) changed

my @T = ('team', 'team-a', '1700000000', '12', '500', '250');
my @L = ('lease', 'team-a', 'us-east-1',
    'lookoutvision.us-east-1.amazonaws.com', 'proj-1', '3', '2',
    '1700000100', '1700003700');

sub tline { my %o = @_; my @f = @T; $f[$_] = $o{$_} for keys %o; "@f" }
sub lline { my %o = @_; my @f = @L; $f[$_] = $o{$_} for keys %o; "@f" }

my $max = 1 << 40;
my $max1 = $max + 1;
my $team = tline();
my $lease = lline();
my $d1 = doc($team);
my $d2 = doc($team, $lease);
my $empty = "lfv-state 1\nend 0 813a7c70\n";

my @cases;

###############################################################################

# valid documents

push @cases,
    [ 'empty state', $empty, 'ok 0' ],
    ok_doc('empty state, built here'),
    [ 'one team', $d1, "team team-a 1700000000 12 500 250\nok 1" ],
    ok_doc('teams', $team, tline(1 => 'b', 2 => 0, 3 => 0, 4 => 0, 5 => 0),
        tline(1 => 'c.d_e~f-9Z')),
    ok_doc('a lease', $lease),
    ok_doc('teams and leases in any order', $lease, $team,
        lline(1 => 'team-b', 8 => 0), tline(1 => 'team-b'), $lease),
    ok_doc('two lines of one team: both given', $team, $team),
    [ 'encoded team with spaces',
        doc(tline(1 => 'data%20science%20team')),
        "team data\\x20science\\x20team 1700000000 12 500 250\nok 1" ],
    [ 'encoded team of UTF-8 bytes',
        doc(tline(1 => '%C3%A9quipe-%E2%82%AC')),
        "team \\xc3\\xa9quipe-\\xe2\\x82\\xac 1700000000 12 500 250\nok 1" ],
    [ 'encoded "%", "/", "+", NUL, DEL, 0xff',
        doc(tline(1 => '%25%2F%2B%00%7F%FF')),
        "team %/+\\x00\\x7f\\xff 1700000000 12 500 250\nok 1" ],
    ok_doc('team of one byte', tline(1 => 'a')),
    ok_doc('team of one encoded byte', tline(1 => '%20')),
    ok_doc('team of 128 bytes', tline(1 => 'x' x 128)),
    ok_doc('team of 128 encoded bytes (384 characters)',
        tline(1 => '%C3' x 128)),
    ok_doc('team of 128: 127 and one encoded', tline(1 => 'x' x 127 . '%20')),
    ok_doc('every byte but the unreserved encoded',
        map { tline(1 => enc(join '', map { chr } $_ * 64 .. $_ * 64 + 63)) }
            0 .. 3),
    ok_doc('numbers 0', tline(2 => 0, 3 => 0, 4 => 0, 5 => 0)),
    ok_doc('numbers at the bound 2^40',
        tline(2 => $max, 3 => $max, 4 => $max, 5 => $max)),
    ok_doc('region of 1', lline(2 => 'a')),
    ok_doc('region "-"', lline(2 => '-')),
    ok_doc('region of 63', lline(2 => 'a-9' x 21)),
    ok_doc('host of 1', lline(3 => 'h')),
    ok_doc('host with a port', lline(3 => '127.0.0.1:8443')),
    ok_doc('host IPv6 without brackets', lline(3 => '::1')),
    ok_doc('host of 255', lline(3 => 'A.b-:9' x 42 . 'xyz')),
    ok_doc('project of 1', lline(4 => 'p')),
    ok_doc('project starting with a digit', lline(4 => '9_-')),
    ok_doc('project of 255', lline(4 => 'Ab' . ('_-9z' x 63) . 'q')),
    ok_doc('version 1', lline(5 => 1)),
    ok_doc('version of 10 digits', lline(5 => '9999999999')),
    ok_doc('units 1', lline(6 => 1)),
    ok_doc('units 2147483647', lline(6 => 2147483647)),
    ok_doc('started 0, no end', lline(7 => 0, 8 => 0)),
    ok_doc('no end', lline(8 => 0)),
    ok_doc('ends when it starts', lline(7 => 5, 8 => 5)),
    ok_doc('times at 2^40', lline(7 => $max, 8 => $max)),
    ok_doc('1000 records', map { tline(1 => "t$_") } 1 .. 1000);

# the longest line: every field at its longest

my $longest = lline(1 => '%FF' x 128, 2 => 'a' x 63, 3 => 'h' x 255,
    4 => 'p' x 255, 5 => '9' x 10, 6 => 2147483647, 7 => $max, 8 => $max);

push @cases, ok_doc('the longest line (1017 bytes)', $longest);

###############################################################################

# the document

push @cases,
    [ 'empty input', '', err(0, 'the document is empty') ],
    [ 'header only', "lfv-state 1\n", err(0, 'no end line (truncated)') ],
    [ 'no end line', body($team, $lease), err(0, 'no end line (truncated)') ],
    [ 'header without LF', 'lfv-state 1',
        err(1, 'the last line has no LF (truncated)') ],
    [ 'end line without LF', substr($d2, 0, -1),
        err(4, 'the last line has no LF (truncated)') ],
    [ 'record line without LF', substr(body($team), 0, -1),
        err(2, 'the last line has no LF (truncated)') ],
    [ 'junk after the end line', "${d1}x",
        err(4, 'data after the end line') ],
    [ 'LF after the end line', "$d1\n", err(4, 'data after the end line') ],
    [ 'NUL after the end line', "$d1\x00",
        err(4, 'data after the end line') ],
    [ 'a second document', $d1 . $d1, err(4, 'data after the end line') ],
    [ 'a record after the end line', "$d1$team\n",
        err(4, 'data after the end line') ],
    [ 'count too high', body($team) . end_line(body($team), 2),
        err(3, 'the record count does not match') ],
    [ 'count too low', body($team, $lease) . end_line(body($team, $lease), 1),
        err(4, 'the record count does not match') ],
    [ 'count 0 with records', body($team) . end_line(body($team), 0),
        err(3, 'the record count does not match') ],
    [ 'count 1 without records', "lfv-state 1\n" . end_line("lfv-state 1\n", 1),
        err(2, 'the record count does not match') ],
    [ 'count with a leading zero', "lfv-state 1\nend 00 813a7c70\n",
        err(2, 'a number has a leading zero') ],
    [ 'count not a number', "lfv-state 1\nend x 813a7c70\n",
        err(2, 'a number has a byte other than 0-9') ],
    [ 'count over 2^40', "lfv-state 1\nend $max1 813a7c70\n",
        err(2, 'a number is too large') ],
    [ 'wrong CRC', "lfv-state 1\nend 0 813a7c71\n",
        err(2, 'the CRC does not match') ],
    [ 'CRC of the other document', "lfv-state 1\nend 0 "
        . sprintf('%08x', $crc32->(body($team))) . "\n",
        err(2, 'the CRC does not match') ],
    [ 'CRC including the end line', "lfv-state 1\nend 0 "
        . sprintf('%08x', $crc32->("lfv-state 1\nend 0 ")) . "\n",
        err(2, 'the CRC does not match') ],
    [ 'CRC of a changed byte', body(tline(3 => 13))
        . end_line(body($team), 1), err(3, 'the CRC does not match') ],
    [ 'CRC in upper case', "lfv-state 1\nend 0 813A7C70\n",
        err(2, 'the CRC is not 8 lower-case hex digits') ],
    [ 'CRC of 7 digits', "lfv-state 1\nend 0 13a7c70\n",
        err(2, 'the CRC is not 8 lower-case hex digits') ],
    [ 'CRC of 9 digits', "lfv-state 1\nend 0 0813a7c70\n",
        err(2, 'the CRC is not 8 lower-case hex digits') ],
    [ 'CRC with "0x"', "lfv-state 1\nend 0 0x813a7c70\n",
        err(2, 'the CRC is not 8 lower-case hex digits') ],
    [ 'CRC not hex', "lfv-state 1\nend 0 813a7c7g\n",
        err(2, 'the CRC is not 8 lower-case hex digits') ],
    [ 'end line without a CRC', "lfv-state 1\nend 0\n",
        err(2, 'too few fields') ],
    [ 'end line alone', "lfv-state 1\nend\n", err(2, 'too few fields') ],
    [ 'end line with one field more', "lfv-state 1\nend 0 813a7c70 x\n",
        err(2, 'too many fields') ],
    [ 'no header', "team a 0 0 0 0\nend 1 00000000\n",
        err(1, 'no "lfv-state" header') ],
    [ 'end line first', "end 0 00000000\n",
        err(1, 'no "lfv-state" header') ],
    [ 'header in capitals', "LFV-STATE 1\nend 0 00000000\n",
        err(1, 'no "lfv-state" header') ],
    [ 'header of another name', "lfv-statex 1\nend 0 00000000\n",
        err(1, 'no "lfv-state" header') ],
    [ 'byte order mark', "\xef\xbb\xbf$empty",
        err(1, 'no "lfv-state" header') ],
    [ 'header without a version', "lfv-state\nend 0 00000000\n",
        err(1, 'too few fields') ],
    [ 'header with a field more', "lfv-state 1 1\nend 0 00000000\n",
        err(1, 'too many fields') ],
    [ 'version 2', "lfv-state 2\nend 0 00000000\n",
        err(1, 'unsupported version of the state file') ],
    [ 'version 0', "lfv-state 0\nend 0 00000000\n",
        err(1, 'unsupported version of the state file') ],
    [ 'version 01', "lfv-state 01\nend 0 00000000\n",
        err(1, 'a number has a leading zero') ],
    [ 'version 1.0', "lfv-state 1.0\nend 0 00000000\n",
        err(1, 'a number has a byte other than 0-9') ],
    [ 'a second header', doc('lfv-state 1'), err(2, 'a second header') ],
    [ 'unknown record type', doc('foo a 1'),
        err(2, 'an unknown record type') ],
    [ 'record type in capitals', doc(tline(0 => 'TEAM')),
        err(2, 'an unknown record type') ],
    [ 'record type "leases"', doc(lline(0 => 'leases')),
        err(2, 'an unknown record type') ],
    [ 'record type "ends"', doc('ends 0 00000000'),
        err(2, 'an unknown record type') ];

# lines

push @cases,
    [ 'empty line between records', doc($team, '', $team),
        err(3, 'an empty line') ],
    [ 'empty first line', "\n$empty", err(1, 'an empty line') ],
    [ 'CR LF line ends', ($d1 =~ s/\n/\r\n/gr),
        err(1, 'a CR in a line (lines end with LF alone)') ],
    [ 'CR LF on a record line', doc("$team\r"),
        err(2, 'a CR in a line (lines end with LF alone)') ],
    [ 'CR LF on the end line', substr($d1, 0, -1) . "\r\n",
        err(3, 'a CR in a line (lines end with LF alone)') ],
    [ 'CR inside a line', doc(tline(1 => "a\rb")),
        err(2, 'a CR in a line (lines end with LF alone)') ],
    [ 'two spaces', doc(tline(3 => ' 12')),
        err(2, 'two spaces between fields') ],
    [ 'two spaces after the keyword', doc('team  ' . join ' ', @T[1 .. 5]),
        err(2, 'two spaces between fields') ],
    [ 'two spaces in the header', "lfv-state  1\nend 0 00000000\n",
        err(1, 'two spaces between fields') ],
    [ 'two spaces in the end line', "lfv-state 1\nend  0 813a7c70\n",
        err(2, 'two spaces between fields') ],
    [ 'leading space', doc(" $team"), err(2, 'a line starts with a space') ],
    [ 'trailing space', doc("$team "), err(2, 'a line ends with a space') ],
    [ 'trailing space on the header', "lfv-state 1 \nend 0 00000000\n",
        err(1, 'a line ends with a space') ],
    [ 'a line of one space', doc(' '), err(2, 'a line starts with a space') ],
    [ 'tab between fields', doc(join "\t", @T),
        err(2, 'an unknown record type') ],
    [ 'tab before a number', doc(tline(3 => "\t12")),
        err(2, 'a number has a byte other than 0-9') ],
    [ 'team of 5 fields', doc(join ' ', @T[0 .. 4]), err(2, 'too few fields') ],
    [ 'team of 7 fields', doc("$team 1"), err(2, 'too many fields') ],
    [ 'team keyword alone', doc('team'), err(2, 'too few fields') ],
    [ 'lease of 8 fields', doc(join ' ', @L[0 .. 7]),
        err(2, 'too few fields') ],
    [ 'lease of 10 fields', doc("$lease 1"), err(2, 'too many fields') ],
    [ 'a line of 40 fields', doc(join ' ', 'team', ('1') x 39),
        err(2, 'too many fields') ],
    [ 'an error on a later line', doc($team, $lease, tline(2 => '01')),
        err(4, 'a number has a leading zero') ];

# numbers: the team's four, a lease's units and times

my @numbers = ([ 'window', \&tline, 2 ], [ 'used', \&tline, 3 ],
    [ 'excess', \&tline, 4 ], [ 'age', \&tline, 5 ],
    [ 'units', \&lline, 6 ], [ 'started', \&lline, 7 ],
    [ 'ends', \&lline, 8 ]);

for my $n (@numbers) {
    my ($what, $sub, $i) = @$n;
    my $line = sub { doc($sub->($i => $_[0])) };

    push @cases,
        [ "$what 01", $line->('01'), err(2, 'a number has a leading zero') ],
        [ "$what 00", $line->('00'), err(2, 'a number has a leading zero') ],
        [ "$what 0 and 40 digits", $line->('0' x 40),
            err(2, 'a number has a leading zero') ],
        [ "$what -1", $line->('-1'),
            err(2, 'a number has a byte other than 0-9') ],
        [ "$what +1", $line->('+1'),
            err(2, 'a number has a byte other than 0-9') ],
        [ "$what 1.0", $line->('1.0'),
            err(2, 'a number has a byte other than 0-9') ],
        [ "$what 1e3", $line->('1e3'),
            err(2, 'a number has a byte other than 0-9') ],
        [ "$what 0x10", $line->('0x10'),
            err(2, 'a number has a byte other than 0-9') ],
        [ "$what with a NUL", $line->("1\x002"),
            err(2, 'a number has a byte other than 0-9') ],
        [ "$what 2^40 + 1", $line->($max1),
            err(2, 'a number is too large') ],
        [ "$what 2^64", $line->('18446744073709551616'),
            err(2, 'a number is too large') ],
        [ "$what of 1000 digits", $line->('9' x 1000),
            err(2, 'a number is too large') ];
}

# the team's name

push @cases,
    [ 'team of 129 bytes', doc(tline(1 => 'x' x 129)),
        err(2, 'a team name is longer than 128 bytes') ],
    [ 'team of 129 encoded bytes', doc(tline(1 => '%20' x 129)),
        err(2, 'a team name is longer than 128 bytes') ],
    [ 'team of 128 and one encoded byte',
        doc(tline(1 => 'x' x 128 . '%20')),
        err(2, 'a team name is longer than 128 bytes') ],
    [ 'lower-case hex', doc(tline(1 => 'a%c3%a9')),
        err(2, 'a team name has lower-case hex in a %XX') ],
    [ 'lower-case second digit', doc(tline(1 => '%Ca')),
        err(2, 'a team name has lower-case hex in a %XX') ],
    [ 'lower-case first digit', doc(tline(1 => '%e2')),
        err(2, 'a team name has lower-case hex in a %XX') ],
    [ '%XX not hex', doc(tline(1 => '%G0')),
        err(2, 'a team name has a %XX that is not hex') ],
    [ '%XX of a space', doc(tline(1 => '%+1')),
        err(2, 'a team name has a %XX that is not hex') ],
    [ 'truncated %X', doc(tline(1 => 'a%4')),
        err(2, 'a team name has a truncated %XX') ],
    [ 'truncated %', doc(tline(1 => 'a%')),
        err(2, 'a team name has a truncated %XX') ],
    [ 'team "%"', doc(tline(1 => '%')),
        err(2, 'a team name has a truncated %XX') ],
    (map {
        [ sprintf('needlessly encoded "%s"', chr hex $_),
            doc(tline(1 => "a%$_")),
            err(2, 'a team name has a byte encoded that must not be') ]
    } qw(41 5A 61 7A 30 39 2E 5F 7E 2D)),
    (map {
        [ sprintf('byte 0x%02x not encoded', ord $_), doc(tline(1 => "a${_}b")),
            err(2, 'a team name has a byte not encoded that must be') ]
    } ('/', '+', '!', '*', "'", '(', '@', ':', "\x00", "\x7f", "\xc3",
       "\xff", "\t")),
    [ 'raw UTF-8', doc(tline(1 => "\xc3\xa9quipe")),
        err(2, 'a team name has a byte not encoded that must be') ];

# a lease's strings

push @cases,
    [ 'region of 64', doc(lline(2 => 'a' x 64)),
        err(2, 'a region is longer than 63 bytes') ],
    (map {
        [ "region \"$_\"", doc(lline(2 => $_)),
            err(2, 'a region has a byte out of [a-z0-9-]') ]
    } qw(US-EAST-1 us_east-1 us.east-1 us-east-1: %75s)),
    [ 'host of 256', doc(lline(3 => 'h' x 256)),
        err(2, 'a host is longer than 255 bytes') ],
    (map {
        [ "host \"$_\"", doc(lline(3 => $_)),
            err(2, 'a host has a byte out of [A-Za-z0-9.:-]') ]
    } ('[::1]', 'h_st', 'h/st', 'h%2Ft', "h\x00", "h\xc3\xa9")),
    [ 'project of 256', doc(lline(4 => 'p' x 256)),
        err(2, 'a project name is longer than 255 bytes') ],
    (map {
        [ "project \"$_\"", doc(lline(4 => $_)),
            err(2, 'a project name does not start with a letter or digit') ]
    } qw(_a -a _ - .a)),
    (map {
        [ "project \"$_\"", doc(lline(4 => $_)),
            err(2, 'a project name has a byte out of [a-zA-Z0-9_-]') ]
    } ('a.b', 'a~b', 'a:b', 'a%20', "a\x00", "caf\xc3\xa9")),
    [ 'version of 11 digits', doc(lline(5 => '1' x 11)),
        err(2, 'a model version is longer than 10 digits') ],
    [ 'version 0', doc(lline(5 => '0')),
        err(2, 'a model version starts with 0') ],
    [ 'version 01', doc(lline(5 => '01')),
        err(2, 'a model version starts with 0') ],
    (map {
        [ "version \"$_\"", doc(lline(5 => $_)),
            err(2, 'a model version has a byte other than 0-9') ]
    } qw(latest -1 +1 1.0 1e3 a)),
    [ 'units 0', doc(lline(6 => 0)),
        err(2, 'the units are out of 1..2147483647') ],
    [ 'units 2147483648', doc(lline(6 => 2147483648)),
        err(2, 'the units are out of 1..2147483647') ],
    [ 'units 2^40', doc(lline(6 => $max)),
        err(2, 'the units are out of 1..2147483647') ],
    [ 'ends one second before it starts', doc(lline(7 => 100, 8 => 99)),
        err(2, 'the lease ends before it starts') ],
    [ 'ends at 1, started at 2^40', doc(lline(7 => $max, 8 => 1)),
        err(2, 'the lease ends before it starts') ],
    [ 'the first broken field is named', doc(lline(2 => 'X', 6 => 0)),
        err(2, 'a region has a byte out of [a-z0-9-]') ];

###############################################################################

# no skipping: a driver that does not build is a failure; the lock
# keeps test files run in parallel from building into build/unit at once

open my $lock, '<', "$root/t/unit/Makefile" or die "t/unit/Makefile: $!";
flock($lock, LOCK_EX) or die "flock: $!";
my $out = qx{make -s -C @{[ sh_quote($root) ]} unit 2>&1};
is($?, 0, 'make unit builds the drivers') or diag($out);
close $lock;

my $driver = "$root/build/unit/state_driver";
ok(-x $driver, 'build/unit/state_driver exists') or do {
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

    local $ENV{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=0';
    local $ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1';

    my $cmd = sh_quote($driver) . ' < ' . sh_quote($file) . ' 2> '
        . sh_quote("$tmp/stderr");
    my $got = qx{$cmd};
    my $rc = $?;

    open my $eh, '<', "$tmp/stderr" or die "stderr: $!";
    my $stderr = do { local $/; <$eh> };
    close $eh;

    is($rc, 0, 'state_driver ran ' . scalar(@in) . ' inputs')
        or diag($stderr);
    is($stderr, '', 'state_driver: nothing on stderr');

    my (@answers, @cur);

    for my $l (split /\n/, $got) {
        push @cur, $l;

        if ($l =~ /^(ok \d+|error: .*|abort: .*|done|line_max \d+)$/) {
            push @answers, join "\n", @cur;
            @cur = ();
        }
    }

    push @answers, join "\n", @cur if @cur;

    is(scalar @answers, scalar @in, scalar(@in) . ' inputs answered');

    return @answers;
}

sub shown {
    my ($s) = @_;
    $s = substr($s, 0, 50) . '...(' . length($s) . ' bytes)'
        if length $s > 70;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

is(sprintf('%08x', $crc32->('123456789')), 'cbf43926',
    'the CRC-32 here: its check value');
is(sprintf('%08x', $crc32->("lfv-state 1\n")), '813a7c70',
    'the CRC-32 of the header');
is(length($longest) + 1, 1017, 'the longest line here is 1017 bytes');

my ($limits) = batch([ limits => '' ]);
is($limits, 'line_max 1017', 'NGX_HTTP_LFV_STATE_LINE_MAX is the longest line');

# the table

my @got = batch(map { [ parse => $_->[1] ] } @cases);

for my $i (0 .. $#cases) {
    is($got[$i], $cases[$i][2], 'parse: ' . shown($cases[$i][0]));
}

# a handler that refuses the second record (it gets it) stops the
# parse there

my $d3 = doc($team, $lease, tline(1 => 'c'));

is_deeply([ batch([ abort => $d3 ], [ abort => $d1 ], [ abort => $empty ],
        [ abort => substr($d3, 0, -2) . "\n" ]) ],
    [ "team team-a 1700000000 12 500 250\n" . answer($lease) =~ s/ok 1\z//r
        . 'abort: line 3: the record was refused',
      "team team-a 1700000000 12 500 250\nok 1", 'ok 0',
      err(5, 'the CRC is not 8 lower-case hex digits') ],
    'a refused record: NGX_ABORT on its line; nobody called on an error');

###############################################################################

# every prefix and every one-byte change of a valid document refused,
# no record given

my $mixed = doc(tline(1 => 'data%20science%20%C3%A9quipe'), $lease,
    lline(1 => '%2F', 3 => '127.0.0.1:8443', 8 => 0), tline(2 => 0));

for my $d ([ 'empty state', $empty ], [ 'mixed', $mixed ],
    [ 'the longest line', doc($longest) ])
{
    my ($name, $doc) = @$d;

    my @prefix = batch(map { [ parse => substr($doc, 0, $_) ] }
        0 .. length($doc) - 1);
    my @bad = grep { $prefix[$_] !~ /^error: [^\n]*\z/ } 0 .. $#prefix;

    is(scalar @bad, 0, "$name: all " . length($doc) . ' prefixes refused')
        or diag(join "\n", map { "prefix of $_: $prefix[$_]" }
            @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

    my @flip = batch(map {
        my $c = $doc;
        substr($c, $_, 1) = chr(ord(substr($c, $_, 1)) ^ 0x01);
        [ parse => $c ];
    } 0 .. length($doc) - 1);
    @bad = grep { $flip[$_] !~ /^error: [^\n]*\z/ } 0 .. $#flip;

    is(scalar @bad, 0, "$name: all " . length($doc) . ' one-byte changes '
        . 'refused') or diag(join "\n", map { "byte $_: $flip[$_]" }
            @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

###############################################################################

# the writer: records as the driver takes them (tab separated, strings
# in hex), the document it writes, that document parsed back

sub wteam {
    my ($t, @n) = @_;
    return join "\t", 'team', unpack('H*', $t), @n;
}

sub wlease {
    my ($t, @f) = @_;
    return join "\t", 'lease', map({ unpack 'H*', $_ } $t, @f[0 .. 3]),
        @f[4 .. 6];
}

my @lease_f = @L[2 .. 8];
my $all = join '', map { chr } 0 .. 255;

my @writes = (
    [ 'no records', [], [] ],
    [ 'a team', [ wteam('team-a', 1700000000, 12, 500, 250) ],
        [ tline() ] ],
    [ 'a lease', [ wlease('team-a', @lease_f) ], [ lline() ] ],
    [ 'team with spaces', [ wteam('data science team', 0, 0, 0, 0) ],
        [ tline(1 => 'data%20science%20team', 2 => 0, 3 => 0, 4 => 0,
            5 => 0) ] ],
    [ 'team of UTF-8 bytes', [ wteam("\xc3\xa9quipe", 1, 2, 3, 4) ],
        [ tline(1 => '%C3%A9quipe', 2 => 1, 3 => 2, 4 => 3, 5 => 4) ] ],
    [ 'every byte in two teams of 128',
        [ wteam(substr($all, 0, 128), 1, 2, 3, 4),
          wteam(substr($all, 128), 1, 2, 3, 4) ],
        [ tline(1 => enc(substr($all, 0, 128)), 2 => 1, 3 => 2, 4 => 3,
            5 => 4),
          tline(1 => enc(substr($all, 128)), 2 => 1, 3 => 2, 4 => 3,
            5 => 4) ] ],
    [ 'numbers at 2^40', [ wteam('t', $max, $max, $max, $max) ],
        [ tline(1 => 't', 2 => $max, 3 => $max, 4 => $max, 5 => $max) ] ],
    [ 'the longest line',
        [ wlease("\xff" x 128, 'a' x 63, 'h' x 255, 'p' x 255, '9' x 10,
            2147483647, $max, $max) ],
        [ $longest ] ],
    [ 'lease without an end', [ wlease('t', @lease_f[0 .. 5], 0) ],
        [ lline(1 => 't', 8 => 0) ] ],
    [ 'lease ending when it starts', [ wlease('t', @lease_f[0 .. 4], 7, 7) ],
        [ lline(1 => 't', 7 => 7, 8 => 7) ] ],
    [ 'teams and leases', [ wteam('a', 1, 2, 3, 4), wlease('a', @lease_f),
        wteam('b', 5, 6, 7, 8) ],
        [ tline(1 => 'a', 2 => 1, 3 => 2, 4 => 3, 5 => 4), lline(1 => 'a'),
          tline(1 => 'b', 2 => 5, 3 => 6, 4 => 7, 5 => 8) ] ],
);

# refused records: each one rule broken, between two good ones

my @refuse = (
    [ 'empty team', wteam('', 1, 2, 3, 4) ],
    [ 'team of 129', wteam('x' x 129, 1, 2, 3, 4) ],
    [ 'window -1', wteam('t', -1, 2, 3, 4) ],
    [ 'window 2^40 + 1', wteam('t', $max1, 2, 3, 4) ],
    [ 'used 2^40 + 1', wteam('t', 1, $max1, 3, 4) ],
    [ 'excess 2^40 + 1', wteam('t', 1, 2, $max1, 4) ],
    [ 'age 2^40 + 1', wteam('t', 1, 2, 3, $max1) ],
    [ 'age 2^64 - 1', wteam('t', 1, 2, 3, '18446744073709551615') ],
    [ 'record type 0', join("\t", 'other', unpack('H*', 't'), 1, 2, 3, 4) ],
    [ 'lease of an empty team', wlease('', @lease_f) ],
    [ 'lease of a team of 129', wlease('x' x 129, @lease_f) ],
    [ 'empty region', wlease('t', '', @lease_f[1 .. 6]) ],
    [ 'region of 64', wlease('t', 'a' x 64, @lease_f[1 .. 6]) ],
    [ 'region in capitals', wlease('t', 'US-EAST-1', @lease_f[1 .. 6]) ],
    [ 'region with a space', wlease('t', 'us east', @lease_f[1 .. 6]) ],
    [ 'empty host', wlease('t', $lease_f[0], '', @lease_f[2 .. 6]) ],
    [ 'host of 256', wlease('t', $lease_f[0], 'h' x 256, @lease_f[2 .. 6]) ],
    [ 'host with an LF', wlease('t', $lease_f[0], "h\n", @lease_f[2 .. 6]) ],
    [ 'empty project', wlease('t', @lease_f[0, 1], '', @lease_f[3 .. 6]) ],
    [ 'project "_a"', wlease('t', @lease_f[0, 1], '_a', @lease_f[3 .. 6]) ],
    [ 'project of 256',
        wlease('t', @lease_f[0, 1], 'p' x 256, @lease_f[3 .. 6]) ],
    [ 'project with a space',
        wlease('t', @lease_f[0, 1], 'a b', @lease_f[3 .. 6]) ],
    [ 'empty version', wlease('t', @lease_f[0 .. 2], '', @lease_f[4 .. 6]) ],
    [ 'version 0', wlease('t', @lease_f[0 .. 2], '0', @lease_f[4 .. 6]) ],
    [ 'version "latest"',
        wlease('t', @lease_f[0 .. 2], 'latest', @lease_f[4 .. 6]) ],
    [ 'version of 11 digits',
        wlease('t', @lease_f[0 .. 2], '1' x 11, @lease_f[4 .. 6]) ],
    [ 'units 0', wlease('t', @lease_f[0 .. 3], 0, @lease_f[5, 6]) ],
    [ 'units 2147483648',
        wlease('t', @lease_f[0 .. 3], 2147483648, @lease_f[5, 6]) ],
    [ 'units 2^40 + 1', wlease('t', @lease_f[0 .. 3], $max1, @lease_f[5, 6]) ],
    [ 'started -1', wlease('t', @lease_f[0 .. 4], -1, 0) ],
    [ 'started 2^40 + 1', wlease('t', @lease_f[0 .. 4], $max1, 0) ],
    [ 'ends -1', wlease('t', @lease_f[0 .. 4], 0, -1) ],
    [ 'ends 2^40 + 1', wlease('t', @lease_f[0 .. 4], 1, $max1) ],
    [ 'ends before it starts', wlease('t', @lease_f[0 .. 4], 100, 99) ],
);

for my $r (@refuse) {
    push @writes, [ "refused: $r->[0]",
        [ wteam('a', 1, 2, 3, 4), $r->[1], wteam('b', 1, 2, 3, 4) ],
        [ tline(1 => 'a', 2 => 1, 3 => 2, 4 => 3, 5 => 4),
          tline(1 => 'b', 2 => 1, 3 => 2, 4 => 3, 5 => 4) ], [ 2 ] ];
}

my @wrote = batch(map { [ write => join "\n", @{ $_->[1] } ] } @writes);

for my $i (0 .. $#writes) {
    my ($name, undef, $lines, $refused) = @{ $writes[$i] };
    my $expect = join '', map({ "refused $_\n" } @{ $refused // [] }),
        doc(@$lines), 'done';

    is($wrote[$i], $expect, 'write: ' . shown($name));
}

# the end line: the count given, over 2^40 refused

is_deeply([ batch([ write => "end\t$max" ], [ write => "end\t$max1" ],
        [ write => wteam('t', 1, 2, 3, 4) . "\nend\t0" ]) ],
    [ "lfv-state 1\nend $max " . sprintf('%08x', $crc32->("lfv-state 1\n"))
        . "\ndone",
      "refused end\nlfv-state 1\ndone",
      body(tline(1 => 't', 2 => 1, 3 => 2, 4 => 3, 5 => 4))
        . end_line(body(tline(1 => 't', 2 => 1, 3 => 2, 4 => 3, 5 => 4)), 0)
        . 'done' ],
    'write_end: any count up to 2^40, none over it');

# what the writer wrote, parsed back: the same records

my @docs = map { s/\A(?:refused \d+\n)*//r =~ s/done\z//r } @wrote;
my @back = batch(map { [ parse => $_ ] } @docs);

for my $i (0 .. $#writes) {
    my ($name, undef, $lines) = @{ $writes[$i] };
    is($back[$i], answer(@$lines), 'write, parse back: ' . shown($name));
}

# the example of docs/cost-guard.md is a valid file

my $page = do { local $/; open my $dh, '<', "$root/docs/cost-guard.md" or die; <$dh> };
my ($example) = $page =~ /^```\n(lfv-state 1\n.*?\nend \d+ [0-9a-f]{8}\n)```$/ms;
ok(defined $example, 'docs/cost-guard.md shows a state file');
my ($n) = ($example // '') =~ /^end (\d+) /m;
like((batch([ parse => $example // '' ]))[0], qr/\nok $n\z/,
    'which the parser takes, every record of it');

done_testing();

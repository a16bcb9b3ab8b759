#!/usr/bin/perl

# A reload that changes where fetched credentials come from (another IMDS
# endpoint, another container credentials URI: another task role) fetches
# anew and never signs with the old provider's keys; a reload that
# changes nothing fetches nothing.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;

# keys that last an hour: nothing is refreshed during the test on its own

my %sim = (
    imds_a => LFV::Sim->imds($t, name => 'imds-a', args => [ '--ttl', 3600 ]),
    imds_b => LFV::Sim->imds($t, name => 'imds-b', args => [ '--ttl', 3600 ]),
    role_a => LFV::Sim->container($t, name => 'role-a',
        args => [ '--ttl', 3600, '--path', '/v2/credentials/role-a' ]),
    role_b => LFV::Sim->container($t, name => 'role-b',
        args => [ '--ttl', 3600, '--path', '/v2/credentials/role-b' ]),
);

my %provider = (
    imds_a => "imds endpoint=http://127.0.0.1:$sim{imds_a}{port}",
    imds_b => "imds endpoint=http://127.0.0.1:$sim{imds_b}{port}",
    role_a => "container endpoint=http://127.0.0.1:$sim{role_a}{port}"
              . '/v2/credentials/role-a',
    role_b => "container endpoint=http://127.0.0.1:$sim{role_b}{port}"
              . '/v2/credentials/role-b',
);

my $lfv;
($t, $lfv) = LFV::Conf->start(t => $t, workers => 2,
    credentials => $provider{imds_a});

sub start { LFV::Conf->request($t, project => 'reload', @_) }
sub fetches { $sim{$_[0]}->control(GET => 'counters')->{credentials} // 0 }
sub current { $sim{$_[0]}->control(GET => 'current')->{AccessKeyId} }
sub key_used { my @j = $lfv->journal; return @j ? $j[-1]{access_key_id} : '' }

sub use_provider {
    my ($name) = @_;
    LFV::Conf->setup(t => $t, sim => $lfv, workers => 2,
        credentials => $provider{$name});
    $t->reload;
}

my $r = start();
is($r->{status}, 202, 'signed with the first IMDS endpoint');
is(key_used(), current('imds_a'), "with its keys");

# the same settings again: the keys stay, nothing is fetched

my $n = fetches('imds_a');
use_provider('imds_a');
is(start()->{status}, 202, 'reload with the same settings: signed');
is(fetches('imds_a'), $n, 'and nothing fetched');
is(key_used(), current('imds_a'), 'with the same keys');

# each change of settings: the next request is signed with the new
# provider's keys, fetched once

for my $name (qw(imds_b role_a role_b imds_a)) {
    $n = fetches($name);
    use_provider($name);

    $r = start();
    is($r->{status}, 202, "reload to $name: signed");
    is(key_used(), current($name), "reload to $name: with its keys");
    is(fetches($name), $n + 1, "reload to $name: fetched once");
}

# an IMDSv2 token is sent only to the endpoint that issued it: B asked
# for its own, and A again after B's had replaced it

is($sim{imds_b}->control(GET => 'counters')->{token}, 1,
    'the second IMDS endpoint was sent a token of its own');
is($sim{imds_a}->control(GET => 'counters')->{token}, 2,
    'and the first one asked for one anew after the way back');

# the container endpoint and key ids differ: no key of another provider
# was ever used after its reload

my %issued = map { $_ => 1 } map { current($_) } keys %sim;
is(scalar(keys %issued), 4, 'four providers, four keys');

$t->done;

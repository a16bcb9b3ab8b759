#!/usr/bin/perl

# A token that goes into a header of a metadata request must not carry
# CR, LF or NUL: an IMDSv2 token from a hostile metadata service, a
# container authorization token in its file or in the environment.  Such
# a token is refused with a clear error, and no request carries it.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $uri = '/2020-11-20/projects/tok/models/1/start';

sub start {
    my ($t) = @_;
    return $t->http(method => 'POST', path => $uri, body => '{"MinInferenceUnits":1}');
}

sub wait_log {
    my ($t, $re) = @_;
    my $deadline = time + 10;
    sleep 0.1 until $t->error_log =~ $re || time > $deadline;
    return $t->error_log =~ $re;
}

# ---------------------------------------------------------------- IMDSv2

{
    my $t = LFV::Test->new;

    # the token PUT is answered with NUL, CR and LF in the token
    my $imds = LFV::Sim->imds($t, args => [ '--fault', 'garbage:token' ]);
    LFV::Conf->start(t => $t, credentials => "imds endpoint=http://127.0.0.1:$imds->{port}",
        http => 'lfv_credentials_wait 300ms;');

    my $r = start($t);
    is($r->{status}, 503, 'IMDS token with control characters: no credentials, 503');
    ok(wait_log($t, qr/invalid IMDS token: a CR, LF, NUL or another control character/),
        'the refusal is logged');

    my $c = $imds->control(GET => 'counters');
    ok($c->{token} >= 1, "the token was asked for ($c->{token})");
    is($c->{role} // 0, 0, 'no request carried the token');

    $t->allow_log(qr/credentials refresh failed/);
    $t->checks;
}

# ---------------------------------------------------------------- container

for my $case ([ file => "pod-token-1\r\nX-Injected: 1\n" ], [ env => "pod-token-1\r\nX-Injected: 1" ]) {
    my ($where, $token) = @$case;

    my $t = LFV::Test->new;
    my $container = LFV::Sim->container($t,
        args => [ '--path', '/v2/credentials/pod-1', '--auth-token', 'pod-token-1' ]);

    local $ENV{AWS_CONTAINER_CREDENTIALS_FULL_URI} =
        "http://127.0.0.1:$container->{port}/v2/credentials/pod-1";
    local $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE};
    local $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN};

    if ($where eq 'file') {
        $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE} = $t->write_file('pod-token', $token);
    } else {
        $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN} = $token;
    }

    LFV::Conf->start(t => $t, credentials => 'container',
        http => 'lfv_credentials_wait 300ms;');

    my $r = start($t);
    is($r->{status}, 503, "container token with CR LF ($where): no credentials, 503");
    ok(wait_log($t, qr/the authorization token has a CR, LF, NUL or another control character/),
        "container token ($where): the refusal is logged");

    my $c = $container->control(GET => 'counters');
    is($c->{credentials} // 0, 0, "container token ($where): no request carried it");

    $t->allow_log(qr/credentials refresh failed/);
    $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE} = undef;
    $where eq 'env' ? $t->done : $t->checks;
}

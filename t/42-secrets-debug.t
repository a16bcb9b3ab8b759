#!/usr/bin/perl

# Secret hygiene with error_log at debug (Debian's nginx is a debug
# build): no secret key, session token, container or web identity token
# or signature written by the module appears in any log.  nginx's own proxy module
# dumps the upstream request header block at debug level; that block is
# the documented exception (the block and its per-header lines) and is
# cut out before the checks.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

BEGIN { $ENV{LFV_ERROR_LOG_LEVEL} = 'debug' }

# nginx with the given credentials provider, a rate and the status page

sub start {
    my ($t, $credentials, %o) = @_;

    return LFV::Conf->start(t => $t, credentials => $credentials, %o,
        http => <<'EOF',
    lfv_policy_zone teams:1m;
    lfv_policy t rate=1r/m burst=1 nodelay;
EOF
        server => <<'EOF',
        location = /lfv-status {
            lfv_status;
        }
EOF
        location => 'lfv_team $http_x_team;');
}

sub scenario {
    my ($t) = @_;
    my $uri = '/2020-11-20/projects/p/models/1/start';

    my @codes = map { $t->http(method => 'POST', path => $uri,
        headers => [ 'X-Team' => 't', @$_ ],
        body => '{"MinInferenceUnits":1}')->{status} }
        ([], [ 'X-Amzn-Client-Token' => 'c1' ], []);

    push @codes, $t->http(method => 'POST', path => $uri,
        headers => [ 'X-Team' => 'nobody' ], body => '{}')->{status};
    push @codes, $t->http(path => '/lfv-status')->{status};
    push @codes, $t->http(path => '/lfv-status?format=prometheus')->{status};

    return "@codes";
}

# what the proxy module itself prints of the upstream request

sub without_proxy_dump {
    my ($log) = @_;
    $log =~ s/http proxy header:\n".*?\r\n\r\n"//sg;
    $log =~ s/^.*\] \d+#\d+: \*\d+ http proxy header: ".*"$//mg;
    # the script engine's trace of the values lfv_proxy_params sends
    $log =~ s/^.*\] \d+#\d+: \*\d+ http script var: ".*"$//mg;
    return $log;
}

sub signatures {
    my ($sim) = @_;
    return map { /Signature=([0-9a-f]{64})/ ? $1 : () }
        map { map { $_->[1] } @{ $_->{headers} } } $sim->journal;
}

sub clean {
    my ($t, $sim, $name, @secrets) = @_;

    my $all = '';
    opendir my $d, $t->prefix or die;
    for my $f (grep { /\.log$/ } readdir $d) {
        next if $f =~ /^(lfv|imds|container|sts)\.log$/;    # the simulators' own
        open my $fh, '<', $t->prefix . "/$f" or next;
        local $/;
        $all .= <$fh>;
    }

    like($all, qr/\[debug\]/, "$name: debug log written");
    like($all, qr/http proxy header:/, "$name: proxy dump present (and cut)");

    my $log = without_proxy_dump($all);

    for my $s (grep { defined && length } @secrets, signatures($sim)) {
        unlike($log, qr/\Q$s\E/, "$name: no " . substr($s, 0, 6) . '... in the logs');
    }
}

# static credentials with a session token

{
    my ($t, $sim) = start(LFV::Test->new,
        'static access_key_id=ASIASTATICDEBUG00001 '
        . 'secret_access_key=debug-secret-static-1 '
        . 'session_token=debug-token-static-1',
        keys => { ASIASTATICDEBUG00001 => { secret => 'debug-secret-static-1',
                                            token => 'debug-token-static-1' } });

    is(scenario($t), '202 202 429 403 200 200', 'static: scenario');
    $t->stop;

    clean($t, $sim, 'static', 'debug-secret-static-1', 'debug-token-static-1');
    $t->checks;
}

# IMDS, with a refresh failure and a rotation in between

{
    my $t = LFV::Test->new;
    my $imds = LFV::Sim->imds($t, args => [ '--ttl', 8, '--rotate', 4 ]);
    my $sim;

    ($t, $sim) = start($t, "imds endpoint=http://127.0.0.1:$imds->{port}");

    my @secrets;
    my $s1 = scenario($t);
    push @secrets, $imds->control(GET => 'current');
    $imds->control(POST => 'fault', { kind => 'garbage', target => 'credentials', count => 1 });
    sleep 5;
    push @secrets, $imds->control(GET => 'current');
    my $s2 = $t->http(method => 'POST', path => '/2020-11-20/projects/p/models/1/start',
        headers => [ 'X-Team' => 'u' ], body => '{"MinInferenceUnits":1}')->{status};

    is($s1, '202 202 429 403 200 200', 'imds: scenario');
    is($s2, 403, 'imds: after a rotation');

    $t->stop;
    clean($t, $sim, 'imds', map { ($_->{SecretAccessKey}, $_->{Token}) } @secrets);
    $t->checks;
}

# the container endpoint's authorization token

{
    my $t = LFV::Test->new;
    my $c = LFV::Sim->container($t, args => [ '--auth-token', 'debug-pod-token-1' ]);
    my $sim;

    local $ENV{AWS_CONTAINER_CREDENTIALS_FULL_URI} =
        "http://127.0.0.1:$c->{port}/v2/credentials/abc";
    local $ENV{AWS_CONTAINER_AUTHORIZATION_TOKEN} = 'debug-pod-token-1';

    ($t, $sim) = start($t, 'container');

    is(scenario($t), '202 202 429 403 200 200', 'container: scenario');
    my $cur = $c->control(GET => 'current');
    $t->stop;

    clean($t, $sim, 'container', 'debug-pod-token-1', $cur->{SecretAccessKey},
        $cur->{Token});
    $t->checks;
}

# STS: web identity for the base credentials, a role for team t; the web
# identity token, the keys STS issued and the signatures of AssumeRole

{
    my $t = LFV::Test->new;
    my $role = 'arn:aws:iam::123456789012:role/debug-team';
    my $token_file = $t->write_file('token', "eyJ.debug-web-identity-token.sig\n");
    my $sts = LFV::Sim->sts($t, args => [ '--token-file', $token_file ]);
    my $sim;

    ($t, $sim) = LFV::Conf->start(t => $t,
        credentials => 'web_identity role_arn=arn:aws:iam::123456789012:role/debug '
            . "token_file=$token_file region=us-east-1 "
            . "endpoint=https://127.0.0.1:$sts->{port}",
        http => <<"EOF",
    lfv_ssl_trusted_certificate $sts->{ca};
    lfv_credentials_wait 20s;   # two STS calls before the first start
    lfv_policy_zone teams:1m;
    lfv_policy t rate=1r/m burst=1 nodelay role=$role;
EOF
        server => <<'EOF',
        location = /lfv-status {
            lfv_status;
        }
EOF
        location => 'lfv_team $http_x_team;');

    is(scenario($t), '202 202 429 403 200 200', 'sts: scenario (team t by its role)');
    my $keys = eval { decode_json(LFV::Test::_slurp($t->prefix . '/keys.json')) } // {};
    my @issued = map { ($_->{secret}, $_->{token}) } values %$keys;
    ok(scalar(grep { ($_->{action} // '') eq 'AssumeRole' && $_->{sig_ok} } $sts->journal),
        'sts: AssumeRole was signed and taken');
    $t->stop;

    clean($t, $sim, 'sts', 'debug-web-identity-token', @issued);
    $t->done;
}

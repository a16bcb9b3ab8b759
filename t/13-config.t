#!/usr/bin/perl

# Configuration mistakes fail "nginx -t" with a clear [emerg] naming the
# file and line; secrets given in the configuration are never echoed.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use LFV::Test;

my $t = LFV::Test->new;

# nginx -t on a configuration with these http and location lines

sub conf_test {
    my ($http, $location) = @_;

    $t->set(http => $http);
    $t->set(location => $location);

    $t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    %%KEY_http%%

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            %%KEY_location%%
            proxy_pass https://127.0.0.1:1;
        }
    }
}
EOF

    return $t->nginx_test;
}

sub conf_error {
    my ($http, $location, $expect, $name) = @_;

    my ($ok, $out) = conf_test($http, $location);
    my $conf = $t->prefix . '/nginx.conf';

    ok(!$ok, "$name: nginx -t fails");
    like($out, qr/\[emerg\] \Q$expect\E in \Q$conf\E:\d+/, "$name: message")
        or diag $out;

    return $out;
}

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on;', '"lfv_region" is not set for "lfv on"', 'no region');

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region US_EAST;',
    '"lfv_region" directive has an invalid region name', 'bad region');

conf_error('lfv_credentials sts;', 'lfv on; lfv_region us-east-1;',
    'invalid credentials provider "sts"', 'unknown provider');

conf_error('lfv_credentials static access_key_id=A;',
    'lfv on; lfv_region us-east-1;',
    '"lfv_credentials static" needs access_key_id= and secret_access_key=',
    'static without secret');

my $out = conf_error(
    'lfv_credentials static access_key_id=A secret_access_key=S secret=TOPSECRET;',
    'lfv on; lfv_region us-east-1;', 'invalid parameter "secret"',
    'unknown static parameter');
unlike($out, qr/TOPSECRET/, 'value of a bad parameter not echoed');

conf_error('lfv_credentials env; lfv_credentials auto;',
    'lfv on; lfv_region us-east-1;',
    '"lfv_credentials" directive is duplicate', 'duplicate credentials');

conf_error('lfv_credentials env extra;', 'lfv on; lfv_region us-east-1;',
    'invalid parameter "extra"', 'parameter after env');

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region us-east-1; lfv_body_max_size 100k;',
    'value must be between 1 and 65536', 'body cap too large');

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv maybe; lfv_region us-east-1;',
    'invalid value "maybe" in "lfv" directive, it must be "on" or "off"',
    'lfv flag');

conf_error('', 'lfv_credentials env;',
    '"lfv_credentials" directive is not allowed here', 'credentials context');

# and a good one passes

my ($ok, $o) = conf_test(
    'lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region eu-west-1; lfv_body_max_size 4k;');
ok($ok, 'valid configuration passes') or diag $o;

$t->done;

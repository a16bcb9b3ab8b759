#!/usr/bin/perl

# A role per team: each team's requests are signed by credentials of its
# own role session (STS's AssumeRole, signed with the base credentials),
# never by another team's nor the base ones; interleaved concurrent
# requests of three teams, rotation under load, STS down, past expiry and
# grace, reload, the status page, nginx -t, no secret in the logs.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;

my $account = '123456789012';
my %role = map { $_ => "arn:aws:iam::$account:role/team-$_" } qw(alpha beta gamma);

# roles that live 12 s: refreshed every few seconds

my $sts = LFV::Sim->sts($t, args => [ '--role', values %role, '--ttl', 12 ]);

# the base credentials: static keys that STS and AWS know

$sts->add_keys({ $LFV::Conf::AKID => { secret => $LFV::Conf::SECRET } });

my $lfv;

sub conf {
    my (%o) = @_;
    my $policies = $o{policies} // join '',
        "lfv_policy alpha role=$role{alpha};\n",
        "lfv_policy beta role=$role{beta};\n",
        "lfv_policy gamma role=$role{gamma} role_duration=15m;\n",
        "lfv_policy delta;\n";
    (undef, $lfv) = LFV::Conf->setup(t => $t, sim => $lfv, workers => 2,
        credentials => "static access_key_id=$LFV::Conf::AKID "
                       . "secret_access_key=$LFV::Conf::SECRET",
        http => "lfv_region us-east-1;\n"
                . "lfv_sts_endpoint https://127.0.0.1:$sts->{port};\n"
                . "lfv_ssl_trusted_certificate $sts->{ca};\n"
                . "lfv_credentials_grace 1s;\n" . $policies
                . "log_format roles '\$lfv_team \$lfv_credential_source "
                . "\$lfv_access_key_id';\n",
        server => "location = /lfv-status { lfv_status; }\n"
                  . "access_log %%PREFIX%%/roles.log roles;\n",
        location => 'lfv_team $http_x_team;');
}

conf();
$t->run;

sub start {
    my ($team) = @_;
    return LFV::Conf->request($t, team => $team, project => "$team-line");
}

sub session_of {
    my ($team) = @_;
    return $team eq 'delta' ? undef
        : "arn:aws:sts::$account:assumed-role/team-$team/lfv-$team";
}

sub assume_roles { grep { ($_->{action} // '') eq 'AssumeRole' } $sts->journal }

sub wait_for {
    my ($cond, $seconds) = @_;
    my $deadline = time + ($seconds // 20);
    sleep 0.1 until $cond->() || time > $deadline;
    return $cond->();
}

# the journal's requests of one team, by the project it names

sub signed_as {
    my %by;
    for my $j ($lfv->journal) {
        my ($team) = ($j->{path} // '') =~ m{/projects/(\w+)-line/};
        next unless $team;
        push @{ $by{$team} }, $j;
    }
    return \%by;
}

# the roles' first keys, fetched at start (slow under valgrind: longer
# than a request waits for them)

ok(wait_for(sub {
    my $st = eval { decode_json($t->http(path => '/lfv-status')->{body}) } || {};
    !grep { !($st->{roles}{$_}{access_key_id}) } qw(alpha beta gamma) }, 60),
    "every role has its first keys");

# 1. interleaved concurrent requests of four teams

my $port = $t->port('http');
my ($answered, $accepted) = (0, 0);

for my $round (1 .. 10) {
    my @s;
    for my $team (qw(alpha beta gamma delta)) {
        my $body = '{"MinInferenceUnits":1}';
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Timeout => 5) or die $!;
        print $s "POST /2020-11-20/projects/$team-line/models/1/start HTTP/1.1\r\n"
            . "Host: localhost\r\nX-Team: $team\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
        push @s, $s;
    }
    for my $s (@s) {
        my ($buf, $sel) = ('', IO::Select->new($s));
        while ($sel->can_read(10)) {
            last unless sysread($s, $buf, 4096, length $buf);
        }
        $answered++ if $buf =~ m{^HTTP/1\.1 \d{3}};
        $accepted++ if $buf =~ m{^HTTP/1\.1 202};
    }
}
is($answered, 40, '40 concurrent requests of four teams answered');
is($accepted, 40, 'all accepted');

my $by = signed_as();
for my $team (qw(alpha beta gamma delta)) {
    my @j = @{ $by->{$team} || [] };
    is(scalar @j, 10, "$team: 10 requests reached AWS");
    is(scalar(grep { $_->{sig_ok} } @j), 10, "$team: every one signed validly");
    is(scalar(grep { ($_->{session} // '') ne (session_of($team) // '') } @j), 0,
        "$team: each signed by " . (session_of($team) // 'the base credentials')
        . ' alone');
}

my @ar = assume_roles();
is(scalar @ar, 3, 'one AssumeRole per team, for both workers');
for my $a (@ar) {
    my ($team) = $a->{session_name} =~ /^lfv-(\w+)$/;
    ok($team && $role{$team} && $a->{role_arn} eq $role{$team},
        "AssumeRole of $a->{session_name} for its team's role");
    is($a->{signed_by}, $LFV::Conf::AKID, "$a->{session_name}: signed by the base key");
    ok($a->{sig_ok}, "$a->{session_name}: a signature botocore accepts");
    is($a->{source_identity}, $team, "$a->{session_name}: SourceIdentity is the team");
    is_deeply($a->{tags}, { 'lfv-team' => $team }, "$a->{session_name}: tagged with the team");
    is($a->{duration}, $team eq 'gamma' ? 900 : 3600, "$a->{session_name}: its duration");
}

# 2. rotation under load: every request signed by its team's session

my ($ok, $failed, $n) = (0, 0, scalar(assume_roles()));
my $until = time + 8;
while (time < $until) {
    for my $team (qw(alpha beta gamma delta)) {
        start($team)->{status} == 202 ? $ok++ : $failed++;
    }
    sleep 0.05;
}
is($failed, 0, "no failed request across the roles' refreshes ($ok signed)");
ok(scalar(assume_roles()) >= $n + 3, 'each role refreshed ahead of expiry');
$by = signed_as();
is(scalar(grep { my $team = $_;
                 grep { ($_->{session} // '') ne (session_of($team) // '') }
                     @{ $by->{$team} || [] } } keys %$by), 0,
    'still no request signed by another session');

# 3. STS fails while the roles' keys are valid: nothing fails

$sts->control(POST => 'fault', { kind => '500', target => 'AssumeRole' });
$n = scalar(assume_roles());
ok(wait_for(sub { scalar(assume_roles()) > $n }), 'a refresh meets the failure');
is(start('alpha')->{status}, 202, 'alpha is signed with its cached keys');
$sts->control(POST => 'fault', { kind => 'none', target => 'all' });

# 4. STS refuses past expiry and grace: that team is refused, the base
# team is not, nothing of it is forwarded

$sts->control(POST => 'fault', { kind => 'denied', target => 'AssumeRole' });
ok(wait_for(sub { start('alpha')->{status} == 503 }, 30),
    'past expiry and grace, alpha is refused');
my $before = scalar @{ signed_as()->{alpha} || [] };
my $r = start('alpha');
is($r->{status}, 503, 'with 503');
like($r->{body}, qr/no usable credentials of the team's role/, "and the role's message");
ok($r->{headers}{'retry-after'}, 'and Retry-After');
is(scalar @{ signed_as()->{alpha} || [] }, $before,
    'nothing of alpha reached AWS, not even with the base keys');
is(start('delta')->{status}, 202, 'delta, without a role, is still signed');

$r = $t->http(path => '/lfv-status');
my $status = eval { decode_json($r->{body}) } || {};
like($status->{roles}{alpha}{last_error} // '', qr/STS answered 403 AccessDenied/,
    "the status page shows the role's last error");
ok($status->{roles}{alpha}{failures} >= 1, 'and its failures');
is($status->{roles}{beta}{role_arn}, $role{beta}, "each role's ARN");
is($status->{roles}{beta}{session}, 'lfv-beta', 'and session name');

$sts->control(POST => 'fault', { kind => 'none', target => 'all' });
ok(wait_for(sub { !grep { start($_)->{status} != 202 } qw(alpha beta gamma) }, 70),
    'every team is signed again once STS answers');

$r = $t->http(path => '/lfv-status?format=prometheus');
like($r->{body}, qr/^lfv_role_credentials_expiry_seconds\{team="alpha"\} \d+$/m,
    'prometheus: the expiry of each role');
like($r->{body}, qr/^lfv_role_credentials_failures\{team="gamma"\} 0$/m,
    'prometheus: the failures of each role');

# 5. reload: the roles' keys stay

$n = scalar(assume_roles());
$t->reload;
is(start($_)->{status}, 202, "$_ signed after a reload") for qw(alpha beta gamma delta);
ok(scalar(assume_roles()) <= $n + 3, 'no burst of AssumeRole calls');

# 6. no secret in the logs or on the status page

$r = $t->http(path => '/lfv-status');
my $keys = eval { decode_json(LFV::Test::_slurp($t->prefix . '/keys.json')) } // {};
my @secrets = grep { defined && length > 8 } map { ($_->{secret}, $_->{token}) } values %$keys;
ok(@secrets >= 4, 'the keys of the roles are known to the test');
my $seen = $t->error_log . $t->access_log . $r->{body};
is(scalar(grep { index($seen, $_) >= 0 } @secrets), 0,
    'no secret key or session token in the logs or on the status page');

$t->stop(keep_spawned => 1);

# the audit trail: the source and the key id of each team's signature

my $roles_log = LFV::Test::_slurp($t->prefix . '/roles.log') // '';
my %sources;
for (split /\n/, $roles_log) {
    my ($team, $source, $akid) = split / /;
    next unless $akid;
    $sources{$team}{$source}++;
}
is_deeply([ sort keys %{ $sources{alpha} || {} } ], [ 'assume_role' ],
    '$lfv_credential_source: assume_role for a team with a role');
is_deeply([ sort keys %{ $sources{delta} || {} } ], [ 'static' ],
    'and the base provider for a team without one');
like($roles_log, qr/^alpha assume_role ASIA[A-Z0-9]{16}$/m,
    "\$lfv_access_key_id: the role session's key id");

# 7. nginx -t

for my $case (
    [ "lfv_policy a role=team-a;\n", qr/invalid parameter "role=team-a"/ ],
    [ "lfv_policy a role=$role{alpha} role_duration=10s;\n", qr/invalid parameter "role_duration=10s"/ ],
    [ "lfv_policy a role=$role{alpha} role_duration=13h;\n", qr/invalid parameter "role_duration=13h"/ ],
    [ "lfv_policy a role_duration=1h;\n", qr/"role_duration" needs "role"/ ],
    [ "lfv_policy_zone lfv_role_alpha:1m;\nlfv_policy a;\n",
      qr/zone names "lfv_role_\.\.\." are reserved for the credentials of the teams' roles/ ],
) {
    my ($policies, $re) = @$case;
    conf(policies => $policies);
    my ($ok, $out) = $t->nginx_test;
    ok(!$ok, "nginx -t refuses: $policies");
    like($out, $re, 'and says why');
}

$t->done;

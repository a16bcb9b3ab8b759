#!/usr/bin/perl

# make deb: the libnginx-mod-http-lfv package, built with dpkg-deb,
# installed on this machine with dpkg -i, used by Debian's nginx in the
# system layout (include /etc/nginx/modules-enabled/*.conf and the
# package's example site), then removed and purged so the machine is left
# as it was without the package. Needs root; nothing else is skipped.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use File::Temp ();

use lib 't/lib';

plan skip_all => 'installs a Debian package with dpkg -i: needs root (run the suite as root)'
    if $> != 0;

# nginx loads the installed module through modules-enabled, not the build
# and the system's nginx, whatever nginx the rest of the suite runs
BEGIN { $ENV{LFV_NO_MODULE} = 1; delete @ENV{qw(LFV_NGINX LFV_STATIC LFV_MODULE)} }
use LFV::Test;
use LFV::Sim;

my $PKG = 'libnginx-mod-http-lfv';
my $SO = '/usr/lib/nginx/modules/ngx_http_lfv_module.so';
my $AVAILABLE = '/usr/share/nginx/modules-available/mod-http-lfv.conf';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-lfv.conf';
my $EXAMPLE = "/usr/share/doc/$PKG/examples/lookoutvision-site.conf";

my $AKID = 'AKIDDEBPACKAGE000001';
my $SECRET = 'deb-package-secret-0000000000000000000001';

my $repo = LFV::Test->repo;
my $installed_by_us = 0;
my $t;

# run a command, output to a file, bounded; returns (exit code, output)
sub run_cmd {
    my ($timeout, @cmd) = @_;
    my $out = File::Temp->new;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$out" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    my $deadline = time + $timeout;
    my $rc;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $rc = $? >> 8; last }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $rc = -1;
            last;
        }
        sleep 0.05;
    }
    open my $fh, '<', "$out" or die;
    local $/;
    return ($rc, scalar(<$fh>) // '');
}

# dpkg, waiting (bounded) while apt or another dpkg holds the lock
sub dpkg {
    my @args = @_;
    my $deadline = time + 300;
    while (1) {
        my ($rc, $out) = run_cmd(120, 'dpkg', @args);
        return ($rc, $out) if $rc == 0 || $out !~ /lock/i || time > $deadline;
        sleep 1;
    }
}

sub status {
    my ($rc, $out) = run_cmd(20, 'dpkg-query', '-W', '-f=${Status}', $PKG);
    return $rc == 0 ? $out : 'absent';
}

# any state in which dpkg knows the package (a purge makes it unknown)
my $PRESENT = qr/ (?:installed|config-files|unpacked|half-installed|half-configured|triggers-awaited|triggers-pending)$/;

sub slurp {
    open my $fh, '<', $_[0] or return undef;
    local $/;
    return <$fh>;
}

# ---------------------------------------------------------------- build

my ($rc, $out) = run_cmd(600, 'bash', "$repo/debian-pkg/build.sh");
is($rc, 0, 'debian-pkg/build.sh succeeds') or diag($out);
my ($deb) = $out =~ m{^(/\S+\.deb)\s*\z}m;
ok($deb && -f $deb, 'the .deb is in build/deb') or BAIL_OUT("no package:\n$out");
like($deb, qr{/build/deb/\Q$PKG\E_[^_]+_[a-z0-9]+\.deb$}, 'package file name');

my %f;
for my $field (qw(Package Version Architecture Depends)) {
    (undef, $f{$field}) = run_cmd(20, 'dpkg-deb', '-f', $deb, $field);
    chomp $f{$field};
}
is($f{Package}, $PKG, 'package name');

# the ABI: exactly the one Debian's nginx provides, as its own module
# packages declare it
my (undef, $provides) = run_cmd(20, 'dpkg-query', '-W', '-f=${Provides}\n',
    'nginx', 'nginx-core', 'nginx-light', 'nginx-extras');
my ($abi) = $provides =~ /(nginx-abi-[^\s,]+)/;
ok($abi, "installed nginx provides an ABI ($abi)");
like($f{Depends}, qr/(?:^|, )\Q$abi\E(?:,|$)/, "depends on $abi");
like($f{Depends}, qr/libc6 \(>= [\d.]+\)/, 'depends on libc6');

my (undef, $list) = run_cmd(20, 'dpkg-deb', '-c', $deb);
like($list, qr{ \./usr/lib/nginx/modules/ngx_http_lfv_module\.so$}m, 'ships the module');
like($list, qr{ \./usr/share/nginx/modules-available/mod-http-lfv\.conf$}m,
    'ships the load_module snippet');
unlike($list, qr{ \./etc/}m, 'no files under /etc (the link is made by postinst)');

# ---------------------------------------------------------------- install

my $before = status();
if ($before =~ $PRESENT) {
    diag("$PKG was on this machine before ($before): purging it to test a fresh install;"
        . ' it is left purged');
    ($rc, $out) = dpkg('-P', $PKG);
    is($rc, 0, 'purge of the earlier install') or diag($out);
}

$installed_by_us = 1;
($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'dpkg -i') or diag($out);
like(status(), qr/install ok installed/, 'installed');

ok(-f $SO, "module in $SO");
like(slurp($AVAILABLE) // '', qr{^load_module /usr/lib/nginx/modules/ngx_http_lfv_module\.so;$}m,
    "load_module in $AVAILABLE");
is(readlink($ENABLED), $AVAILABLE, "postinst links $ENABLED");

# ---------------------------------------------------------------- nginx

$t = LFV::Test->new;
my $sim = LFV::Sim->lfv($t, keys => { $AKID => { secret => $SECRET } });
my $port = $t->port('http');

# the package's example site, pointed at the simulator
my $site = slurp($EXAMPLE);
unless (defined $site) {
    diag("$EXAMPLE not installed (dpkg path-exclude for /usr/share/doc?);"
        . ' using debian-pkg/lookoutvision-site.conf');
    $site = slurp("$repo/debian-pkg/lookoutvision-site.conf");
}
my %edit = (
    'lfv_credentials auto;' =>
        "lfv_credentials static access_key_id=$AKID secret_access_key=$SECRET;",
    'server lookoutvision.us-east-1.amazonaws.com:443;' => "server 127.0.0.1:$sim->{port};",
    'listen 127.0.0.1:8080;' => "listen 127.0.0.1:$port;",
    '/etc/ssl/certs/ca-certificates.crt' => $sim->{ca},
    '/var/log/nginx/lfv-audit.log' => $t->prefix . '/audit.log',
);
for my $from (sort keys %edit) {
    my $n = () = $site =~ /\Q$from\E/g;
    is($n, 1, "example site: '$from' once");
    $site =~ s/\Q$from\E/$edit{$from}/;
}
$t->write_file('sites-enabled/lookoutvision.conf', $site);

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

include /etc/nginx/modules-enabled/*.conf;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    include /etc/nginx/mime.types;
    include %%PREFIX%%/sites-enabled/*.conf;
}
EOF

my ($ok, $test_out) = $t->nginx_test;
ok($ok, 'nginx -t: system layout with the packaged module') or diag($test_out);

$t->run;
ok($t->wait_port('http', 5), "nginx listens on 127.0.0.1:$port");

my ($worker) = $t->worker_pids;
like(slurp("/proc/$worker/maps") // '', qr{\Q$SO\E}, 'the worker runs the installed module');

my $before_journal = () = $sim->journal;

my $r = $t->http(method => 'POST', path => '/2020-11-20/projects/demo-1/models/1/start',
    headers => [ 'Content-Type' => 'application/json', 'X-Team' => 'vision-team' ],
    body => '{"MinInferenceUnits":1}');
is($r->{status}, 202, 'start through the packaged module: 202');
is(eval { decode_json($r->{body})->{Status} }, 'STARTING_HOSTING', 'STARTING_HOSTING');

my @j = $sim->journal;
is(@j - $before_journal, 1, 'one request reached the simulator');
ok($j[-1]{sig_ok}, 'signed correctly (botocore agrees)') or diag($j[-1]{reason});
is($j[-1]{access_key_id}, $AKID, 'with the configured key');

$r = $t->http(method => 'POST', path => '/2020-11-20/projects/other/models/1/start',
    headers => [ 'Content-Type' => 'application/json', 'X-Team' => 'vision-team' ],
    body => '{"MinInferenceUnits":1}');
is($r->{status}, 403, 'policy of the example site: other project refused');
is(scalar(() = $sim->journal) - $before_journal, 1, 'refusal not forwarded');

$r = $t->http(path => '/lfv-status');
is($r->{status}, 200, 'status page');
is(eval { decode_json($r->{body})->{teams}{'vision-team'}{forwarded} }, 1,
    'status page counts the start');

my @audit = map { decode_json($_) } grep { /\S/ } split /\n/, slurp($t->prefix . '/audit.log') // '';
is_deeply([ map { "$_->{decision}/$_->{reason}" } @audit ],
    [ 'forwarded/forwarded', 'rejected/project_denied' ], 'audit log of the example site');

$t->checks;    # stops nginx and the simulator; error-log checks

# ---------------------------------------------------------------- remove

($rc, $out) = dpkg('-r', $PKG);
is($rc, 0, 'dpkg -r') or diag($out);
ok(!-e $SO, 'module removed');
ok(!-e $AVAILABLE, 'load_module snippet removed');
ok(!-l $ENABLED, 'modules-enabled link gone, so nginx no longer loads it');
is(readlink("$ENABLED.removed"), $AVAILABLE,
    'link set aside as .removed (Debian: a reinstall restores it)');

($rc, $out) = dpkg('-P', $PKG);
is($rc, 0, 'dpkg -P') or diag($out);
ok(!-l "$ENABLED.removed", 'purge deletes the set-aside link');
unlike(status(), $PRESENT, 'package gone');
$installed_by_us = 0;

done_testing;

END {
    my $code = $?;
    if ($installed_by_us) {
        $t->stop if $t;
        my ($rc, $out) = dpkg('-P', $PKG);
        diag("cleanup: dpkg -P $PKG: " . ($rc == 0 ? 'done' : "failed:\n$out"));
    }
    $? = $code;
}

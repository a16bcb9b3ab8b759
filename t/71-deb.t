#!/usr/bin/perl

# make deb: the libnginx-mod-http-lfv package, built with dpkg-deb,
# installed with dpkg into a throwaway root (dpkg --root; the maintainer
# scripts run chrootless with DPKG_ROOT), used there by Debian's nginx in
# the system layout (the root's modules-enabled and the package's example
# site), then removed and purged. The host's packages and /etc/nginx are
# never changed, nor read but to check that. Needs root (dpkg unpacks
# files owned by root); nothing else is skipped.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use File::Temp ();

use lib 't/lib';

plan skip_all => 'dpkg unpacks files owned by root: needs root (run the suite as root)'
    if $> != 0;

# nginx loads the packaged module through modules-enabled, not the build
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
my $t = LFV::Test->new;
my $root = $t->prefix . '/root';

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

# any state in which dpkg knows the package (a purge makes it unknown)
my $PRESENT = qr/ (?:installed|config-files|unpacked|half-installed|half-configured|triggers-awaited|triggers-pending)$/;

sub slurp {
    open my $fh, '<', $_[0] or return undef;
    local $/;
    return <$fh>;
}

# ---------------------------------------------------------------- build

# its own output directory: another run of the suite may build beside it
$ENV{DEB_OUT} = $t->prefix . '/deb';
my ($rc, $out) = run_cmd(600, 'bash', "$repo/debian-pkg/build.sh");
is($rc, 0, 'debian-pkg/build.sh succeeds') or diag($out);
my ($deb) = $out =~ m{^(/\S+\.deb)\s*\z}m;
ok($deb && -f $deb, 'the .deb is in DEB_OUT') or BAIL_OUT("no package:\n$out");
like($deb, qr{/deb/\Q$PKG\E_[^_]+_[a-z0-9]+\.deb$}, 'package file name');

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
like($list, qr{ \./etc/nginx/lfv_proxy_params$}m, 'ships /etc/nginx/lfv_proxy_params');
is(scalar(() = $list =~ m{ \./etc/\S*[^/]$}mg), 1,
    'no other file under /etc (the link is made by postinst)');
my (undef, $conffiles) = run_cmd(20, 'dpkg-deb', '-I', $deb, 'conffiles');
is($conffiles, "/etc/nginx/lfv_proxy_params\n", 'lfv_proxy_params is a conffile');

# ---------------------------------------------------------------- install

# an empty system: a dpkg database and nothing else; dependencies are
# forced because the root holds no nginx or libc (the host's run it)
for my $d ('', qw(var var/lib var/lib/dpkg var/lib/dpkg/info var/lib/dpkg/updates var/log)) {
    mkdir "$root/$d" or die "$root/$d: $!";
}
$t->write_file("$root/var/lib/dpkg/$_", '') for qw(status available);

sub in_root { return "$root$_[0]" }

sub dpkg {
    return run_cmd(120, 'dpkg', "--root=$root", "--log=$root/var/log/dpkg.log",
        '--force-script-chrootless', '--force-depends', @_);
}

sub status {
    my ($rc, $out) = run_cmd(20, 'dpkg-query', "--root=$root", '-W', '-f=${Status}', $PKG);
    return $rc == 0 ? $out : 'absent';
}

# what must not change on the host
sub host_state {
    my (undef, $list) = run_cmd(20, 'dpkg-query', '-W', '-f=${Package} ${Status}\n');
    my (undef, $etc) = run_cmd(20, 'find', '/etc/nginx', '-printf', '%p %l %s %T@\n');
    my (undef, $log) = run_cmd(20, 'stat', '-c', '%s %Y', '/var/log/dpkg.log');
    return "$list\n$etc\n$log";
}
my $host_before = host_state();

# a stand-in for Debian's nginx in the root: it takes the nginx-reload
# trigger, as nginx-common does, and notes each time it is pulled
{
    my $fake = $t->prefix . '/fake-nginx';
    mkdir $fake;
    mkdir "$fake/DEBIAN";
    $t->write_file("$fake/DEBIAN/control", "Package: fake-nginx-reload\nVersion: 1\n"
        . "Architecture: all\nMaintainer: test <test\@example.org>\n"
        . "Description: takes the nginx-reload trigger\n");
    $t->write_file("$fake/DEBIAN/triggers", "interest-noawait nginx-reload\n");
    $t->write_file("$fake/DEBIAN/postinst", "#!/bin/sh\n"
        . "[ \"\$1\" = triggered ] && echo \"\$2\" >> \"\$DPKG_ROOT/reloads\"\nexit 0\n");
    chmod 0755, "$fake/DEBIAN/postinst";
    ($rc, $out) = run_cmd(60, 'dpkg-deb', '--root-owner-group', '--build', $fake,
        $t->prefix . '/fake-nginx.deb');
    is($rc, 0, 'a stand-in package that takes nginx-reload') or diag($out);
    ($rc, $out) = dpkg('-i', $t->prefix . '/fake-nginx.deb');
    is($rc, 0, 'installed into the root') or diag($out);
}

sub reloads { my $c = slurp("$root/reloads") // ''; return scalar(() = $c =~ /nginx-reload/g) }

($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'dpkg -i into the throwaway root') or diag($out);
like(status(), qr/install ok installed/, 'installed');

ok(-f in_root($SO), "module in $SO");
is(slurp(in_root('/etc/nginx/lfv_proxy_params')),
    slurp("$repo/ngx_lfv_module/lfv_proxy_params"), 'lfv_proxy_params installed');
like(slurp(in_root($AVAILABLE)) // '',
    qr{^load_module /usr/lib/nginx/modules/ngx_http_lfv_module\.so;$}m,
    "load_module in $AVAILABLE");
is(readlink(in_root($ENABLED)), $AVAILABLE, "postinst links $ENABLED");
is(reloads(), 1, 'the install pulls nginx-reload');

# an upgrade keeps what the administrator did: a removed link stays removed
unlink in_root($ENABLED) or die $!;
($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'dpkg -i over the installed package (an upgrade)') or diag($out);
ok(!-l in_root($ENABLED), 'the upgrade leaves the removed link removed');
is(reloads(), 2, 'the upgrade pulls nginx-reload');
symlink $AVAILABLE, in_root($ENABLED) or die $!;

# ---------------------------------------------------------------- nginx

my $sim = LFV::Sim->lfv($t, keys => { $AKID => { secret => $SECRET } });
my $port = $t->port('http');

# the package's example site, pointed at the simulator
my $site = slurp(in_root($EXAMPLE));
ok(defined $site, "example site in $EXAMPLE");
my %edit = (
    'lfv_credentials auto;' =>
        "lfv_credentials static access_key_id=$AKID secret_access_key=$SECRET;",
    'server lookoutvision.us-east-1.amazonaws.com:443;' => "server 127.0.0.1:$sim->{port};",
    'listen 127.0.0.1:8080;' => "listen 127.0.0.1:$port;",
    '/etc/ssl/certs/ca-certificates.crt' => $sim->{ca},
    '/var/log/nginx/lfv-audit.log' => $t->prefix . '/audit.log',
    # relative to nginx's configuration directory, which is the root's
    'include lfv_proxy_params;' => "include $root/etc/nginx/lfv_proxy_params;",
);
for my $from (sort keys %edit) {
    my $n = () = ($site // '') =~ /\Q$from\E/g;
    is($n, 1, "example site: '$from' once");
    $site =~ s/\Q$from\E/$edit{$from}/;
}
$t->write_file("$root/etc/nginx/sites-enabled/lookoutvision.conf", $site);

# nginx runs from the host, so the link and the load_module path of the
# enabled snippet, both absolute, are what is re-rooted
my $snippet = slurp(in_root(readlink(in_root($ENABLED)) // '')) // '';
(my $rerooted = $snippet) =~ s{^load_module (/\S+);$}{load_module $root$1;}m;
isnt($rerooted, $snippet, 'the enabled snippet is a load_module line');
$t->write_file('modules-enabled/50-mod-http-lfv.conf', $rerooted);

$t->set(root => $root);
$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

include %%PREFIX%%/modules-enabled/*.conf;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    include %%KEY_root%%/etc/nginx/sites-enabled/*.conf;
}
EOF

my ($ok, $test_out) = $t->nginx_test;
ok($ok, 'nginx -t: system layout with the packaged module') or diag($test_out);

$t->run;
ok($t->wait_port('http', 5), "nginx listens on 127.0.0.1:$port");

my ($worker) = $t->worker_pids;
like(slurp("/proc/$worker/maps") // '', qr{\Q$root$SO\E}, 'the worker runs the packaged module');

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

$t->stop;

# ---------------------------------------------------------------- remove

# the site still uses the module: the remove says where
($rc, $out) = dpkg('-r', $PKG);
is($rc, 0, 'dpkg -r') or diag($out);
like($out, qr{warning: these files still use lfv directives.*\n\s+\Q$root\E/etc/nginx/sites-enabled/lookoutvision\.conf$}m,
    'remove names the site that still uses lfv directives') or diag($out);
ok(!-e in_root($SO), 'module removed');
ok(!-e in_root($AVAILABLE), 'load_module snippet removed');
ok(!-l in_root($ENABLED), 'modules-enabled link gone, so nginx no longer loads it');
is(readlink(in_root("$ENABLED.removed")), $AVAILABLE,
    'link set aside as .removed (Debian: a reinstall restores it)');
is(reloads(), 3, 'the removal pulls nginx-reload');

# a reinstall restores the link; a remove with no site using lfv is quiet
($rc, $out) = dpkg('-i', $deb);
is($rc, 0, 'dpkg -i again') or diag($out);
is(readlink(in_root($ENABLED)), $AVAILABLE, 'the reinstall restores the link');
unlink "$root/etc/nginx/sites-enabled/lookoutvision.conf" or die $!;
($rc, $out) = dpkg('-r', $PKG);
is($rc, 0, 'dpkg -r with no site using the module') or diag($out);
unlike($out, qr/warning/, 'no warning then');

($rc, $out) = dpkg('-P', $PKG);
is($rc, 0, 'dpkg -P') or diag($out);
ok(!-l in_root("$ENABLED.removed"), 'purge deletes the set-aside link');
ok(!-e in_root('/etc/nginx/lfv_proxy_params'), 'purge deletes lfv_proxy_params');
unlike(status(), $PRESENT, 'package gone');

is(host_state(), $host_before, "the host's packages, dpkg log and /etc/nginx are unchanged");

$t->done;

#!/usr/bin/perl

# docs/deploy: the EKS manifests (eks.yaml, every document parsed by
# python3-yaml) and the ECS task definition (ecs-task.json), checked for
# the links between their parts: the Deployment runs as the
# ServiceAccount with the ConfigMap's nginx.conf, its probes ask the
# status location on the port nginx listens on, the Service targets
# that port; the ECS proxy writes the configuration it is given where
# nginx reads it, its health check asks the status location, the app
# waits for it and calls it unsigned. Then each nginx configuration is
# taken out of the files and run through nginx -t with the built module,
# in the environment the pod or the task would have, after only the
# substitutions named below, which are the machine's, not the text's.
# Nothing on the host is changed and nothing but 127.0.0.1 is reached:
# nginx -t asks neither the resolver nor a credentials endpoint.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use LFV::Test;
use LFV::Markdown;

my $t = LFV::Test->new;
my $repo = $t->repo;
my $prefix = $t->prefix;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path =~ m{^/} ? $path : "$repo/$path" or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

sub ws { my ($s) = @_; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; return $s }

# --- nginx configuration text ------------------------------------------------

# the configuration without comments (no "#" inside the strings here)
sub code { my ($conf) = @_; $conf =~ s/(^|\s)#.*$/$1/mg; return $conf }

# the arguments of every occurrence of a directive, as strings
sub directive {
    my ($conf, $name) = @_;
    my ($c, @args) = (code($conf));
    push @args, ws($1) while $c =~ /(?:^|[;{}])\s*\Q$name\E\s+([^;{}]*);/mg;
    return @args;
}

# the path of the exact-match location that holds lfv_status
sub status_location {
    my ($conf) = @_;
    my @paths;
    my $c = code($conf);
    while ($c =~ /\blocation\s+=\s+(\S+)\s*\{([^{}]*)\}/g) {
        my ($path, $body) = ($1, $2);
        push @paths, $path if $body =~ /(?:^|;|\s)lfv_status\s*;/;
    }
    return @paths;
}

sub listen_port {
    my ($conf) = @_;
    my @ports = map { /^(?:[\d.]+:)?(\d+)$/ ? $1 : () } directive($conf, 'listen');
    return @ports;
}

# what every shipped configuration has

my ($audit_format) = slurp('docs/audit.md') =~ /^(log_format\s+lfv_audit\b.*?';)/ms;
ok($audit_format, 'docs/audit.md: the lfv_audit log format found');

sub common_checks {
    my ($file, $conf) = @_;

    is_deeply([ directive($conf, 'load_module') ], ['modules/ngx_http_lfv_module.so'],
        "$file: load_module as the Debian package installs it");
    ok(!directive($conf, 'user'), "$file: no \"user\" directive (nginx runs as non-root)");
    my @writes = (directive($conf, 'pid'),
        map { directive($conf, "${_}_temp_path") } qw(client_body proxy fastcgi uwsgi scgi));
    is(scalar(@writes), 6, "$file: pid and the five temp paths set");
    ok(!(grep { !m{^/tmp/} } @writes), "$file: nginx writes under /tmp only: @writes");
    ok(!(grep { !/^(?:stderr|\/dev\/stderr|\/dev\/stdout)\b/ } directive($conf, 'error_log')),
        "$file: the error log goes to the container's output");
    ok(!(grep { !/^(?:off|\/dev\/stdout\b)/ } directive($conf, 'access_log')),
        "$file: access logs go to the container's output or are off");
    ok((grep { $_ eq 'off' } directive($conf, 'access_log'))
        && (grep { $_ eq '/dev/stdout lfv_audit' } directive($conf, 'access_log')),
        "$file: the http block's default log is off, the audit log on stdout");

    my ($format) = $conf =~ /^\s*(log_format\s+lfv_audit\b.*?';)/ms;
    is(ws($format // ''), ws($audit_format // '-'), "$file: the audit log format of docs/audit.md");

    is_deeply([ directive($conf, 'lfv_policy_zone') ], ['lfv_teams:1m'], "$file: lfv_policy_zone");
    ok(directive($conf, 'lfv_policy') >= 1, "$file: a team policy");
    is(scalar(directive($conf, 'lfv_team')), 1, "$file: lfv_team");
    is(scalar(directive($conf, 'lfv_region')), 1, "$file: lfv_region");
    is(scalar(directive($conf, 'resolver')), 1, "$file: a resolver");
    is(scalar(listen_port($conf)), 1, "$file: one listen port");
    is(scalar(status_location($conf)), 1, "$file: one status location");
}

# --- nginx -t ------------------------------------------------------------------

# a CA file of our own, as t/60-docs.t does: the system bundle need not
# exist here
my $ca = "$prefix/ca.pem";
my $out = `openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lfv-deploy-test -keyout '$ca.key' -out '$ca' 2>&1`;
ok(-s $ca, 'a CA certificate for the test') or diag $out;

# the pod's emptyDir, the task's /tmp
mkdir "$prefix/tmp" or die "mkdir $prefix/tmp: $!";

my $module = $t->module_path;
my $port = $t->port('deploy');

# the substitutions: each named, each must match; what nginx -t then
# reads is otherwise the shipped text
my %subst = (
    'load_module: the built module' => [
        qr{^(\s*load_module\s+)modules/ngx_http_lfv_module\.so;}m,
        sub { $t->_want_module ? "$1$module;" : "# $1(compiled in);" } ],
    'listen: a test port on 127.0.0.1' => [
        qr{^(\s*listen\s+)(?:127\.0\.0\.1:)?8080;}m, sub { "${1}127.0.0.1:$port;" } ],
    '/tmp: the test prefix' => [
        qr{(?<=[\s'"])/tmp/}, sub { "$prefix/tmp/" } ],
    'the CA bundle: a generated CA' => [
        qr{/etc/ssl/certs/ca-certificates\.crt}, sub { $ca } ],
    '/etc/nginx/lfv_proxy_params: the module\'s file' => [
        qr{/etc/nginx/lfv_proxy_params\b}, sub { "$repo/ngx_lfv_module/lfv_proxy_params" } ],
);

sub for_test {
    my ($file, $text, @names) = @_;

    # /tmp first: the paths put in by the others (the module, the CA) may
    # be under /tmp themselves, in a checkout there

    @names = sort { ($b =~ m{^/tmp}) <=> ($a =~ m{^/tmp}) } @names;

    for my $name (@names) {
        my ($re, $to) = @{ $subst{$name} or die "no substitution $name" };
        my $n = $text =~ s/$re/$to->()/ge;
        ok($n, "$file: substituted $name (" . ($n || 0) . ")");
    }
    return $text;
}

# nginx -t of prefix/nginx.conf with exactly this AWS environment
sub nginx_t {
    my ($conf, %env) = @_;
    $t->write_file('nginx.conf', $conf);
    local %ENV = %ENV;
    delete @ENV{ grep { /^AWS_/ } keys %ENV };
    @ENV{ keys %env } = values %env;
    return $t->nginx_test;
}

# --- eks.yaml --------------------------------------------------------------------

my $yaml_file = "$repo/docs/deploy/eks.yaml";
my $json = do {
    open my $py, '-|', '/usr/bin/python3', '-c',
        'import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)',
        $yaml_file or die "python3: $!";
    local $/;
    my $out = <$py>;
    close $py;
    is($?, 0, 'eks.yaml: python3-yaml parses every document') or BAIL_OUT('eks.yaml does not parse');
    $out;
};

my @docs = grep { defined } @{ decode_json($json) };
my %obj;
for my $d (@docs) {
    ok(!$obj{ $d->{kind} }, "eks.yaml: one $d->{kind}");
    $obj{ $d->{kind} } = $d;
}
is_deeply([ sort map { "$_->{apiVersion} $_->{kind}" } @docs ],
    [ 'apps/v1 Deployment', 'v1 ConfigMap', 'v1 Service', 'v1 ServiceAccount' ],
    'eks.yaml: a ServiceAccount, a ConfigMap, a Deployment and a Service');

my ($sa, $cm, $dep, $svc) = @obj{qw(ServiceAccount ConfigMap Deployment Service)};
BAIL_OUT('eks.yaml: objects missing') unless $sa && $cm && $dep && $svc;

is($sa->{metadata}{name}, 'lfv-proxy', 'ServiceAccount lfv-proxy');
is($cm->{metadata}{name}, 'lfv-proxy-nginx', 'ConfigMap lfv-proxy-nginx');
my %ns = map { ($_->{metadata}{namespace} // '') => 1 } @docs;
is_deeply([ keys %ns ], ['vision'], 'eks.yaml: every object in the namespace vision');

my $role = $sa->{metadata}{annotations}{'eks.amazonaws.com/role-arn'} // '';
is($role, 'arn:aws:iam::123456789012:role/lfv-proxy', 'ServiceAccount: the IRSA annotation');

my $conf = $cm->{data}{'nginx.conf'} // '';
ok(length $conf, 'ConfigMap: nginx.conf');
common_checks('eks nginx.conf', $conf);
is_deeply([ directive($conf, 'lfv_credentials') ], ['web_identity'], 'eks nginx.conf: lfv_credentials web_identity');
is_deeply([ directive($conf, 'resolver') ], ['10.100.0.10 valid=30s'], 'eks nginx.conf: the cluster DNS');
like((directive($conf, 'lfv_team'))[0] // '', qr/^\$http_\w+$/, 'eks nginx.conf: the team from a header');
is_deeply([ directive($conf, 'include') ], ['lfv_proxy_params'],
    'eks nginx.conf: lfv_proxy_params beside nginx.conf, as the package installs it');

my ($listen) = listen_port($conf);
my ($status) = status_location($conf);
my ($region) = directive($conf, 'lfv_region');
is($listen, 8080, 'eks nginx.conf: listens on 8080');

# the Deployment

my $spec = $dep->{spec};
my $pod = $spec->{template}{spec};
my %labels = %{ $spec->{template}{metadata}{labels} || {} };
my $subset = sub {
    my ($sel) = @_;
    return %{ $sel || {} } && !grep { ($labels{$_} // "\0") ne $sel->{$_} } keys %{ $sel || {} };
};

is($spec->{replicas}, 2, 'Deployment: 2 replicas');
ok($subset->($spec->{selector}{matchLabels}), 'Deployment: the selector matches the pod labels');
is($pod->{serviceAccountName}, $sa->{metadata}{name}, 'Deployment: runs as the ServiceAccount');

my @containers = @{ $pod->{containers} || [] };
is(scalar @containers, 1, 'Deployment: one container');
my $c = $containers[0] || {};
is($c->{image}, 'REGISTRY/lfv-proxy:TAG', 'Deployment: the image placeholder');
like(slurp($yaml_file), qr/^\s*#.*\bDebian\b.*\n(?:\s*#.*\n)*\s*image:\s*REGISTRY\/lfv-proxy:TAG/m,
    'Deployment: a comment says what the image is');
is_deeply($c->{command}, ['nginx', '-g', 'daemon off;'],
    'Deployment: nginx in the foreground, with the default /etc/nginx/nginx.conf');

my %vol = map { $_->{name} => $_ } @{ $pod->{volumes} || [] };
my %mount = map { $_->{mountPath} => $_ } @{ $c->{volumeMounts} || [] };

my $cmount = $mount{'/etc/nginx/nginx.conf'} || {};
my $cvol = $vol{ $cmount->{name} // '' } || {};
is($cvol->{configMap}{name}, $cm->{metadata}{name}, 'Deployment: /etc/nginx/nginx.conf is the ConfigMap');
is($cmount->{subPath}, 'nginx.conf', 'Deployment: mounted by subPath');
ok(exists $cm->{data}{ $cmount->{subPath} // '' }, 'Deployment: the subPath is a key of the ConfigMap');

my %env = map { defined $_->{value} ? ($_->{name} => $_->{value}) : () } @{ $c->{env} || [] };
is($env{AWS_REGION}, $region, 'Deployment: AWS_REGION, the region of lfv_region');

my @ports = @{ $c->{ports} || [] };
is(scalar @ports, 1, 'Deployment: one container port');
is($ports[0]{containerPort}, $listen, 'Deployment: the container port is the listen port');

my $ready = $c->{readinessProbe}{httpGet} || {};
is($ready->{path}, $status, 'readiness probe: the status location');
is($ready->{port}, $listen, 'readiness probe: the listen port');
is($c->{readinessProbe}{periodSeconds}, 5, 'readiness probe: every 5 s, as docs/operations.md');

my $live = $c->{livenessProbe}{httpGet} || {};
is($live->{path}, "$status?format=prometheus", 'liveness probe: the Prometheus page (200 without credentials)');
is($live->{port}, $listen, 'liveness probe: the listen port');

ok($c->{resources}{requests}{cpu} && $c->{resources}{requests}{memory}
    && $c->{resources}{limits}{memory}, 'Deployment: resources');

my $psc = $pod->{securityContext} || {};
my $csc = $c->{securityContext} || {};
ok($psc->{runAsNonRoot} && ($psc->{runAsUser} // 0) > 0, 'Deployment: runAsNonRoot, with a user id');
ok($psc->{fsGroup}, 'Deployment: fsGroup, for the projected token');
ok($csc->{readOnlyRootFilesystem} && defined $csc->{allowPrivilegeEscalation}
    && !$csc->{allowPrivilegeEscalation},
    'Deployment: read-only root filesystem, no privilege escalation');
my $tmp = $mount{'/tmp'} || {};
ok(exists(($vol{ $tmp->{name} // '' } || {})->{emptyDir}), 'Deployment: /tmp is an emptyDir (what nginx writes)');

# the Service

is($svc->{metadata}{name}, 'lfv-proxy', 'Service lfv-proxy');
is($svc->{spec}{type}, 'ClusterIP', 'Service: ClusterIP');
ok($subset->($svc->{spec}{selector}), 'Service: the selector matches the pod labels');
my @sports = @{ $svc->{spec}{ports} || [] };
is(scalar @sports, 1, 'Service: one port');
is($sports[0]{port}, 8080, 'Service: port 8080');
my $target = $sports[0]{targetPort} // $sports[0]{port};
my ($tport) = grep { ($_->{name} // '') eq $target || $_->{containerPort} eq $target } @ports;
is($tport && $tport->{containerPort}, $listen, "Service: targetPort $target is the listen port");

# nginx -t: the pod's environment is the Deployment's env and what the
# pod identity webhook adds for the annotated service account

my $token = $t->write_file('irsa/token', "eyJhbGciOiJSUzI1NiJ9.deploy-test.sig\n");
$t->write_file('lfv_proxy_params', slurp('ngx_lfv_module/lfv_proxy_params'));

my $eks = for_test('eks nginx.conf', $conf,
    'load_module: the built module', 'listen: a test port on 127.0.0.1',
    '/tmp: the test prefix', 'the CA bundle: a generated CA');

my ($ok, $test_out) = nginx_t($eks, %env,
    AWS_ROLE_ARN => $role, AWS_WEB_IDENTITY_TOKEN_FILE => $token);
ok($ok, 'eks nginx.conf passes nginx -t in the pod\'s environment') or diag $test_out;

($ok, $test_out) = nginx_t($eks, %env);
ok(!$ok && $test_out =~ /"lfv_credentials web_identity" needs role_arn= or AWS_ROLE_ARN/,
    'eks nginx.conf: without the webhook\'s environment nginx -t fails, naming it')
    or diag $test_out;

# --- ecs-task.json ---------------------------------------------------------------

my $task = eval { JSON::PP->new->decode(slurp('docs/deploy/ecs-task.json')) };
ok($task, 'ecs-task.json parses') or BAIL_OUT("ecs-task.json: $@");

is_deeply($task->{requiresCompatibilities}, ['FARGATE'], 'task: Fargate');
is($task->{networkMode}, 'awsvpc', 'task: awsvpc (the containers share 127.0.0.1)');
like($task->{taskRoleArn} // '', qr/^arn:aws:iam::123456789012:role\/[\w+=,.@-]+$/, 'task: the task role ARN');
like($task->{executionRoleArn} // '', qr/^arn:aws:iam::123456789012:role\/[\w+=,.@-]+$/,
    'task: the execution role ARN (image pull, awslogs)');

my @defs = @{ $task->{containerDefinitions} || [] };
my %def = map { $_->{name} => $_ } @defs;
is(scalar(keys %def), scalar(@defs), 'task: container names are unique');
my ($proxy, $app) = @def{qw(lfv-proxy app)};
BAIL_OUT('task: lfv-proxy and app containers missing') unless $proxy && $app;

for my $d (@defs) {
    for my $dep (@{ $d->{dependsOn} || [] }) {
        ok($def{ $dep->{containerName} }, "task: $d->{name} depends on $dep->{containerName}, which exists");
    }
    my $lc = $d->{logConfiguration} || {};
    ok($lc->{logDriver} eq 'awslogs' && $lc->{options}{'awslogs-group'}
        && $lc->{options}{'awslogs-region'} && $lc->{options}{'awslogs-stream-prefix'},
        "task: $d->{name} logs with awslogs");
}
is_deeply($app->{dependsOn}, [{ containerName => 'lfv-proxy', condition => 'HEALTHY' }],
    'task: app waits for lfv-proxy to be HEALTHY');
ok($proxy->{essential}, 'task: lfv-proxy is essential');
is($proxy->{image}, 'REGISTRY/lfv-proxy:TAG', 'task: the proxy image, the same as on EKS');
like($proxy->{user} // '', qr/^[1-9]\d*(?::\d+)?$/, 'task: the proxy runs as a non-root user');

my %penv = map { $_->{name} => $_->{value} } @{ $proxy->{environment} || [] };
my $econf = $penv{LFV_NGINX_CONF} // '';
ok(length $econf, 'task: the nginx configuration in LFV_NGINX_CONF');

common_checks('ecs nginx.conf', $econf);
is_deeply([ directive($econf, 'lfv_credentials') ], ['container'], 'ecs nginx.conf: lfv_credentials container');
is_deeply([ directive($econf, 'include') ], ['/etc/nginx/lfv_proxy_params'],
    'ecs nginx.conf: the package\'s lfv_proxy_params, by its full path (the file is in /tmp)');
my @elisten = directive($econf, 'listen');
is_deeply(\@elisten, ['127.0.0.1:8080'], 'ecs nginx.conf: listens on 127.0.0.1:8080, the task\'s containers only');
my ($eport) = listen_port($econf);
my ($estatus) = status_location($econf);
my ($eregion) = directive($econf, 'lfv_region');

# the command writes the variable to the file nginx reads

my $cmd = join ' ', @{ $proxy->{entryPoint} || [] };
is($cmd, 'sh -c', 'task: the proxy\'s entry point is sh -c');
my ($script) = @{ $proxy->{command} || [] };
my ($writer, $nginx_cmd) = ($script // '') =~ /^(.*?)\s*&&\s*exec\s+(nginx\b.*)$/;
ok($writer && $nginx_cmd, 'task: the command writes the configuration, then execs nginx');
my ($written) = ($writer // '') =~ /"\$LFV_NGINX_CONF"\s*>\s*(\S+)$/;
my ($read) = ($nginx_cmd // '') =~ /\s-c\s+(\S+)/;
ok($written && $read && $written eq $read, "task: LFV_NGINX_CONF goes to $written, which nginx -c reads");
like($nginx_cmd // '', qr/-g 'daemon off;'/, 'task: nginx in the foreground');

{
    my $w = for_test('the command', $writer // 'false', '/tmp: the test prefix');
    local $ENV{LFV_NGINX_CONF} = $econf;
    is(system('/bin/sh', '-c', $w), 0, 'task: the command\'s writer runs');
    my ($path) = $w =~ />\s*(\S+)$/;
    is(-f $path ? slurp($path) : undef, "$econf\n", 'task: it writes the configuration unchanged');
}

# the health check and the app

my $hc = $proxy->{healthCheck} || {};
my $hcmd = join ' ', @{ $hc->{command} || [] };
like($hcmd, qr/^CMD-SHELL curl -fsS\b/, 'task: the health check fails on an error status');
like($hcmd, qr{\Qhttp://127.0.0.1:$eport$estatus\E(?:\s|$)},
    "task: the health check asks the status location, http://127.0.0.1:$eport$estatus");
ok($hc->{interval} && $hc->{timeout} && $hc->{retries} && defined $hc->{startPeriod},
    'task: health check timing');

my @acmd = (@{ $app->{entryPoint} || [] }, @{ $app->{command} || [] });
my $acmd = join ' ', @acmd;
like($acmd, qr{--endpoint-url http://127\.0\.0\.1:\Q$eport\E(?:\s|$)}, 'task: the app calls the proxy on 127.0.0.1');
like($acmd, qr/--no-sign-request\b/, 'task: the app sends unsigned requests');
like($acmd, qr/--region \Q$eregion\E\b/, 'task: the app\'s region is the proxy\'s lfv_region');

# nginx -t: the task's environment is the container's, and what the ECS
# agent adds

my $ecs = for_test('ecs nginx.conf', $econf,
    'load_module: the built module', 'listen: a test port on 127.0.0.1',
    '/tmp: the test prefix', 'the CA bundle: a generated CA',
    '/etc/nginx/lfv_proxy_params: the module\'s file');

($ok, $test_out) = nginx_t($ecs, %penv,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI => '/v2/credentials/2f5a1d0e-8c4b-4e7a-9d3f-6b1c0a9e8d72');
ok($ok, 'ecs nginx.conf passes nginx -t in the task\'s environment') or diag $test_out;

($ok, $test_out) = nginx_t($ecs, %penv);
ok(!$ok && $test_out =~ /"lfv_credentials container" needs endpoint= or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/,
    'ecs nginx.conf: without the agent\'s environment nginx -t fails, naming it')
    or diag $test_out;

# --- docs/deploy/README.md ---------------------------------------------------------

my $readme = slurp('docs/deploy/README.md');

opendir my $dh, "$repo/docs/deploy" or die;
for my $f (sort grep { -f "$repo/docs/deploy/$_" && $_ ne 'README.md' } readdir $dh) {
    like($readme, qr/`\Q$f\E`/, "docs/deploy/README.md: describes $f");
}
closedir $dh;

like(slurp('docs/operations.md'), qr/\]\(deploy\/README\.md\)/, 'docs/operations.md links docs/deploy/README.md');
like(slurp('README.md'), qr/\]\(docs\/deploy\/README\.md\)/, 'README.md links docs/deploy/README.md');

# its links and anchors resolve, as t/60-docs.t checks the other pages'

sub prose { LFV::Markdown::prose(@_) }
sub anchors { LFV::Markdown::anchors(@_) }

for my $line (prose($readme)) {
    while ($line =~ /\]\(([^)\s]+)\)/g) {
        my $link = $1;
        next if $link =~ /^[a-z]+:/;
        my ($path, $anchor) = split /#/, $link, 2;
        my $target = $path eq '' ? 'docs/deploy/README.md' : "docs/deploy/$path";
        1 while $target =~ s{[^/]+/\.\./}{};
        ok(-e "$repo/$target", "docs/deploy/README.md: link $link: $target exists") or next;
        next unless defined $anchor && $target =~ /\.md$/;
        ok(anchors(slurp($target))->{$anchor}, "docs/deploy/README.md: link $link: anchor exists");
    }
}

$t->done;

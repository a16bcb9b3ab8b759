#!/usr/bin/perl

# The documentation against the sources: every directive (the
# ngx_command_t table) has its section in docs/directives.md with the
# contexts of the table, and a row in the README; every variable (the
# ngx_http_variable_t table) its section in docs/variables.md; every
# reason (the table of ngx_http_lfv_error.c) its row in the error table,
# with the same status, error type, envelope code and message; nothing
# documented that the sources do not have; relative links and anchors
# resolve. Then the README's minimal configuration passes nginx -t and
# serves, with only the listen port and the CA path replaced.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use LFV::Test;
use LFV::Markdown;

my $t = LFV::Test->new;
my $repo = $t->repo;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', "$repo/$path" or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

# --- the sources -----------------------------------------------------------

my %context_name = (MAIN => 'http', SRV => 'server', LOC => 'location');

my (%directive, %variable);

for my $file (glob "$repo/ngx_lfv_module/*.c") {
    my $src = do { open my $fh, '<', $file or die; local $/; <$fh> };

    while ($src =~ /ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_null_command/sg) {
        my $table = $1;
        while ($table =~ /\{\s*ngx_string\("(lfv\w*)"\),\s*([A-Z0-9_|\s]+?),/sg) {
            my ($name, $flags) = ($1, $2);
            my @ctx = map { $context_name{$_} }
                      grep { $flags =~ /NGX_HTTP_${_}_CONF\b/ } qw(MAIN SRV LOC);
            $directive{$name} = join ', ', @ctx;
        }
    }

    while ($src =~ /ngx_http_variable_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_http_null_variable/sg) {
        my $table = $1;
        $variable{$1} = 1 while $table =~ /ngx_string\("(lfv_\w+)"\)/g;
    }
}

ok(keys %directive >= 13, 'directives found in the command table: '
    . join(' ', sort keys %directive));
ok(keys %variable >= 10, 'variables found in the variable table: '
    . join(' ', sort keys %variable));

# the reasons: ngx_http_lfv_rule(status, code, name, message)

my %status_code = (
    NGX_HTTP_OK => 200, NGX_HTTP_BAD_REQUEST => 400, NGX_HTTP_FORBIDDEN => 403,
    NGX_HTTP_NOT_FOUND => 404, NGX_HTTP_NOT_ALLOWED => 405,
    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE => 413, NGX_HTTP_TOO_MANY_REQUESTS => 429,
    NGX_HTTP_INTERNAL_SERVER_ERROR => 500, NGX_HTTP_SERVICE_UNAVAILABLE => 503,
);

sub c_args {
    my ($text) = @_;    # the text after "(" up to the matching ")"
    my (@args, $cur, $in_str, $depth);
    $cur = ''; $in_str = 0; $depth = 0;
    my @c = split //, $text;
    for (my $i = 0; $i < @c; $i++) {
        my $ch = $c[$i];
        if ($in_str) {
            if ($ch eq '\\') { $cur .= $ch . $c[++$i]; next }
            $in_str = 0 if $ch eq '"';
            $cur .= $ch;
            next;
        }
        if ($ch eq '"') { $in_str = 1; $cur .= $ch; next }
        if ($ch eq '(') { $depth++ }
        if ($ch eq ')') { last if $depth-- == 0 }
        if ($ch eq ',' && $depth == 0) { push @args, $cur; $cur = ''; next }
        $cur .= $ch;
    }
    push @args, $cur;
    return map { s/^\s+|\s+$//gr } @args;
}

sub c_string {
    my ($arg) = @_;
    my $s = '';
    while ($arg =~ /"((?:[^"\\]|\\.)*)"/g) { $s .= $1 }
    $s =~ s/\\(.)/$1/g;
    return $s;
}

my $error_c = slurp('ngx_lfv_module/ngx_http_lfv_error.c');

my ($reason_table) = $error_c =~ /ngx_http_lfv_reason_t\s+ngx_http_lfv_reasons\[\]\s*=\s*\{(.*?)\n\};/s;
ok($reason_table, 'the reason table found');

my (%envelope_of, @reasons);
while ($error_c =~ /\{\s*ngx_string\("(\w+)"\),\s*ngx_string\("(\w+)"\)\s*\}/g) {
    $envelope_of{$1} = $2;
}
my ($unavailable) = $error_c =~ /unavailable\s*=\s*ngx_string\("(\w+)"\)/;
my ($internal) = $error_c =~ /internal\s*=\s*ngx_string\("(\w+)"\)/;
ok($unavailable && $internal && keys %envelope_of >= 5, 'envelope codes found');

while ($reason_table =~ /ngx_http_lfv_rule\(/g) {
    my ($status, $code, $name, $message) = c_args(substr($reason_table, pos($reason_table)));
    my $num = $status =~ /^\d+$/ ? $status : $status_code{$status};
    ok(defined $num, "status of reason \"" . c_string($name) . "\" known: $status")
        or next;
    push @reasons, {
        status => $num, code => c_string($code), name => c_string($name),
        message => c_string($message),
    };
}
ok(@reasons >= 30, scalar(@reasons) . ' reasons found');

# --- markdown ----------------------------------------------------------------

# lines outside fenced code blocks, and the GitHub anchors of the headings

sub prose { LFV::Markdown::prose(@_) }
sub anchors { LFV::Markdown::anchors(@_) }

# sections: heading text => the lines up to the next heading of the same
# or a higher level

sub sections {
    my ($text) = @_;
    my (@lines, @heads, %sec);
    my $fence = 0;
    for my $line (split /\n/, $text) {
        $fence = !$fence if $line =~ /^\s*```/;
        push @heads, [ scalar @lines, length $1, $2 ]
            if !$fence && $line =~ /^(#{1,6})\s+(.*?)\s*$/;
        push @lines, $line;
    }
    for my $i (0 .. $#heads) {
        my ($start, $level, $title) = @{ $heads[$i] };
        my $end = @lines;
        for my $h (@heads[$i + 1 .. $#heads]) {
            if ($h->[1] <= $level) { $end = $h->[0]; last }
        }
        $sec{$title} = join '', map { "$_\n" } @lines[$start + 1 .. $end - 1];
    }
    return \%sec;
}

my $readme = slurp('README.md');
my $directives_md = slurp('docs/directives.md');
my $variables_md = slurp('docs/variables.md');

# --- directives --------------------------------------------------------------

my $dsec = sections($directives_md);

for my $name (sort keys %directive) {
    my $s = $dsec->{$name};
    ok(defined $s, "directives.md: section for $name") or next;

    like($s, qr/^\s+Syntax:\s+\Q$name\E\b/m, "$name: Syntax line");
    like($s, qr/^\s+Default:\s+\S/m, "$name: Default line");

    my ($ctx) = $s =~ /^\s+Context:\s+(.*?)\s*$/m;
    is($ctx, $directive{$name}, "$name: Context as in the command table");

    like($s, qr/```nginx\n(?:.*\n)*?.*\b\Q$name\E\b/, "$name: an example");
}

for my $heading (keys %$dsec) {
    next unless $heading =~ /^lfv\w*$/;
    ok($directive{$heading}, "directives.md: $heading exists in the sources");
}

# the README's table: every directive, nothing else, same contexts

my %readme_row;
for my $line (prose($readme)) {
    next unless $line =~ /^\|\s*\[`(lfv\w*)`\]\(docs\/directives\.md#(\w+)\)(?:[^|\\]|\\.)*\|\s*([^|]*?)\s*\|/;
    $readme_row{$1} = $3;
    is($2, $1, "README: the link of $1 points at its section");
}

for my $name (sort keys %directive) {
    is($readme_row{$name}, $directive{$name}, "README: row for $name with its contexts");
}

for my $name (sort keys %readme_row) {
    ok($directive{$name}, "README: $name exists in the sources");
}

# --- variables ---------------------------------------------------------------

my $vsec = sections($variables_md);

for my $name (sort keys %variable) {
    ok(defined $vsec->{"\$$name"}, "variables.md: section for \$$name");
    like($variables_md, qr/^\|\s*`\$\Q$name\E`\s*\|/m, "variables.md: table row for \$$name");
}

for my $heading (keys %$vsec) {
    next unless $heading =~ /^\$(lfv\w*)$/;
    ok($variable{$1}, "variables.md: \$$1 exists in the sources");
}

# --- reasons -----------------------------------------------------------------

# the module builds these messages itself, with the team and the numbers;
# the table's own message is never sent
my %own_message = map { $_ => 1 } qw(team project_denied min_units_cap max_units_cap);

my %documented_reason;
for my $line (prose($directives_md)) {
    next unless $line =~ /^\|\s*`(\w+)`\s*\|\s*(\d+)\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|\s*`(.*)`\s*\|\s*$/;
    $documented_reason{$1} = { status => $2, code => $3, envelope => $4, message => $5 };
}

for my $r (@reasons) {
    next if $r->{name} eq '';

    like($variables_md, qr/`\Q$r->{name}\E`/, "variables.md: reason $r->{name}");

    next if $r->{code} eq '';    # forwarded: not an error

    my $d = $documented_reason{$r->{name}};
    ok($d, "error table: row for $r->{name}") or next;

    my $envelope = $r->{name} =~ /^(?:role_)?credentials_unavailable$/ ? $unavailable
        : $envelope_of{$r->{code}} // $internal;

    is($d->{status}, $r->{status}, "$r->{name}: status");
    is($d->{code}, $r->{code}, "$r->{name}: x-amzn-ErrorType");
    is($d->{envelope}, $envelope, "$r->{name}: envelope code");

    if ($own_message{$r->{name}}) {
        ok(length $d->{message}, "$r->{name}: message template");
    } else {
        is($d->{message}, $r->{message}, "$r->{name}: message");
    }
}

my %known_reason = map { $_->{name} => 1 } @reasons;
for my $name (sort keys %documented_reason) {
    ok($known_reason{$name}, "error table: $name exists in the sources");
}

# --- links -------------------------------------------------------------------

my @md = ('README.md', map { s{^\Q$repo\E/}{}r } glob "$repo/docs/*.md");
my %anchors_of;

for my $file (@md) {
    my $dir = $file =~ m{/} ? $file =~ s{/[^/]*$}{}r : '.';

    for my $line (prose(slurp($file))) {
        while ($line =~ /\]\(([^)\s]+)\)/g) {
            my $link = $1;
            next if $link =~ /^[a-z]+:/;

            my ($path, $anchor) = split /#/, $link, 2;
            my $target = $path eq '' ? $file : "$dir/$path";
            $target =~ s{^\./}{};
            1 while $target =~ s{[^/]+/\.\./}{};

            ok(-e "$repo/$target", "$file: link $link: $target exists") or next;
            next unless defined $anchor && $target =~ /\.md$/;

            $anchors_of{$target} //= anchors(slurp($target));
            ok($anchors_of{$target}{$anchor}, "$file: link $link: anchor exists");
        }
    }
}

# --- the README's minimal configuration --------------------------------------

my ($conf) = $readme =~ /^## Minimal configuration\s*\n.*?^```nginx\n(.*?)^```/ms;
ok($conf, 'README: minimal configuration found') or BAIL_OUT('no configuration');

my $n = 0;
$n += $conf =~ s/^load_module\s+\S+;\n/%%TEST_GLOBALS%%\n/m;
$n += $conf =~ s/^(http\s*\{\n)/$1    %%TEST_GLOBALS_HTTP%%\n/m;
$n += $conf =~ s/(\blisten\s+127\.0\.0\.1:)\d+;/$1%%PORT_http%%;/;
$n += $conf =~ s/(\bproxy_ssl_trusted_certificate\s+)\S+;/$1%%KEY_ca%%;/;
$n += $conf =~ s/\binclude\s+lfv_proxy_params;/include %%LFV_PROXY_PARAMS%%;/;
is($n, 5, 'README configuration: load_module, http, listen, the CA and lfv_proxy_params found');

# a CA file of our own: the system bundle need not exist here

my $ca = $t->prefix . '/ca.pem';
my $out = `openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lfv-docs-test -keyout '$ca.key' -out '$ca' 2>&1`;
ok(-s $ca, 'a CA certificate for the test') or diag $out;
$t->set(ca => $ca);

# auto resolves to env: no credentials endpoint or IMDS is involved

delete @ENV{qw(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
               AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
               AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_SESSION_TOKEN)};
$ENV{AWS_ACCESS_KEY_ID} = 'AKIDDOCSTEST00000001';
$ENV{AWS_SECRET_ACCESS_KEY} = 'docs-test-secret-0000000000000000000001';

$t->write_conf($conf);

my ($ok, $test_out) = $t->nginx_test;
ok($ok, 'README configuration passes nginx -t') or diag $test_out;

$t->run;

my $r = $t->http(path => '/');
is($r->{status}, 404, 'README configuration: the module serves');
is($r->{headers}{'x-amzn-errortype'}, 'UnknownOperationException',
    'README configuration: an unknown route refused locally');

$t->done;

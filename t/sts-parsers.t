#!/usr/bin/perl

# The parsers of what AWS STS answers (ngx_http_lfv_sts_doc.c), linked
# without nginx into t/unit/creds_driver.c: AssumeRole and
# AssumeRoleWithWebIdentity answers and STS's error document, every rule
# of the XML subset and of the members on both sides of its boundary,
# and every prefix of a valid document refused.  The documents are
# AWS's own examples (API reference of AssumeRole, Errors); expected
# epochs were checked with `date -u -d ... +%s`.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use LFV::CredsDriver;
use Digest::SHA qw(sha256_hex);

my $d = LFV::CredsDriver->new;

###############################################################################

# what the driver prints: secrets as length and SHA-256, strings escaped

sub esc {
    my ($s) = @_;
    $s =~ s/([^\x21-\x5b\x5d-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

sub sts_ok {
    my ($a, $s, $t, $exp, $arn, $rid) = @_;
    return sprintf 'ok akid=%s secret_len=%d secret_sha256=%s '
        . 'token_len=%d token_sha256=%s expiration=%d arn=%s request_id=%s',
        $a, length $s, sha256_hex($s), length $t, sha256_hex($t), $exp,
        esc($arn // ''), esc($rid // '');
}

sub error_ok {
    my ($type, $code, $msg, $rid) = @_;
    return sprintf 'ok type=%s code=%s message=%s request_id=%s',
        esc($type // ''), esc($code), esc($msg // ''), esc($rid // '');
}

sub err { return "error: $_[0] (wiped)" }

my $ns = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"';

# AWS's example of AssumeRole, as it is

my $role = <<'EOF';
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>team-a</SourceIdentity>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s3-access-example</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/xaccounts3access/s3-access-example</Arn>
    </AssumedRoleUser>
    <Credentials>
      <SecretAccessKey>9drTJvcXLB89EXAMPLELB8923FB892xMFI</SecretAccessKey>
      <SessionToken>AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
      <AccessKeyId>ASIAJEXAMPLEXEG2JICEA</AccessKeyId>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
EOF

my $role_secret = '9drTJvcXLB89EXAMPLELB8923FB892xMFI';
my ($role_token) = $role =~ m{<SessionToken>(.*)</SessionToken>};
my $role_arn = 'arn:aws:sts::123456789012:assumed-role/xaccounts3access/'
    . 's3-access-example';
my $role_rid = 'c6104cbe-af31-11e0-8154-cbc7ccf896c7';
my $role_ok = sts_ok('ASIAJEXAMPLEXEG2JICEA', $role_secret, $role_token,
    1573306481, $role_arn, $role_rid);

# AssumeRoleWithWebIdentity's, its key id in capitals (AWS's example
# has "ASgeIAIOSFODNN7EXAMPLE", which no real key id looks like)

my $web = <<'EOF';
<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-11-26T12:34:56Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
EOF

my $web_ok = sts_ok('ASIAIOSFODNN7EXAMPLE',
    'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
    'AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE', 1795696496,
    'arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1',
    'ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE');

my $error = <<'EOF';
<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/z</Message>
  </Error>
  <RequestId>4f9a5d2e-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>
EOF

my $error_msg = 'User: arn:aws:sts::123456789012:assumed-role/x/y is not '
    . 'authorized to perform: sts:AssumeRole on resource: '
    . 'arn:aws:iam::123456789012:role/z';
my $error_ok = error_ok('Sender', 'AccessDenied', $error_msg,
    '4f9a5d2e-0000-0000-0000-000000000000');

# a small AssumeRole answer around its parts

my $exp = '2026-11-26T12:34:56Z';
my %m = (AccessKeyId => 'AKID', SecretAccessKey => 's',
    SessionToken => 't', Expiration => $exp);

sub members {
    my (%o) = (%m, @_);
    return join '', map { defined $o{$_} ? "<$_>$o{$_}</$_>" : '' }
        qw(AccessKeyId SecretAccessKey SessionToken Expiration);
}

sub creds { return '<Credentials>' . members(@_) . '</Credentials>' }

sub doc {
    my ($result, $after) = @_;
    return '<AssumeRoleResponse><AssumeRoleResult>' . $result
        . '</AssumeRoleResult>' . ($after // '') . '</AssumeRoleResponse>';
}

my $min = doc(creds());
my $min_ok = sts_ok('AKID', 's', 't', 1795696496);

# $role with one substitution: s{$from}{$to}

sub role_with {
    my ($from, $to) = @_;
    my $d = $role;
    $d =~ s{$from}{$to} or die "no $from in the document";
    return $d;
}

# nested unknown elements, n levels

sub nest {
    my ($n, $in) = @_;
    return ('<u>' x $n) . ($in // '') . ('</u>' x $n);
}

my $attrs16 = join '', map { " a$_=\"$_\"" } 1 .. 16;

my @role = (
    [ 'AWS example', $role, $role_ok ],
    [ 'AWS example, CRLF', ($role =~ s/\n/\r\n/gr), $role_ok ],
    [ 'AWS example, tabs', ($role =~ s/  /\t/gr), $role_ok ],
    [ 'AWS example on one line', ($role =~ s/\n\s*//gr), $role_ok ],
    [ 'XML declaration',
        qq{<?xml version="1.0" encoding="UTF-8"?>\n$role}, $role_ok ],
    [ 'XML declaration, single quotes, standalone',
        qq{<?xml version='1.0' encoding='utf-8' standalone='yes' ?>$role},
        $role_ok ],
    [ 'XML declaration, no pseudo-attribute', "<?xml ?>$role", $role_ok ],
    [ 'fractional seconds', role_with('13:34:41Z', '13:34:41.359Z'),
        $role_ok ],
    [ 'nine fractional digits',
        role_with('13:34:41Z', '13:34:41.123456789Z'), $role_ok ],
    [ 'offset', role_with('13:34:41Z', '14:34:41+01:00'), $role_ok ],
    [ 'minimal', $min, $min_ok ],
    [ 'members in any order',
        doc('<Credentials><Expiration>' . $exp . '</Expiration>'
            . '<SessionToken>t</SessionToken><SecretAccessKey>s'
            . '</SecretAccessKey><AccessKeyId>AKID</AccessKeyId>'
            . '</Credentials>'), $min_ok ],
    [ 'metadata before the result',
        '<AssumeRoleResponse><ResponseMetadata><RequestId>r</RequestId>'
        . '</ResponseMetadata><AssumeRoleResult>' . creds()
        . '</AssumeRoleResult></AssumeRoleResponse>',
        sts_ok('AKID', 's', 't', 1795696496, '', 'r') ],
    [ 'whitespace around values trimmed',
        doc(creds(AccessKeyId => "\n  AKID\t", SecretAccessKey => " s\r\n",
            SessionToken => ' t ', Expiration => "\n $exp \n")), $min_ok ],
    [ 'whitespace inside tags',
        doc("<Credentials >" . members(AccessKeyId => undef)
            . "<AccessKeyId\n>AKID</AccessKeyId \t\r\n></Credentials>"),
        $min_ok ],
    [ 'five entities decoded',
        doc(creds(SecretAccessKey => '&lt;&gt;&amp;&quot;&apos;')),
        sts_ok('AKID', q{<>&"'}, 't', 1795696496) ],
    [ 'character references decoded',
        doc(creds(AccessKeyId => 'A&#75;&#x49;&#x0044;',
            SecretAccessKey => '&#97;&#x7e;&#x7E;&#0000033;&#x21;')),
        sts_ok('AKID', 'a~~!!', 't', 1795696496) ],
    [ 'references of tab, LF, CR, DEL in unknown text',
        doc(creds() . '<u>&#9;&#10;&#13;&#127;&#x20;</u>'), $min_ok ],
    [ 'raw ">" in a value', doc(creds(SecretAccessKey => 'a>b')),
        sts_ok('AKID', 'a>b', 't', 1795696496) ],
    [ '"]]" in a value', doc(creds(SecretAccessKey => 'a]]b]')),
        sts_ok('AKID', 'a]]b]', 't', 1795696496) ],
    [ 'attributes skipped',
        qq{<AssumeRoleResponse $ns xmlns:x='urn:x' x:a = "1">}
        . qq{<AssumeRoleResult a="&lt;&#65;&gt;" b='"' c="'>/">}
        . qq{<Credentials d=""><AccessKeyId e="caf\xc3\xa9">AKID}
        . qq{</AccessKeyId>} . members(AccessKeyId => undef)
        . qq{</Credentials></AssumeRoleResult></AssumeRoleResponse>},
        $min_ok ],
    [ '16 attributes', doc(creds(), "<x$attrs16/>"), $min_ok ],
    [ 'namespace not checked',
        '<AssumeRoleResponse xmlns="urn:other">'
        . '<AssumeRoleResult>' . creds()
        . '</AssumeRoleResult></AssumeRoleResponse>', $min_ok ],
    [ 'unknown elements skipped, nested',
        doc('<Foo a="1"><Bar>text &amp; more<Baz/></Bar>t</Foo>'
            . '<Credentials><X><Y>1</Y><Y/></X>' . members()
            . '<PackedPolicySize>6</PackedPolicySize></Credentials>',
            '<Z>z</Z>'), $min_ok ],
    [ 'known names in unknown places skipped',
        doc('<AssumedRoleUser><AccessKeyId>x y</AccessKeyId>'
            . '<Credentials/></AssumedRoleUser>'
            . '<Foo><Credentials><AccessKeyId>X</AccessKeyId>'
            . '</Credentials></Foo>' . creds()
            . '<Arn>not the user</Arn>',
            '<ResponseMetadata><Arn>x</Arn></ResponseMetadata>'),
        $min_ok ],
    [ 'a known name with a prefix is unknown',
        doc(creds() . '<x:Credentials xmlns:x="urn:x"/>'), $min_ok ],
    [ 'UTF-8 and DEL in unknown text and attributes',
        doc(creds(), "<N a=\"\xe2\x82\xac\">caf\xc3\xa9 \x7f\xff</N>"),
        $min_ok ],
    [ 'empty unknown elements', doc('<A/><B />' . creds() . '<C/>'),
        $min_ok ],
    [ 'empty Arn', doc('<AssumedRoleUser><Arn/></AssumedRoleUser>'
        . creds()), $min_ok ],
    [ 'empty AssumedRoleUser', doc('<AssumedRoleUser/>' . creds()),
        $min_ok ],
    [ 'empty RequestId', doc(creds(),
        '<ResponseMetadata><RequestId></RequestId></ResponseMetadata>'),
        $min_ok ],
    [ 'nesting at the limit (16)', doc(creds() . nest(14)), $min_ok ],
    [ 'nesting at the limit, empty element at 16',
        doc(creds() . nest(13, '<e/>')), $min_ok ],
    [ 'key id of 128', doc(creds(AccessKeyId => 'A' x 128)),
        sts_ok('A' x 128, 's', 't', 1795696496) ],
    [ 'key id of 128 and trailing whitespace',
        doc(creds(AccessKeyId => ('A' x 128) . "\n    ")),
        sts_ok('A' x 128, 's', 't', 1795696496) ],
    [ 'secret of 256', doc(creds(SecretAccessKey => '~' x 256)),
        sts_ok('AKID', '~' x 256, 't', 1795696496) ],
    [ 'token of 4096', doc(creds(SessionToken => 'T' x 4096)),
        sts_ok('AKID', 's', 'T' x 4096, 1795696496) ],
    [ 'token of 4096 decoded from 20480 bytes',
        doc(creds(SessionToken => '&#84;' x 4096)),
        sts_ok('AKID', 's', 'T' x 4096, 1795696496) ],
    [ 'arn of 2048', doc('<AssumedRoleUser><Arn>' . ('a' x 2048)
        . '</Arn></AssumedRoleUser>' . creds()),
        sts_ok('AKID', 's', 't', 1795696496, 'a' x 2048) ],
    [ 'request id of 128', doc(creds(), '<ResponseMetadata><RequestId>'
        . ('r' x 128) . '</RequestId></ResponseMetadata>'),
        sts_ok('AKID', 's', 't', 1795696496, '', 'r' x 128) ],

    # the document

    [ 'empty input', '', err('no XML root element') ],
    [ 'whitespace only', " \r\n\t", err('no XML root element') ],
    [ 'XML declaration only', '<?xml version="1.0"?>',
        err('no XML root element') ],
    [ 'byte order mark', "\xef\xbb\xbf$role",
        err('a byte order mark is not accepted') ],
    [ 'byte order mark before the declaration',
        "\xef\xbb\xbf<?xml version=\"1.0\"?>$role",
        err('a byte order mark is not accepted') ],
    [ 'space before the declaration', " <?xml version=\"1.0\"?>$role",
        err('a processing instruction is not accepted') ],
    [ 'two declarations', '<?xml version="1.0"?><?xml version="1.0"?>'
        . $role, err('a processing instruction is not accepted') ],
    [ 'declaration without a space', "<?xml?>$role",
        err('a processing instruction is not accepted') ],
    [ 'declaration in capitals', "<?XML version=\"1.0\"?>$role",
        err('a processing instruction is not accepted') ],
    [ 'declaration ended by ">"', "<?xml version=\"1.0\">$role",
        err('invalid XML declaration') ],
    [ 'declaration, unquoted value', "<?xml version=1.0?>$role",
        err('invalid XML') ],
    [ 'declaration not ended', '<?xml version="1.0"',
        err('truncated XML') ],
    [ 'processing instruction before the root',
        "<?xml-stylesheet href=\"a\"?>$role",
        err('a processing instruction is not accepted') ],
    [ 'processing instruction in a container',
        doc('<?pi x?>' . creds()),
        err('a processing instruction is not accepted') ],
    [ 'processing instruction in a value',
        doc(creds(AccessKeyId => 'AK<?pi?>ID')),
        err('a processing instruction is not accepted') ],
    [ 'processing instruction after the root', "$min<?pi?>",
        err('a processing instruction is not accepted') ],
    [ 'DOCTYPE', "<!DOCTYPE AssumeRoleResponse>$min",
        err('a DOCTYPE is not accepted') ],
    [ 'entity expansion (billion laughs)',
        qq{<?xml version="1.0"?>\n<!DOCTYPE lolz [\n}
        . qq{ <!ENTITY lol0 "lol">\n}
        . join('', map { my $p = $_ - 1;
            qq{ <!ENTITY lol$_ "} . ("&lol$p;" x 10) . qq{">\n} } 1 .. 9)
        . qq{]>\n} . doc(creds(SecretAccessKey => '&lol9;')),
        err('a DOCTYPE is not accepted') ],
    [ 'external entity (XXE)',
        qq{<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>}
        . doc(creds(SecretAccessKey => '&x;')),
        err('a DOCTYPE is not accepted') ],
    [ 'DOCTYPE inside the root',
        '<AssumeRoleResponse><!DOCTYPE x></AssumeRoleResponse>',
        err('a DOCTYPE is not accepted') ],
    [ 'lowercase doctype', "<!doctype x>$min", err('invalid XML') ],
    [ 'comment before the root', "<!-- x -->$min",
        err('a comment is not accepted') ],
    [ 'comment in a container', doc(creds() . '<!-- x -->'),
        err('a comment is not accepted') ],
    [ 'comment in a value', doc(creds(AccessKeyId => 'AK<!--x-->ID')),
        err('a comment is not accepted') ],
    [ 'comment in an unknown element', doc(creds() . '<u><!----></u>'),
        err('a comment is not accepted') ],
    [ 'comment after the root', "$min\n<!-- x -->",
        err('a comment is not accepted') ],
    [ 'CDATA in a value',
        doc(creds(SecretAccessKey => '<![CDATA[s]]>')),
        err('a CDATA section is not accepted') ],
    [ 'CDATA in an unknown element', doc(creds() . '<u><![CDATA[]]></u>'),
        err('a CDATA section is not accepted') ],
    [ 'other "<!"', doc(creds() . '<!ELEMENT x>'), err('invalid XML') ],
    [ 'text before the root', "x$min", err('invalid XML') ],
    [ 'end tag first', "</AssumeRoleResponse>", err('invalid XML') ],
    [ 'trailing text', "${min}x", err('trailing data after XML') ],
    [ 'second root', "$min<AssumeRoleResponse/>",
        err('trailing data after XML') ],
    [ 'trailing NUL', "$min\x00", err('trailing data after XML') ],
    [ 'trailing form feed', "$min\x0c", err('trailing data after XML') ],
    [ 'trailing "<"', "$min<", err('trailing data after XML') ],

    # roots and results

    [ 'AssumeRoleWithWebIdentity answer', $web,
        err('unexpected root element') ],
    [ 'error answer', $error, err('unexpected root element') ],
    [ 'root in lowercase', lc $min, err('unexpected root element') ],
    [ 'root with a prefix',
        '<sts:AssumeRoleResponse xmlns:sts="https://sts.amazonaws.com/doc/'
        . '2011-06-15/"><sts:AssumeRoleResult/></sts:AssumeRoleResponse>',
        err('unexpected root element') ],
    [ 'root an unknown element', '<Credentials/>',
        err('unexpected root element') ],
    [ 'the web identity result',
        '<AssumeRoleResponse><AssumeRoleWithWebIdentityResult>' . creds()
        . '</AssumeRoleWithWebIdentityResult></AssumeRoleResponse>',
        err('no AssumeRoleResult') ],
    [ 'empty root', '<AssumeRoleResponse/>', err('no AssumeRoleResult') ],
    [ 'empty result', doc(''), err('no Credentials') ],
    [ 'Credentials outside the result',
        '<AssumeRoleResponse>' . creds() . '<AssumeRoleResult/>'
        . '</AssumeRoleResponse>', err('no Credentials') ],
    [ 'empty Credentials', doc('<Credentials/>'), err('no AccessKeyId') ],
    [ 'no key id', doc(creds(AccessKeyId => undef)), err('no AccessKeyId') ],
    [ 'no secret', doc(creds(SecretAccessKey => undef)),
        err('no SecretAccessKey') ],
    [ 'no token', doc(creds(SessionToken => undef)),
        err('no SessionToken') ],
    [ 'no expiration', doc(creds(Expiration => undef)),
        err('no Expiration') ],
    [ 'members in an unknown element only',
        doc('<Credentials><X>' . members() . '</X></Credentials>'),
        err('no AccessKeyId') ],

    # duplicates

    [ 'duplicate result', '<AssumeRoleResponse><AssumeRoleResult/>'
        . '<AssumeRoleResult>' . creds() . '</AssumeRoleResult>'
        . '</AssumeRoleResponse>', err('duplicate AssumeRoleResult') ],
    [ 'duplicate Credentials', doc(creds() . '<Credentials/>'),
        err('duplicate Credentials') ],
    [ 'duplicate key id',
        doc('<Credentials><AccessKeyId>AKID</AccessKeyId>' . members()
            . '</Credentials>'), err('duplicate AccessKeyId') ],
    [ 'duplicate key id, empty element',
        doc('<Credentials>' . members() . '<AccessKeyId/></Credentials>'),
        err('duplicate AccessKeyId') ],
    [ 'duplicate secret',
        doc('<Credentials>' . members() . '<SecretAccessKey>s'
            . '</SecretAccessKey></Credentials>'),
        err('duplicate SecretAccessKey') ],
    [ 'duplicate token',
        doc('<Credentials>' . members() . '<SessionToken>t'
            . '</SessionToken></Credentials>'),
        err('duplicate SessionToken') ],
    [ 'duplicate expiration',
        doc('<Credentials>' . members() . "<Expiration>$exp"
            . '</Expiration></Credentials>'),
        err('duplicate Expiration') ],
    [ 'duplicate AssumedRoleUser',
        doc('<AssumedRoleUser/><AssumedRoleUser/>' . creds()),
        err('duplicate AssumedRoleUser') ],
    [ 'duplicate Arn', doc('<AssumedRoleUser><Arn>a</Arn><Arn>a</Arn>'
        . '</AssumedRoleUser>' . creds()), err('duplicate Arn') ],
    [ 'duplicate ResponseMetadata', doc(creds(),
        '<ResponseMetadata/><ResponseMetadata/>'),
        err('duplicate ResponseMetadata') ],
    [ 'duplicate RequestId', doc(creds(), '<ResponseMetadata>'
        . '<RequestId>a</RequestId><RequestId>a</RequestId>'
        . '</ResponseMetadata>'), err('duplicate RequestId') ],

    # values

    [ 'key id of 129', doc(creds(AccessKeyId => 'A' x 129)),
        err('AccessKeyId too long') ],
    [ 'secret of 257', doc(creds(SecretAccessKey => '~' x 257)),
        err('SecretAccessKey too long') ],
    [ 'token of 4097', doc(creds(SessionToken => 'T' x 4097)),
        err('SessionToken too long') ],
    [ 'token of 4097 decoded', doc(creds(SessionToken => '&#84;' x 4097)),
        err('SessionToken too long') ],
    [ 'arn of 2049', doc('<AssumedRoleUser><Arn>' . ('a' x 2049)
        . '</Arn></AssumedRoleUser>' . creds()), err('Arn too long') ],
    [ 'request id of 129', doc(creds(), '<ResponseMetadata><RequestId>'
        . ('r' x 129) . '</RequestId></ResponseMetadata>'),
        err('RequestId too long') ],
    [ 'empty key id', doc(creds(AccessKeyId => '')),
        err('invalid AccessKeyId') ],
    [ 'key id an empty element',
        doc('<Credentials><AccessKeyId/>' . members(AccessKeyId => undef)
            . '</Credentials>'), err('invalid AccessKeyId') ],
    [ 'key id lowercase', doc(creds(AccessKeyId => 'akid')),
        err('invalid AccessKeyId') ],
    [ 'key id with a space', doc(creds(AccessKeyId => 'AK ID')),
        err('invalid AccessKeyId') ],
    [ 'empty secret', doc(creds(SecretAccessKey => '')),
        err('invalid SecretAccessKey') ],
    [ 'secret of whitespace', doc(creds(SecretAccessKey => " \n ")),
        err('invalid SecretAccessKey') ],
    [ 'secret with a space', doc(creds(SecretAccessKey => 'a b')),
        err('invalid SecretAccessKey') ],
    [ 'secret with &#32;', doc(creds(SecretAccessKey => 'a&#32;b')),
        err('invalid SecretAccessKey') ],
    [ 'secret ending with &#32; (not trimmed)',
        doc(creds(SecretAccessKey => 's&#32;')),
        err('invalid SecretAccessKey') ],
    [ 'secret with &#9;', doc(creds(SecretAccessKey => 'a&#9;b')),
        err('invalid SecretAccessKey') ],
    [ 'secret with &#10;', doc(creds(SecretAccessKey => 'a&#10;b')),
        err('invalid SecretAccessKey') ],
    [ 'secret with a raw tab', doc(creds(SecretAccessKey => "a\tb")),
        err('invalid SecretAccessKey') ],
    [ 'secret with DEL', doc(creds(SecretAccessKey => "a\x7fb")),
        err('invalid SecretAccessKey') ],
    [ 'secret with &#127;', doc(creds(SecretAccessKey => 'a&#127;b')),
        err('invalid SecretAccessKey') ],
    [ 'secret with UTF-8', doc(creds(SecretAccessKey => "caf\xc3\xa9")),
        err('invalid SecretAccessKey') ],
    [ 'secret with a byte 0xff', doc(creds(SecretAccessKey => "a\xffb")),
        err('invalid SecretAccessKey') ],
    [ 'empty token', doc(creds(SessionToken => '')),
        err('invalid SessionToken') ],
    [ 'token an empty element',
        doc('<Credentials><SessionToken/>' . members(SessionToken => undef)
            . '</Credentials>'), err('invalid SessionToken') ],
    [ 'token with a space', doc(creds(SessionToken => 'a b')),
        err('invalid SessionToken') ],
    [ 'token with UTF-8', doc(creds(SessionToken => "\xe2\x82\xac")),
        err('invalid SessionToken') ],
    [ 'arn with a space', doc('<AssumedRoleUser><Arn>a b</Arn>'
        . '</AssumedRoleUser>' . creds()), err('invalid Arn') ],
    [ 'arn with UTF-8', doc("<AssumedRoleUser><Arn>arn:\xc3\xa9</Arn>"
        . '</AssumedRoleUser>' . creds()), err('invalid Arn') ],
    [ 'request id with UTF-8', doc(creds(), '<ResponseMetadata><RequestId>'
        . "\xc3\xa9</RequestId></ResponseMetadata>"),
        err('invalid RequestId') ],
    [ 'empty expiration', doc(creds(Expiration => '')),
        err('invalid Expiration') ],
    [ 'expiration garbage', doc(creds(Expiration => 'tomorrow')),
        err('invalid Expiration') ],
    [ 'expiration without zone',
        doc(creds(Expiration => '2026-11-26T12:34:56')),
        err('invalid Expiration') ],
    [ 'expiration at epoch 0 (means none)',
        doc(creds(Expiration => '1970-01-01T00:00:00Z')),
        err('invalid Expiration') ],
    [ 'expiration with 10 fractional digits',
        doc(creds(Expiration => '2026-11-26T12:34:56.1234567890Z')),
        err('invalid Expiration') ],
    [ 'expiration long', doc(creds(Expiration => '2026-11-26T12:34:56.'
        . ('0' x 100) . 'Z')), err('invalid Expiration') ],
    [ 'expiration as an epoch', doc(creds(Expiration => '1795696496')),
        err('invalid Expiration') ],

    # mixed content and text

    [ 'element inside a value',
        doc(creds(AccessKeyId => 'AK<b/>ID')), err('element inside a value') ],
    [ 'value wrapped in an element',
        doc(creds(AccessKeyId => '<v>AKID</v>')),
        err('element inside a value') ],
    [ 'text in Credentials',
        doc('<Credentials>oops' . members() . '</Credentials>'),
        err('unexpected XML text') ],
    [ 'reference in Credentials',
        doc('<Credentials>&#32;' . members() . '</Credentials>'),
        err('unexpected XML text') ],
    [ 'text in the result', doc(creds() . 'x'), err('unexpected XML text') ],
    [ 'text in the root', doc(creds(), 'x'), err('unexpected XML text') ],
    [ 'UTF-8 text in the root', doc(creds(), "\xc2\xa0"),
        err('unexpected XML text') ],

    # the syntax

    [ 'mismatched end tag', doc(creds() . '<A></B>'),
        err('mismatched XML end tag') ],
    [ 'end tag of another case',
        doc('<Credentials><AccessKeyId>AKID</AccessKeyID></Credentials>'),
        err('mismatched XML end tag') ],
    [ 'end tag of a prefix of the name', doc(creds() . '<AB></A>'),
        err('mismatched XML end tag') ],
    [ 'end tag longer than the name', doc(creds() . '<A></AB>'),
        err('mismatched XML end tag') ],
    [ 'unclosed element', doc(creds() . '<A>'),
        err('mismatched XML end tag') ],
    [ 'end tag with an attribute', doc(creds() . '<A></A b="1">'),
        err('invalid XML') ],
    [ 'end tag without a name', doc(creds() . '<A></>'),
        err('invalid XML') ],
    [ 'space after "<"', doc(creds() . '< A/>'), err('invalid XML') ],
    [ 'space after "</"', doc(creds() . '<A></ A>'), err('invalid XML') ],
    [ 'space inside "/>"', doc(creds() . '<A/ >'), err('invalid XML') ],
    [ 'name starting with a digit', doc(creds() . '<1A/>'),
        err('invalid XML') ],
    [ 'non-ASCII name', doc(creds() . "<caf\xc3\xa9/>"),
        err('invalid XML') ],
    [ 'NUL in a name', doc(creds() . "<A\x00/>"), err('invalid XML') ],
    [ 'attributes without a space', doc(creds() . '<A a="1"b="2"/>'),
        err('invalid XML') ],
    [ 'attribute without a value', doc(creds() . '<A a/>'),
        err('invalid XML') ],
    [ 'attribute without "="', doc(creds() . '<A a "1"/>'),
        err('invalid XML') ],
    [ 'unquoted attribute', doc(creds() . '<A a=1/>'), err('invalid XML') ],
    [ 'mismatched quotes', doc(creds() . q{<A a="1'/>}),
        err('unescaped < in XML') ],
    [ 'attribute value not ended', q{<AssumeRoleResponse a="1},
        err('truncated XML') ],
    [ '"<" in an attribute', doc(creds() . '<A a="<"/>'),
        err('unescaped < in XML') ],
    [ 'bare "&" in an attribute', doc(creds() . '<A a="&"/>'),
        err('unescaped & in XML') ],
    [ 'unknown entity in an attribute', doc(creds() . '<A a="&x;"/>'),
        err('unknown XML entity') ],
    [ 'NUL in an attribute', doc(creds() . "<A a=\"\x00\"/>"),
        err('control character in XML') ],
    [ '17 attributes', doc(creds(), "<x$attrs16 b=\"\"/>"),
        err('too many XML attributes') ],
    [ '17 attributes in the declaration',
        "<?xml$attrs16 b=''?>$min", err('too many XML attributes') ],
    [ 'bare "&" in a value', doc(creds(SecretAccessKey => 'a & b')),
        err('unescaped & in XML') ],
    [ 'bare "&" in unknown text', doc(creds() . '<A>a&b</A>'),
        err('unescaped & in XML') ],
    [ 'entity without ";"', doc(creds(SecretAccessKey => '&amp')),
        err('unescaped & in XML') ],
    [ '"&;"', doc(creds(SecretAccessKey => '&;')),
        err('unescaped & in XML') ],
    [ 'bare "<" in a value', doc(creds(SecretAccessKey => 'a < b')),
        err('invalid XML') ],
    [ '"]]>" in text', doc(creds(SecretAccessKey => 'a]]>b')),
        err('invalid XML') ],
    (map {
        [ "entity &$_;", doc(creds(SecretAccessKey => "&$_;")),
            err('unknown XML entity') ]
    } ('nbsp', 'AMP', 'Lt', 'lol9', 'copy', 'x', 'ampx', 'a.b')),
    (map {
        [ "reference $_", doc(creds(SecretAccessKey => "a${_}b")),
            err('invalid XML character reference') ]
    } ('&#0;', '&#1;', '&#x1f;', '&#31;', '&#128;', '&#x80;', '&#233;',
       '&#xe9;', '&#x110000;', '&#99999999999999999999;', '&#x;', '&#;',
       '&#X41;', '&#-1;', '&#+65;', '&#6 5;', '&#x4g;', '&#65a;',
       '&#65')),
    [ 'NUL in a value', doc(creds(SecretAccessKey => "a\x00b")),
        err('control character in XML') ],
    [ 'NUL in unknown text', doc(creds() . "<A>\x00</A>"),
        err('control character in XML') ],
    [ 'NUL in a container', doc(creds() . "\x00"),
        err('control character in XML') ],
    [ 'NUL before the root', "\x00$min", err('invalid XML') ],
    [ 'control byte 0x01 in unknown text', doc(creds() . "<A>\x01</A>"),
        err('control character in XML') ],
    [ 'form feed in a value', doc(creds(SecretAccessKey => "a\x0cb")),
        err('control character in XML') ],
    [ 'escape byte in a value', doc(creds(SessionToken => "\x1b[0m")),
        err('control character in XML') ],

    # depth

    [ 'nesting past the limit (17)', doc(creds() . nest(15)),
        err('XML nested too deeply') ],
    [ 'empty element past the limit', doc(creds() . nest(14, '<e/>')),
        err('XML nested too deeply') ],
    [ 'nesting 100000 deep', doc(creds() . ('<u>' x 100000)),
        err('XML nested too deeply') ],
    [ '50000 elements at the limit',
        doc(creds() . nest(13, '<u></u>' x 50000)), $min_ok ],
);

$d->check_all('sts_role', @role);

###############################################################################

sub wdoc {
    my ($result, $after) = @_;
    return '<AssumeRoleWithWebIdentityResponse>'
        . '<AssumeRoleWithWebIdentityResult>' . $result
        . '</AssumeRoleWithWebIdentityResult>' . ($after // '')
        . '</AssumeRoleWithWebIdentityResponse>';
}

my @web = (
    [ 'AWS example', $web, $web_ok ],
    [ 'AWS example with a declaration',
        qq{<?xml version="1.0" encoding="UTF-8"?>\n$web}, $web_ok ],
    [ 'minimal', wdoc(creds()), $min_ok ],
    [ 'its extra members with entities and UTF-8',
        wdoc('<SubjectFromWebIdentityToken>system:serviceaccount:a:b'
            . '</SubjectFromWebIdentityToken><Audience>sts&amp;x</Audience>'
            . "<Provider>caf\xc3\xa9</Provider>" . creds()), $min_ok ],
    [ 'AssumeRole answer', $role, err('unexpected root element') ],
    [ 'error answer', $error, err('unexpected root element') ],
    [ 'the AssumeRole result',
        '<AssumeRoleWithWebIdentityResponse><AssumeRoleResult>' . creds()
        . '</AssumeRoleResult></AssumeRoleWithWebIdentityResponse>',
        err('no AssumeRoleWithWebIdentityResult') ],
    [ 'duplicate result',
        '<AssumeRoleWithWebIdentityResponse>'
        . '<AssumeRoleWithWebIdentityResult/>'
        . '<AssumeRoleWithWebIdentityResult/>'
        . '</AssumeRoleWithWebIdentityResponse>',
        err('duplicate AssumeRoleWithWebIdentityResult') ],
    [ 'no token', wdoc(creds(SessionToken => undef)),
        err('no SessionToken') ],
    [ 'duplicate key id',
        wdoc('<Credentials><AccessKeyId>AKID</AccessKeyId>' . members()
            . '</Credentials>'), err('duplicate AccessKeyId') ],
    [ 'DOCTYPE', "<!DOCTYPE x>$web", err('a DOCTYPE is not accepted') ],
);

$d->check_all('sts_web', @web);

###############################################################################

sub edoc {
    my ($in, $after) = @_;
    return "<ErrorResponse $ns><Error>$in</Error>" . ($after // '')
        . '</ErrorResponse>';
}

my @error = (
    [ 'AWS example', $error, $error_ok ],
    [ 'AWS example, CRLF and a declaration',
        qq{<?xml version="1.0" encoding="UTF-8"?>\r\n}
        . ($error =~ s/\n/\r\n/gr), $error_ok ],
    [ 'code only', edoc('<Code>Throttling</Code>'),
        error_ok(undef, 'Throttling') ],
    [ 'expired token', edoc('<Type>Sender</Type><Code>ExpiredTokenException'
        . '</Code><Message>Token expired: current date/time 1795696496 must '
        . 'be before the expiration date/time 1795690000</Message>'),
        error_ok('Sender', 'ExpiredTokenException', 'Token expired: '
            . 'current date/time 1795696496 must be before the expiration '
            . 'date/time 1795690000') ],
    [ 'entities in the message',
        edoc('<Code>X</Code><Message>a &lt;b&gt; &quot;c&quot; &amp; '
            . '&apos;d&apos; &#x7e;</Message>'),
        error_ok(undef, 'X', q{a <b> "c" & 'd' ~}) ],
    [ 'message trimmed', edoc("<Code>X</Code><Message>\n  a  b \n"
        . '</Message>'), error_ok(undef, 'X', 'a  b') ],
    [ 'empty message and type', edoc('<Type/><Code>X</Code><Message/>'),
        error_ok(undef, 'X') ],
    [ 'unknown members skipped',
        edoc('<Detail><x/></Detail><Code>X</Code>'
            . '<RequestId>inside Error, unknown</RequestId>',
            '<HostId>h</HostId>'), error_ok(undef, 'X') ],
    [ 'type of 16', edoc('<Type>' . ('T' x 16) . '</Type><Code>X</Code>'),
        error_ok('T' x 16, 'X') ],
    [ 'code of 128', edoc('<Code>' . ('C' x 128) . '</Code>'),
        error_ok(undef, 'C' x 128) ],
    [ 'message of 1024', edoc('<Code>X</Code><Message>' . ('m ' x 511)
        . 'mm</Message>'), error_ok(undef, 'X', ('m ' x 511) . 'mm') ],
    [ 'request id of 128', edoc('<Code>X</Code>',
        '<RequestId>' . ('r' x 128) . '</RequestId>'),
        error_ok(undef, 'X', undef, 'r' x 128) ],

    [ 'AssumeRole answer', $role, err('unexpected root element') ],
    [ 'root Error', '<Error><Code>X</Code></Error>',
        err('unexpected root element') ],
    [ 'empty root', '<ErrorResponse/>', err('no Error') ],
    [ 'Code outside Error', '<ErrorResponse><Code>X</Code><Error/>'
        . '</ErrorResponse>', err('no Code') ],
    [ 'no code', edoc('<Type>Sender</Type><Message>m</Message>'),
        err('no Code') ],
    [ 'empty code', edoc('<Code></Code>'), err('invalid Code') ],
    [ 'code with a space', edoc('<Code>Access Denied</Code>'),
        err('invalid Code') ],
    [ 'code with UTF-8', edoc("<Code>\xc3\xa9</Code>"), err('invalid Code') ],
    [ 'type with a space', edoc('<Type>a b</Type><Code>X</Code>'),
        err('invalid Type') ],
    [ 'message with a raw newline', edoc("<Code>X</Code><Message>a\nb"
        . '</Message>'), err('invalid Message') ],
    [ 'message with &#10;', edoc('<Code>X</Code><Message>a&#10;b'
        . '</Message>'), err('invalid Message') ],
    [ 'message with UTF-8', edoc("<Code>X</Code><Message>caf\xc3\xa9"
        . '</Message>'), err('invalid Message') ],
    [ 'message with NUL', edoc("<Code>X</Code><Message>a\x00"
        . '</Message>'), err('control character in XML') ],
    [ 'message with an element', edoc('<Code>X</Code><Message>a<b>c</b>'
        . '</Message>'), err('element inside a value') ],
    [ 'message with CDATA', edoc('<Code>X</Code><Message><![CDATA[<x>]]>'
        . '</Message>'), err('a CDATA section is not accepted') ],
    [ 'type of 17', edoc('<Type>' . ('T' x 17) . '</Type><Code>X</Code>'),
        err('Type too long') ],
    [ 'code of 129', edoc('<Code>' . ('C' x 129) . '</Code>'),
        err('Code too long') ],
    [ 'message of 1025', edoc('<Code>X</Code><Message>' . ('m' x 1025)
        . '</Message>'), err('Message too long') ],
    [ 'request id of 129', edoc('<Code>X</Code>',
        '<RequestId>' . ('r' x 129) . '</RequestId>'),
        err('RequestId too long') ],
    [ 'duplicate Error', edoc('<Code>X</Code>', '<Error/>'),
        err('duplicate Error') ],
    [ 'duplicate Code', edoc('<Code>X</Code><Code>X</Code>'),
        err('duplicate Code') ],
    [ 'duplicate Type', edoc('<Type/><Type/><Code>X</Code>'),
        err('duplicate Type') ],
    [ 'duplicate Message', edoc('<Code>X</Code><Message/><Message/>'),
        err('duplicate Message') ],
    [ 'duplicate RequestId', edoc('<Code>X</Code>',
        '<RequestId/><RequestId/>'), err('duplicate RequestId') ],
    [ 'text in Error', edoc('<Code>X</Code>!'), err('unexpected XML text') ],
    [ 'DOCTYPE', "<!DOCTYPE ErrorResponse>$error",
        err('a DOCTYPE is not accepted') ],
    [ 'trailing data', "${error}x", err('trailing data after XML') ],
    [ 'nesting past the limit', edoc('<Code>X</Code>' . nest(15)),
        err('XML nested too deeply') ],
);

$d->check_all('sts_error', @error);

###############################################################################

# every prefix of a valid document is refused and wiped, none crashes
# (the whole document, trailing newline aside, is the only valid one)

sub prefixes {
    my ($mode, $doc, $ok) = @_;

    $doc =~ s/\s+\z//;

    is($d->run($mode, $doc), "$ok\n", "$mode: whole document");

    my $input = join '', map { "$mode $_\n" . substr($doc, 0, $_) }
        0 .. length($doc) - 1;

    my @got = split /\n/, $d->run('batch', $input);
    my @bad = grep { $got[$_] !~ /^error: .* \(wiped\)$/ } 0 .. $#got;

    is(scalar @got, length $doc, "$mode: one answer per prefix");
    is(scalar @bad, 0, "$mode: all " . length($doc) . ' prefixes refused')
        or diag(join "\n", map { "prefix of $_: $got[$_]" }
            @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

prefixes('sts_role', $role, $role_ok);
prefixes('sts_role', qq{<?xml version="1.0" encoding="UTF-8"?>\r\n}
    . ($role =~ s/\n/\r\n/gr) =~ s{<Arn>}{<Arn a='&amp;&#65;'>}r,
    $role_ok);
prefixes('sts_web', $web, $web_ok);
prefixes('sts_error', $error, $error_ok);

done_testing();


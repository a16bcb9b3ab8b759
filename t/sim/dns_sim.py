#!/usr/bin/python3
"""DNS simulator, UDP: the A records of a few names, for nginx's resolver.

An authoritative server of a tiny table, NAME -> IPv4 addresses: type A
(and ANY) of a configured name -> its addresses, any other type of it ->
NOERROR without answers (what nginx's AAAA query gets), any other name ->
NXDOMAIN. Queries are parsed strictly (a standard query, one question, no
EDNS); a malformed one is dropped or answered FORMERR. Every datagram is
journaled to DIR/journal.jsonl. Tests steer it through /_sim/* (see
t/sim/README.md), served in plain HTTP on TCP with the same port number
as the UDP service.
"""

import argparse
import copy
import ipaddress
import os
import re
import socket
import struct
import threading
import time

import simlib

T_A, T_ANY = 1, 255
CLASS_IN = 1
TYPES = {1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA',
         33: 'SRV', 35: 'NAPTR', 41: 'OPT', 43: 'DS', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS',
         251: 'IXFR', 252: 'AXFR', 255: 'ANY'}
CLASSES = {1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY'}
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = range(6)
RCODES = ('NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED')

QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
MAX_QUERY = 512                 # a query without EDNS fits in 512 bytes
MAX_NAME = 255                  # wire length of a name, its final zero included
MAX_ADDRS = 8                   # per name: an answer stays under 512 bytes
TTL_MAX = 2 ** 31 - 1

FAULT_KINDS = ('none', 'servfail', 'timeout')
FAULT_TARGETS = ('A', 'AAAA', 'other')     # by query type
LABEL_RE = re.compile(r'[A-Za-z0-9_-]{1,63}')


def type_name(qtype):
    return TYPES.get(qtype, 'TYPE%d' % qtype)          # RFC 3597 for the others


def class_name(qclass):
    return CLASSES.get(qclass, 'CLASS%d' % qclass)


def text_name(labels):
    """A name in presentation format, without the final dot ('.' for the root):
    '.' and '\\' inside a label escaped with '\\', other bytes outside
    printable ASCII as '\\DDD'."""
    if not labels:
        return '.'
    out = []
    for label in labels:
        s = ''
        for b in label:
            if b in b'.\\':
                s += '\\' + chr(b)
            elif 0x21 <= b <= 0x7e:
                s += chr(b)
            else:
                s += '\\%03d' % b
        out.append(s)
    return '.'.join(out)


# ---------------------------------------------------------------- the table

def parse_table(items):
    """{labels: [addr, ...]} from (NAME, ADDRS) pairs; ADDRS is a string of
    comma-separated IPv4 addresses (empty: the name has no A record) or a list
    of them. NAME: labels of letters, digits, '-' and '_', one final dot
    allowed, matched ignoring case. Raises ValueError."""
    table = {}
    for name, addrs in items:
        if not isinstance(name, str):
            raise ValueError('a name must be a string')
        bare = name[:-1] if name.endswith('.') else name
        labels = bare.split('.')
        if len(bare) > 253 or not all(LABEL_RE.fullmatch(label) for label in labels):
            raise ValueError('bad name %r: labels of 1..63 letters, digits, "-" or "_", '
                             'at most 253 characters, one final dot allowed' % name)
        if isinstance(addrs, str):
            addrs = addrs.split(',') if addrs else []
        if not isinstance(addrs, list) or not all(isinstance(a, str) for a in addrs):
            raise ValueError('the addresses of %r must be a string or a list of strings' % name)
        if len(addrs) > MAX_ADDRS:
            raise ValueError('%r: at most %d addresses' % (name, MAX_ADDRS))
        try:
            addrs = [str(ipaddress.IPv4Address(a.strip())) for a in addrs]
        except ValueError as e:
            raise ValueError('%r: %s' % (name, e))
        key = tuple(label.lower().encode() for label in labels)
        if key in table:
            raise ValueError('name %r given twice' % name)
        table[key] = addrs
    return table


def show_table(table):
    return {text_name(k): list(v) for k, v in sorted(table.items())}


# ---------------------------------------------------------------- wire format

class Malformed(Exception):
    """A query that is not answered normally: reason (journaled) and the rcode
    to answer, or None to drop it."""

    def __init__(self, reason, rcode=FORMERR):
        super().__init__(reason)
        self.reason, self.rcode = reason, rcode


def parse_query(data):
    """The query in datagram `data`: {id, flags, labels, qtype, qclass,
    question (the question's bytes, to echo)}, or Malformed. At most
    MAX_QUERY bytes are looked at, one label at a time."""
    if len(data) < 12:
        raise Malformed('short', None)
    qid, flags, qd, an, ns, ar = struct.unpack('!6H', data[:12])
    if flags & QR:
        raise Malformed('response', None)       # never answer an answer
    if len(data) > MAX_QUERY:
        raise Malformed('too_long')
    opcode = (flags >> 11) & 0xf
    if opcode:
        raise Malformed('opcode:%d' % opcode, NOTIMP)
    if flags & TC:
        raise Malformed('tc_set')
    if flags & 0xf:
        raise Malformed('rcode_set')
    for count, what, want in ((qd, 'qdcount', 1), (an, 'ancount', 0), (ns, 'nscount', 0),
                              (ar, 'arcount', 0)):    # arcount: no EDNS here
        if count != want:
            raise Malformed('%s:%d' % (what, count))
    labels, pos = [], 12
    while True:
        if pos >= len(data):
            raise Malformed('truncated')
        n = data[pos]
        if n & 0xc0 == 0xc0:
            raise Malformed('compression')      # nothing before the question to point at
        if n & 0xc0:
            raise Malformed('label_type')
        pos += 1
        if n == 0:
            break
        if pos + n > len(data):
            raise Malformed('truncated')
        labels.append(data[pos:pos + n])
        pos += n
        if pos - 12 + 1 > MAX_NAME:
            raise Malformed('name_too_long')
    if pos + 4 > len(data):
        raise Malformed('truncated')
    qtype, qclass = struct.unpack('!HH', data[pos:pos + 4])
    if pos + 4 != len(data):
        raise Malformed('trailing')
    return {'id': qid, 'flags': flags, 'labels': tuple(labels), 'qtype': qtype,
            'qclass': qclass, 'question': data[12:pos + 4]}


def response(qid, flags, rcode, question=b'', addrs=(), ttl=0, aa=False):
    """An answer: QR, AA when authoritative, the query's opcode and RD echoed,
    RA clear (no recursion here); the question echoed; one A record per
    address, its name a pointer to the question's."""
    flags = QR | (AA if aa else 0) | (flags & (0x7800 | RD)) | rcode
    head = struct.pack('!6H', qid, flags, 1 if question else 0, len(addrs), 0, 0)
    rrs = b''.join(struct.pack('!HHHIH', 0xc000 | 12, T_A, CLASS_IN, ttl, 4) +
                   socket.inet_aton(a) for a in addrs)
    return head + question + rrs


# ---------------------------------------------------------------- counters

class Counters(simlib.Counters):
    """total (every datagram), malformed, unanswered, and per well-formed
    query: queries {name: {type: n}} (name lower-case), types {type: n};
    per answer: rcodes {RCODE: n}."""

    def __init__(self):
        super().__init__(['malformed', 'unanswered'])

    def reset(self):
        with self.lock:
            self.c = dict.fromkeys(self.names, 0)
            self.c.update(queries={}, types={}, rcodes={})

    def query(self, name, qtype):
        with self.lock:
            by_type = self.c['queries'].setdefault(name, {})
            by_type[qtype] = by_type.get(qtype, 0) + 1
            self.c['types'][qtype] = self.c['types'].get(qtype, 0) + 1

    def answered(self, rcode):
        with self.lock:
            if rcode is None:
                self.c['unanswered'] += 1
            else:
                self.c['rcodes'][rcode] = self.c['rcodes'].get(rcode, 0) + 1

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.c)


# ---------------------------------------------------------------- server

class Server(simlib.ThreadedServer):
    """The control API's HTTP server (TCP), which also owns the DNS socket
    (UDP, same port number) and the thread that serves it."""

    def start_udp(self, udp):
        self.udp = udp
        self.udp.settimeout(0.2)        # how soon the loop sees a stop
        self.udp_thread = threading.Thread(target=self.serve_udp, daemon=True)
        self.udp_thread.start()

    def server_close(self):
        self.stopping.set()
        if getattr(self, 'udp_thread', None):
            self.udp_thread.join(5)
            self.udp.close()
        super().server_close()

    def serve_udp(self):
        while not self.stopping.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError as e:
                simlib.log('dns_sim: recvfrom: %s' % e)
                time.sleep(0.1)
                continue
            try:
                reply = self.answer(data, peer)
                if reply is not None:
                    self.udp.sendto(reply, peer)
            except Exception as e:      # keep serving whatever one datagram did
                simlib.log('dns_sim: %s:%d: %r' % (peer + (e,)))

    def answer(self, data, peer):
        """The reply datagram to `data` (None: no answer); journaled first."""
        entry = {'time': time.time(), 'peer': '%s:%d' % peer, 'size': len(data),
                 'id': struct.unpack('!H', data[:2])[0] if len(data) >= 12 else None,
                 'rd': bool(data[2] & 0x01) if len(data) >= 12 else None,
                 'name': None, 'type': None, 'class': None, 'rcode': None, 'answer': [],
                 'fault': None, 'reason': None}
        self.counters.hit()
        try:
            q = parse_query(data)
        except Malformed as e:
            self.counters.hit('malformed', total=False)
            entry.update(reason=e.reason, rcode=None if e.rcode is None else RCODES[e.rcode])
            reply = None
            if e.rcode is not None:
                reply = response(entry['id'], struct.unpack('!H', data[2:4])[0], e.rcode)
            return self.finish(entry, reply)

        qtype = type_name(q['qtype'])
        entry.update(name=text_name(q['labels']), type=qtype)
        entry['class'] = class_name(q['qclass'])
        self.counters.query(text_name(tuple(label.lower() for label in q['labels'])), qtype)
        kind = self.faults.take(qtype if qtype in ('A', 'AAAA') else 'other')
        args = dict(qid=q['id'], flags=q['flags'], question=q['question'])
        if kind != 'none':
            entry['fault'] = kind
        if kind == 'timeout':
            return self.finish(entry, None)
        if kind == 'servfail':
            rcode, reply = SERVFAIL, response(rcode=SERVFAIL, **args)
        elif q['qclass'] != CLASS_IN:
            rcode, reply = REFUSED, response(rcode=REFUSED, **args)
        else:
            addrs = self.names.get(tuple(label.lower() for label in q['labels']))
            if addrs is None:
                rcode, reply = NXDOMAIN, response(rcode=NXDOMAIN, aa=True, **args)
            else:
                if q['qtype'] not in (T_A, T_ANY):
                    addrs = []          # the name exists, without data of that type
                entry['answer'] = list(addrs)
                rcode, reply = NOERROR, response(rcode=NOERROR, aa=True, addrs=addrs,
                                                 ttl=self.ttl, **args)
        entry['rcode'] = RCODES[rcode]
        return self.finish(entry, reply)

    def finish(self, entry, reply):
        # Journal before answering: a test that has the answer can read the line.
        self.counters.answered(entry['rcode'] if reply is not None else None)
        self.journal.write(entry)
        if self.verbose:
            simlib.log('%s id %s %s %s -> %s%s%s' % (
                entry['peer'], entry['id'], entry['name'], entry['type'],
                entry['rcode'] if reply is not None else 'no answer',
                ''.join(' ' + a for a in entry['answer']),
                ' (%s)' % (entry['reason'] or 'fault:%s' % entry['fault'])
                if entry['reason'] or entry['fault'] else ''))
        return reply


class Handler(simlib.ControlHandler):
    """HTTP on the TCP port: only the /_sim/* control API."""

    def handle_service(self, body):
        self.send_json(404, {'error': 'dns_sim serves DNS over UDP; over HTTP only /_sim/*'})

    def control_sim(self, route, req):
        """/_sim/names: {"NAME": "ADDR[,ADDR...]" | [ADDR, ...], ...} replaces the table."""
        srv = self.server
        if route == ('POST', '/_sim/names'):
            try:
                if not isinstance(req, dict):
                    raise ValueError('the body must be a JSON object {"NAME": "ADDR", ...}')
                table = parse_table(req.items())
            except ValueError as e:
                self.send_json(400, {'error': str(e)})
                return True
            srv.names = table           # one reference swap: the UDP thread sees old or new
        elif route != ('GET', '/_sim/names'):
            return False
        self.send_json(200, show_table(srv.names))
        return True


def fault_params(kind, params):
    if params:
        raise ValueError('fault %r takes no %s' % (kind, ', '.join(sorted(params))))
    return {}


def bind(port, **state):
    """The control server on TCP 127.0.0.1:PORT and a UDP socket on the same
    port number; PORT 0: a free TCP port whose UDP twin is free too."""
    last = None
    for _ in range(1 if port else 50):
        server = Server(port, Handler, **state)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(('127.0.0.1', server.server_address[1]))
        except OSError as e:
            udp.close()
            server.server_close()
            last = e
            continue
        server.start_udp(udp)
        return server
    raise SystemExit('dns_sim: no port free for both TCP and UDP: %s' % last)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True,
                    help='UDP port of the DNS service, and TCP port of the control API; '
                    '0 picks a free one (see DIR/ready)')
    ap.add_argument('--name', action='append', default=[], metavar='NAME=ADDR[,ADDR...]',
                    help='a name and its IPv4 addresses (none after "=": no A record)')
    ap.add_argument('--ttl', type=int, default=30, help='TTL of the A records, seconds')
    ap.add_argument('--fault', action='append', default=[], metavar='KIND[:TARGET]',
                    help='servfail|timeout, for A|AAAA|other (default all)')
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args()
    if not 0 <= a.ttl <= TTL_MAX:
        ap.error('--ttl must be 0..%d' % TTL_MAX)
    pairs = []
    for spec in a.name:
        name, eq, addrs = spec.partition('=')
        if not eq:
            ap.error('--name %r: NAME=ADDR[,ADDR...]' % spec)
        pairs.append((name, addrs))
    try:
        names = parse_table(pairs)
    except ValueError as e:
        ap.error('--name: %s' % e)
    faults = simlib.Faults(FAULT_TARGETS, FAULT_KINDS, fault_params)
    for f in a.fault:
        kind, _, target = f.partition(':')
        try:
            faults.set(kind, target or 'all')
        except ValueError as e:
            ap.error('--fault %s: %s' % (f, e))

    simlib.prepare_dir(a.dir)
    server = bind(a.port, verbose=a.verbose, names=names, ttl=a.ttl, faults=faults,
                  counters=Counters(),
                  journal=simlib.Journal(os.path.join(a.dir, 'journal.jsonl')))
    simlib.run(server, a.dir, 'dns_sim')


if __name__ == '__main__':
    main()

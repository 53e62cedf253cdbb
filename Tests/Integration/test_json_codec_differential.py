"""Differential test of the proto3 JSON codec (Sources/Transcoding/JSONTranscoder*) against protobuf's
own json_format, through `trestle transcode`: thousands of random messages of
Tests/TranscodingTests/Fixtures/codec_test.proto (extremes included: NaN, ±0.0, huge and tiny floats,
64-bit bounds, non-BMP and control characters, empty, nested and recursive messages, maps, Any
holding messages and well-known types), both directions, both field-name styles and each output
option, compared as values (JSON parsed, binaries parsed back into Python messages). Inputs that
json_format rejects must be rejected too."""
import json
import math
import random
import struct
import subprocess

import pytest
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, json_format, message_factory

import harness

FIXTURE = harness.REPO / "Tests" / "TranscodingTests" / "Fixtures" / "codec_test.pb"
TOP = "trestle.test.v1.Everything"
SEEDS = range(8)
PER_SEED = 260  # messages per seed: 2080 in all

# A private pool: the fixture's package is trestle.test.v1, which other tests' stubs also use.
_FDS = descriptor_pb2.FileDescriptorSet.FromString(FIXTURE.read_bytes())
POOL = descriptor_pool.DescriptorPool()
for _file in _FDS.file:
    POOL.Add(_file)


def message_class(name):
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(name))


FD = descriptor.FieldDescriptor

# ----------------------------------------------------------------------------------------------
# Random messages


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


DOUBLES = [0.0, -0.0, 1.0, -1.5, 0.1, 1e22, 1e-7, 123456.789, 5e-324, 2.2250738585072014e-308,
           1.7976931348623157e308, -1.7976931348623157e308, 9007199254740993.0, float("inf"), float("-inf"),
           float("nan"), 0.30000000000000004, 1e16, 1e21, 100.0]
FLOATS = [0.0, -0.0, 1.0, f32(0.1), f32(3.4028234663852886e38 / 2), 1.1754943508222875e-38, 1.401298464324817e-45,
          float("inf"), float("-inf"), float("nan"), 16777216.0, f32(1e10), f32(-2.5e-20), f32(123.456)]
INT32 = [0, 1, -1, 2**31 - 1, -2**31, 150, -150]
INT64 = [0, 1, -1, 2**63 - 1, -2**63, 2**53 + 1, -(2**53) - 1, 2**31]
UINT32 = [0, 1, 2**32 - 1, 2**31]
UINT64 = [0, 1, 2**64 - 1, 2**63, 2**53 + 1]
STRINGS = ["", "a", "hello world", "é", "😀", "a\x00b", "\x01\x1f\x7f", 'quote " and \\ backslash', "\u2028\u2029",
           "日本語", "\U0010FFFF", "tab\tnew\nline\r", "/slash", "\ufeff"]


def random_string(rng):
    if rng.random() < 0.5:
        return rng.choice(STRINGS)
    out = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.5:
            out.append(chr(rng.randint(0x20, 0x7E)))
        elif r < 0.6:
            out.append(chr(rng.randint(0, 0x1F)))
        elif r < 0.8:
            out.append(chr(rng.randint(0x80, 0xD7FF)))
        elif r < 0.9:
            out.append(chr(rng.randint(0xE000, 0xFFFF)))
        else:
            out.append(chr(rng.randint(0x10000, 0x10FFFF)))
    return "".join(out)


def random_double(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(DOUBLES)
    if r < 0.7:
        return rng.uniform(-1e6, 1e6)
    while True:  # any finite bit pattern
        d = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(d):
            return d


def random_float(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(FLOATS)
    if r < 0.7:
        return f32(rng.uniform(-1e6, 1e6))
    while True:
        f = struct.unpack("<f", rng.getrandbits(32).to_bytes(4, "little"))[0]
        if math.isfinite(f) and abs(f) < 3.4e38:  # json_format rejects its own FLT_MAX
            return f


def random_scalar(rng, field):
    t = field.type
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return rng.choice(INT32) if rng.random() < 0.5 else rng.randint(-2**31, 2**31 - 1)
    if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return rng.choice(INT64) if rng.random() < 0.5 else rng.randint(-2**63, 2**63 - 1)
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return rng.choice(UINT32) if rng.random() < 0.5 else rng.randint(0, 2**32 - 1)
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return rng.choice(UINT64) if rng.random() < 0.5 else rng.randint(0, 2**64 - 1)
    if t == FD.TYPE_DOUBLE:
        return random_double(rng)
    if t == FD.TYPE_FLOAT:
        return random_float(rng)
    if t == FD.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FD.TYPE_STRING:
        return random_string(rng)
    if t == FD.TYPE_BYTES:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 12)))
    if t == FD.TYPE_ENUM:
        if field.enum_type.full_name == "google.protobuf.NullValue":
            return 0
        if rng.random() < 0.15:
            return rng.choice([7, -5, 100, 2**31 - 1])  # open enum: numbers it does not declare
        return rng.choice(field.enum_type.values).number
    raise AssertionError(field.full_name)


FIELD_MASK_PATHS = ["a", "foo_bar", "a.b_c", "x1", "user.display_name", "a1b.c2_d", ""]
ANY_INNER = ["trestle.test.v1.Book", "trestle.test.v1.User", "trestle.test.v1.Scalars", "trestle.test.v1.Maps",
             "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Value", "google.protobuf.Struct",
             "google.protobuf.ListValue", "google.protobuf.Int64Value", "google.protobuf.StringValue",
             "google.protobuf.FieldMask", "google.protobuf.Empty", "google.protobuf.Any", "trestle.test.v1.Recursive"]


def fill_value(rng, value, depth):
    """A google.protobuf.Value: any JSON value (numbers finite: JSON cannot hold the others)."""
    r = rng.random()
    if depth > 3:
        r = r * 0.6
    if r < 0.1:
        value.null_value = 0
    elif r < 0.3:
        value.number_value = random_double(rng) if rng.random() < 0.5 else float(rng.randint(-1000, 1000))
        if not math.isfinite(value.number_value):
            value.number_value = 0.5
    elif r < 0.45:
        value.string_value = random_string(rng)
    elif r < 0.6:
        value.bool_value = rng.random() < 0.5
    elif r < 0.8:
        value.struct_value.SetInParent()
        fill_struct(rng, value.struct_value, depth + 1)
    else:
        value.list_value.SetInParent()
        fill_list(rng, value.list_value, depth + 1)


def fill_struct(rng, struct_message, depth):
    for _ in range(rng.randint(0, 3)):
        fill_value(rng, struct_message.fields[random_string(rng)], depth + 1)


def fill_list(rng, list_message, depth):
    for _ in range(rng.randint(0, 3)):
        fill_value(rng, list_message.values.add(), depth + 1)


def fill_well_known(rng, message, depth):
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        message.seconds = rng.choice([0, -1, 1, -62135596800, 253402300799, rng.randint(-62135596800, 253402300799)])
        message.nanos = rng.choice([0, 1, 999999999, 1000000, 123000, rng.randint(0, 999999999)])
    elif name == "google.protobuf.Duration":
        seconds = rng.choice([0, 1, 315576000000, rng.randint(0, 315576000000)])
        nanos = rng.choice([0, 1, 999999999, 500000000, rng.randint(0, 999999999)])
        sign = rng.choice([1, -1])
        message.seconds, message.nanos = sign * seconds, sign * nanos
    elif name == "google.protobuf.FieldMask":
        for _ in range(rng.randint(0, 3)):
            message.paths.append(rng.choice(FIELD_MASK_PATHS))
        if list(message.paths) == [""]:
            del message.paths[:]  # "" in JSON is no path at all
    elif name == "google.protobuf.Struct":
        fill_struct(rng, message, depth)
    elif name == "google.protobuf.Value":
        fill_value(rng, message, depth)
    elif name == "google.protobuf.ListValue":
        fill_list(rng, message, depth)
    elif name == "google.protobuf.Empty":
        pass
    elif name == "google.protobuf.Any":
        if rng.random() < 0.1:
            return True  # an empty Any
        inner = message_class(rng.choice(ANY_INNER))()
        fill(rng, inner, depth + 1)
        message.Pack(inner)
    elif name.startswith("google.protobuf.") and name.endswith("Value"):  # wrappers
        message.value = random_scalar(rng, message.DESCRIPTOR.fields_by_name["value"])
    else:
        return False
    return True


def fill(rng, message, depth=0):
    """Sets a random selection of `message`'s fields (fewer as it nests)."""
    if message.DESCRIPTOR.full_name.startswith("google.protobuf.") and fill_well_known(rng, message, depth):
        return
    chance = 0.45 if depth < 2 else 0.2 if depth < 4 else 0.0
    chosen_oneofs = {}
    for oneof in message.DESCRIPTOR.oneofs:
        if oneof.fields and not oneof.name.startswith("_"):  # real oneofs (not proto3 optional)
            chosen_oneofs[oneof.name] = rng.choice(oneof.fields)
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.name in chosen_oneofs and chosen_oneofs[oneof.name] is not field:
            continue
        if rng.random() >= chance:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            target = getattr(message, field.name)
            for _ in range(rng.randint(0, 3)):
                key = random_scalar(rng, key_field)
                if value_field.message_type is not None:
                    fill(rng, target[key], depth + 1)
                else:
                    target[key] = random_scalar(rng, value_field)
        elif field.is_repeated:
            target = getattr(message, field.name)
            for _ in range(rng.randint(0, 3)):
                if field.message_type is not None:
                    fill(rng, target.add(), depth + 1)
                elif field.enum_type is not None and field.enum_type.full_name == "google.protobuf.NullValue":
                    continue  # json_format cannot read back the [null, …] it writes
                else:
                    target.append(random_scalar(rng, field))
        elif field.message_type is not None:
            sub = getattr(message, field.name)
            sub.SetInParent()
            fill(rng, sub, depth + 1)
        else:
            setattr(message, field.name, random_scalar(rng, field))


def messages():
    cls = message_class(TOP)
    out = [cls()]  # the empty message
    for seed in SEEDS:
        rng = random.Random(seed)
        for _ in range(PER_SEED):
            message = cls()
            fill(rng, message)
            out.append(message)
    return out


# ----------------------------------------------------------------------------------------------
# Comparison


def canon(message):
    """A message as plain values: Any unpacked, maps as dicts, floats as bit patterns (so NaN
    equals NaN and -0.0 differs from 0.0)."""
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Any" and message.type_url:
        inner = message_class(message.type_url.split("/")[-1])()
        inner.ParseFromString(message.value)
        return ("Any", message.type_url, canon(inner))
    out = {}
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {k: canon_value(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [canon_value(field, v) for v in value]
        else:
            out[field.name] = canon_value(field, value)
    return out


def canon_value(field, value):
    if field.message_type is not None:
        return canon(value)
    if field.type == FD.TYPE_DOUBLE:
        return ("d", struct.pack("<d", value))
    if field.type == FD.TYPE_FLOAT:
        return ("f", struct.pack("<f", value))
    return value


def same_json(a, b):
    """JSON values equal, numbers by value (a float32 printed two ways compares equal as float32)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b:
            return math.copysign(1, a) == math.copysign(1, b) if a == 0 and (isinstance(a, float) or isinstance(b, float)) else True
        fa, fb = float(a), float(b)
        return abs(fa) < 3.5e38 and struct.pack("<f", fa) == struct.pack("<f", fb)
    return a == b


# ----------------------------------------------------------------------------------------------
# Running trestle


def transcode(lines, *flags, message=TOP):
    if not harness.TRESTLE_BIN.exists():
        pytest.fail(f"no trestle binary at {harness.TRESTLE_BIN}: build it (swift build -c release --product trestle)")
    proc = subprocess.run([str(harness.TRESTLE_BIN), "transcode", "--descriptor-set", str(FIXTURE), "--message", message,
                           *flags], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split("\n")
    assert out[-1] == "" and len(out) == len(lines) + 1, f"{len(out) - 1} output lines for {len(lines)} inputs"
    return out[:-1]


OPTIONS = {
    "default": ([], {}),
    "emit-defaults": (["--emit-defaults"], {"always_print_fields_with_no_presence": True}),
    "enums-as-numbers": (["--enums-as-numbers"], {"use_integers_for_enums": True}),
    "proto-names": (["--proto-names"], {"preserving_proto_field_name": True}),
    "all": (["--emit-defaults", "--enums-as-numbers", "--proto-names"],
            {"always_print_fields_with_no_presence": True, "use_integers_for_enums": True,
             "preserving_proto_field_name": True}),
}


@pytest.fixture(scope="module")
def corpus():
    return messages()


def python_json(message, **kwargs):
    return json_format.MessageToJson(message, indent=None, descriptor_pool=POOL, **kwargs)


def parses_back(text, message):
    """Whether json_format reads `text` back as `message` (None when it cannot read its own JSON)."""
    try:
        json_format.Parse(python_json(message), message_class(TOP)(), descriptor_pool=POOL)
    except json_format.ParseError:
        return None
    parsed = message_class(TOP)()
    json_format.Parse(text, parsed, descriptor_pool=POOL)
    return canon(parsed) == canon(message)


@pytest.mark.parametrize("option", list(OPTIONS))
def test_binary_to_json_matches_json_format(corpus, option):
    flags, kwargs = OPTIONS[option]
    sample = corpus if option in ("default", "all") else corpus[::4]
    ours = transcode([m.SerializeToString().hex() for m in sample], "--from", "binary", *flags)
    failures = []
    for message, text in zip(sample, ours):
        expected = python_json(message, **kwargs)
        if text.startswith("ERROR") or not same_json(json.loads(text), json.loads(expected)):
            failures.append(f"bytes {message.SerializeToString().hex()}\n  ours:   {text}\n  python: {expected}")
        elif option == "default" and parses_back(text, message) is False:
            failures.append(f"json_format reads our JSON back as another message: {text}")
    assert not failures, f"{len(failures)} of {len(sample)} differ; first:\n" + "\n".join(failures[:3])


@pytest.mark.parametrize("names", ["json", "proto"])
def test_json_to_binary_matches_json_format(corpus, names):
    texts = [python_json(m, preserving_proto_field_name=names == "proto") for m in corpus]
    ours = transcode(texts, "--from", "json")
    failures = []
    for message, text, hex_bytes in zip(corpus, texts, ours):
        if hex_bytes.startswith("ERROR"):
            failures.append(f"rejected {text}\n  {hex_bytes}")
            continue
        parsed = message_class(TOP)()
        parsed.ParseFromString(bytes.fromhex(hex_bytes))
        if canon(parsed) != canon(message):
            failures.append(f"{text}\n  ours parse back as {python_json(parsed)}")
    assert not failures, f"{len(failures)} of {len(corpus)} differ; first:\n" + "\n".join(failures[:3])


# Inputs json_format rejects (checked below), each with the message type it is read as.
INVALID = [
    ("Scalars", '{"int32Value": 2147483648}'), ("Scalars", '{"int32Value": -2147483649}'),
    ("Scalars", '{"uint32Value": -1}'), ("Scalars", '{"uint32Value": 4294967296}'),
    ("Scalars", '{"int64Value": "9223372036854775808"}'), ("Scalars", '{"uint64Value": "-1"}'),
    ("Scalars", '{"uint64Value": "18446744073709551616"}'), ("Scalars", '{"int32Value": 1.5}'),
    ("Scalars", '{"int32Value": "1.5"}'), ("Scalars", '{"int32Value": "abc"}'), ("Scalars", '{"int32Value": true}'),
    ("Scalars", '{"int32Value": " 1"}'), ("Scalars", '{"floatValue": 3.5e38}'), ("Scalars", '{"doubleValue": 1e400}'),
    ("Scalars", '{"doubleValue": "nan"}'), ("Scalars", '{"doubleValue": NaN}'), ("Scalars", '{"doubleValue": Infinity}'),
    ("Scalars", '{"boolValue": "true"}'), ("Scalars", '{"boolValue": 1}'), ("Scalars", '{"stringValue": 1}'),
    ("Scalars", '{"stringValue": "\\ud800"}'), ("Scalars", '{"color": "PURPLE"}'),
    ("Scalars", '{"bytesValue": 5}'), ("Scalars", '{"unknown": 1}'), ("Scalars", '{"int32Value": 1, "int32Value": 2}'),
    ("Book", '{"tags": "a"}'), ("Book", '{"tags": [null]}'), ("Book", '{"tags": [1]}'),
    ("Book", '{"user": {"id": 5}}'), ("Book", '{"labels": []}'), ("Book", '{"labels": {"k": 1}}'),
    ("Book", '{"labels": {"k": null}}'), ("Book", '{"labels": {"k": "a", "k": "b"}}'), ("Book", '"x"'),
    ("Book", '{"id": "a",}'), ("Book", '{"id" "a"}'), ("Book", '{"id": "a"} x'), ("Book", '{"id": "a'),
    ("Book", '{"id": "a\\x"}'), ("Book", '{"id": "a\x01"}'), ("Book", '{"count": 01}'), ("Book", '{"count": 1.}'),
    ("Book", '{"count": +1}'), ("Book", '{"id": nul}'), ("Book", ''), ("Book", '{"count": 1'),
    ("Maps", '{"boolKeys": {"yes": "a"}}'), ("Maps", '{"int32Keys": {"x": "a"}}'),
    ("Maps", '{"uint32Keys": {"-1": "a"}}'), ("Maps", '{"int32Keys": {"4294967296": "a"}}'),
    ("Oneofs", '{"name": "a", "number": 1}'), ("Oneofs", '{"user": {}, "color": "RED"}'),
    ("WellKnown", '{"timestamp": "1970-01-01T00:00:00"}'), ("WellKnown", '{"timestamp": "1970-01-01 00:00:00Z"}'),
    ("WellKnown", '{"timestamp": "0000-12-31T23:59:59Z"}'), ("WellKnown", '{"timestamp": "10000-01-01T00:00:00Z"}'),
    ("WellKnown", '{"timestamp": "1970-01-01T00:00:00.1234567890Z"}'),
    ("WellKnown", '{"timestamp": "1970-01-01t00:00:00Z"}'), ("WellKnown", '{"timestamp": 0}'),
    ("WellKnown", '{"timestamp": "1970-13-01T00:00:00Z"}'), ("WellKnown", '{"timestamp": "0001-01-01T00:00:00+01:00"}'),
    ("WellKnown", '{"duration": "1"}'), ("WellKnown", '{"duration": "315576000001s"}'),
    ("WellKnown", '{"duration": 1}'), ("WellKnown", '{"duration": "s"}'),
    ("WellKnown", '{"fieldMask": "foo_bar"}'), ("WellKnown", '{"fieldMask": 1}'),
    ("WellKnown", '{"struct": []}'), ("WellKnown", '{"struct": 1}'), ("WellKnown", '{"listValue": {}}'),
    ("WellKnown", '{"any": {"id": "x"}}'), ("WellKnown", '{"any": {"@type": "type.googleapis.com/no.Such"}}'),
    ("WellKnown", '{"any": {"@type": "type.googleapis.com/google.protobuf.Duration"}}'),
    ("WellKnown", '{"any": {"@type": "type.googleapis.com/trestle.test.v1.User", "nick": 1}}'),
    ("WellKnown", '{"any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": 5}}'),
    ("WellKnown", '{"int32Wrapper": "x"}'), ("WellKnown", '{"int32Wrapper": 1.5}'), ("WellKnown", '{"boolWrapper": "true"}'),
    ("WellKnown", '{"int64Wrappers": [null]}'), ("WellKnown", '{"empty": {"a": 1}}'),
    ("WellKnown", '{"nullValue": "NOTHING"}'),
]


def test_invalid_json_is_rejected_like_json_format():
    by_type = {}
    for index, (name, text) in enumerate(INVALID):
        with pytest.raises(json_format.ParseError):
            json_format.Parse(text, message_class("trestle.test.v1." + name)(), descriptor_pool=POOL)
        by_type.setdefault(name, []).append(index)
    accepted = []
    for name, indexes in by_type.items():
        for index, result in zip(indexes, transcode([INVALID[i][1] for i in indexes], "--from", "json",
                                                      message="trestle.test.v1." + name)):
            if not result.startswith("ERROR invalid JSON at byte "):
                accepted.append(f"{name} {INVALID[index][1]!r} -> {result}")
    assert not accepted, "accepted what json_format rejects:\n" + "\n".join(accepted)


def test_invalid_binary_is_rejected():
    """Truncated and malformed wire bytes (which protobuf's parser rejects too)."""
    cases = ["0a05", "08", "0b", "0c", "00", "0e", "12020a", "b20305", "0a0380", "ff"]
    for case in cases:
        with pytest.raises(Exception):
            message_class(TOP).FromString(bytes.fromhex(case))
    results = transcode(cases, "--from", "binary")
    assert all(r.startswith("ERROR invalid protobuf message") for r in results), list(zip(cases, results))

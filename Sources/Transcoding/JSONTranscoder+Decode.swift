/// Protobuf → JSON: one translation, reading the wire bytes in place and writing JSON text.
///
/// Each message is read in two steps. A scan walks its fields once, checking the wire format and
/// noting for every known field how often it occurs, the first and the last occurrence. Then the
/// fields are written in declaration order: a scalar from its last occurrence (last one wins), a
/// repeated field by walking its occurrences from the first (packed and unpacked alike), a message
/// field from all its occurrences at once (they merge, as protobuf parses their concatenation), a
/// oneof from whichever member came last. Per-field notes live on one stack (`scans`) shared by
/// the nesting levels, so a translation allocates scratch space once, not per message.
struct ProtoToJSON {
    let registry: DescriptorRegistry
    let options: JSONOutputOptions
    /// The start of the whole input (error offsets are from here).
    let base: UnsafePointer<UInt8>
    let input: UnsafeRawBufferPointer
    var out: JSONOutput
    var scans: FieldScanStack
    var mapEntries: [MapEntry] = []
    /// Messages entered (the top-level one is 1).
    var depth = 0

    /// A scalar as read from the wire: the bits of a varint or fixed value, or the bytes of a
    /// length-delimited one.
    struct Raw {
        var bits: UInt64 = 0
        var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// One entry of a map being written: its key, where its value occurred, and the entry's bytes.
    struct MapEntry {
        var key: Raw
        var value: FieldScan
        var bytes: UnsafeRawBufferPointer
        var superseded = false
    }

    /// Reads `input`, writing into `text` and keeping notes in `scans` (both lent by the caller,
    /// typically on its stack; more is allocated if they fill up).
    init(input: UnsafeRawBufferPointer, registry: DescriptorRegistry, options: JSONOutputOptions,
         text: UnsafeMutableBufferPointer<UInt8>, scans: UnsafeMutableBufferPointer<FieldScan>) {
        self.input = input
        self.registry = registry
        self.options = options
        base = input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 0x10)!
        out = JSONOutput(buffer: text)
        self.scans = FieldScanStack(buffer: scans)
    }

    /// A translation with scratch space on the stack: `body` runs on a fresh translator, and
    /// what it wrote is appended to `result` (nothing is, on error).
    static func translate(_ input: UnsafeRawBufferPointer, _ registry: DescriptorRegistry, _ options: JSONOutputOptions,
                          into result: inout [UInt8],
                          _ body: (inout ProtoToJSON) throws(CodecFailure) -> Void) throws(TranscodeError) {
        // (The standard library keeps temporary allocations of up to 1 KiB on the stack.)
        let failure = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { text in
            withUnsafeTemporaryAllocation(of: FieldScan.self, capacity: 1024 / MemoryLayout<FieldScan>.stride) { scans -> CodecFailure? in
                var translator = ProtoToJSON(input: input, registry: registry, options: options, text: text, scans: scans)
                defer {
                    translator.out.free()
                    translator.scans.free()
                }
                do throws(CodecFailure) {
                    try body(&translator)
                } catch {
                    return error
                }
                result.appendRaw(UnsafeRawBufferPointer(start: translator.out.base, count: translator.out.count))
                return nil
            }
        }
        if let failure { throw failure.transcodeError }
    }

    // MARK: Documents

    mutating func emitDocument(_ type: MessageDescriptor) throws(CodecFailure) {
        try emitMessage(type, Segments(input))
    }

    mutating func emitFieldDocument(_ type: MessageDescriptor, _ field: FieldDescriptor) throws(CodecFailure) {
        depth = 1
        let segments = Segments(input)
        let index = type.fieldIndex(number: field.number)
        guard index >= 0, type.fields[index] === field else {
            throw .wire(0, .unsupported("field \(field.name) is not a field of \(type.fullName)"))
        }
        let scanBase = try scan(type, segments)
        defer { scans.pop(type.fields.count) }
        let info = scans[scanBase + index]
        var cutoff: FieldScan?
        var present = info.count > 0
        if present, let oneof = field.oneofIndex {
            if case .current(let c) = oneofState(type, scanBase, index, oneof) { cutoff = c } else { present = false }
        }
        if present && !field.isRepeated && field.kind != .message && !field.hasPresence {
            present = !Self.isZero(field.kind, read(info, segments)) && field.enumType?.isNullValue != true
        }
        do throws(CodecFailure) {
            if present {
                try emitValue(field, info, segments, cutoff: cutoff)
            } else if field.isMap {
                out.append("{}")
            } else if field.isRepeated {
                out.append("[]")
            } else if field.kind == .message || field.kind == .group {
                out.append("null")
            } else {
                emitDefault(field)
            }
        } catch {
            throw error.inside(name(of: field))
        }
    }

    // MARK: Messages

    /// A message's JSON value: an object, or a well-known type's special form.
    mutating func emitMessage(_ type: MessageDescriptor, _ segments: Segments) throws(CodecFailure) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= JSONTranscoder.maxDepth else {
            throw .wire(segments.first.baseAddress.map { offset($0) } ?? 0, .tooDeep)
        }
        if let wellKnown = type.wellKnown, wellKnown != .empty {
            return try emitWellKnown(wellKnown, type, segments)
        }
        out.append(UInt8(ascii: "{"))
        var needsComma = false
        try emitFields(type, segments, needsComma: &needsComma)
        out.append(UInt8(ascii: "}"))
    }

    /// Notes every known field's occurrences in `segments` on the `scans` stack; returns the
    /// index of `type.fields[0]`'s note. The caller pops `type.fields.count` notes.
    @inline(__always)
    mutating func scan(_ type: MessageDescriptor, _ segments: Segments) throws(CodecFailure) -> Int {
        var present: UInt64 = 0
        return try scan(type, segments, present: &present)
    }

    /// `scan`, also setting bit `i` of `present` for each field `i` below 64 that occurs.
    mutating func scan(_ type: MessageDescriptor, _ segments: Segments, present: inout UInt64) throws(CodecFailure) -> Int {
        let infos = type.codec
        let scanBase = scans.push(infos.count)
        for s in 0..<segments.count {
            var cursor = WireCursor(segments[s], base: base)
            while !cursor.isAtEnd {
                let tag = cursor.p
                let (number, wireType) = try cursor.tag()
                let value = cursor.p
                switch wireType {  // the usual cases inline; groups and errors in `skip`
                case 0: _ = try cursor.varint()
                case 2: _ = try cursor.lengthDelimited()
                default: try cursor.skip(wireType, number: number, depth: depth)
                }
                let i = type.fieldIndex(number: number)
                // An unknown field, or a wire type the field cannot have (unknown too, as
                // protobuf treats it).
                guard i >= 0, infos[i].acceptedWireTypes & (1 << wireType) != 0 else { continue }
                let k = scanBase + i
                if scans[k].count == 0 {
                    scans[k].first = tag
                    scans[k].firstSegment = Int32(s)
                    present |= 1 &<< UInt64(i & 63)
                }
                scans[k].count += 1
                scans[k].last = tag
                scans[k].lastValue = value
                scans[k].lastSegment = Int32(s)
                scans[k].lastWireType = wireType
            }
        }
        return scanBase
    }

    /// The fields of a regular message, each after a comma when `needsComma`.
    mutating func emitFields(_ type: MessageDescriptor, _ segments: Segments, needsComma: inout Bool) throws(CodecFailure) {
        let infos = type.codec
        let fieldCount = infos.count
        var present: UInt64 = 0
        let scanBase = try scan(type, segments, present: &present)
        defer { scans.pop(fieldCount) }
        // Only the fields that occur, in declaration order, unless every field is needed.
        let everyField = options.emitDefaults || fieldCount > 64
        var next = 0
        while true {
            let i: Int
            if everyField {
                guard next < fieldCount else { break }
                i = next
                next += 1
            } else {
                guard present != 0 else { break }
                i = present.trailingZeroBitCount
                present &= present &- 1
            }
            let info = scans[scanBase + i]
            if info.count == 0 && !options.emitDefaults { continue }
            let c = infos[i]
            if c.isPlainScalar && info.count > 0 {
                // The fast path: no descriptor to touch.
                let raw = read(info, segments)
                if !c.hasPresence && Self.isZero(c.kind, raw) {
                    if options.emitDefaults {
                        writeKey(infos, i, &needsComma)
                        emitDefault(c.kind, nil)
                    }
                    continue
                }
                writeKey(infos, i, &needsComma)
                do throws(CodecFailure) {
                    try emitScalar(c.kind, nil, raw)
                } catch {
                    throw error.inside(name(of: c.field.takeUnretainedValue()))
                }
                continue
            }
            if c.isPlainMessage && info.count == 1, let messageType = c.messageType {
                // The fast path for a message field: its type without counting references.
                writeKey(infos, i, &needsComma)
                let payload = Segments(read(info, segments).bytes)
                let failure = messageType._withUnsafeGuaranteedRef { type -> CodecFailure? in
                    do throws(CodecFailure) {
                        try emitMessage(type, payload)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let failure { throw failure.inside(name(of: c.field.takeUnretainedValue())) }
                continue
            }
            let field = c.field.takeUnretainedValue()
            if info.count == 0 {
                if !field.hasPresence {
                    writeKey(infos, i, &needsComma)
                    if field.isMap { out.append("{}") } else if field.isRepeated { out.append("[]") } else { emitDefault(field) }
                }
                continue
            }
            var cutoff: FieldScan?
            if let oneof = field.oneofIndex {
                guard case .current(let latestOther) = oneofState(type, scanBase, i, oneof) else { continue }
                cutoff = latestOther
            }
            do throws(CodecFailure) {
                if !field.isRepeated && field.kind != .message && field.kind != .group && !field.hasPresence {
                    // Implicit presence: a default value on the wire is the same as none.
                    let raw = read(info, segments)
                    if Self.isZero(field.kind, raw) || field.enumType?.isNullValue == true {
                        // (A NullValue field's only JSON form, null, reads back as unset; so
                        // whatever number it holds, it is left out like its default.)
                        if options.emitDefaults {
                            writeKey(infos, i, &needsComma)
                            emitDefault(field)
                        }
                        continue
                    }
                    writeKey(infos, i, &needsComma)
                    try emitScalar(field, raw)
                } else if field.isRepeated && !field.isMap {
                    let mark = out.count
                    let hadComma = needsComma
                    writeKey(infos, i, &needsComma)
                    if try emitRepeated(field, info, segments) == 0 && !options.emitDefaults {
                        // Only empty packed runs: no element, so the field is unset.
                        out.count = mark
                        needsComma = hadComma
                    }
                } else {
                    writeKey(infos, i, &needsComma)
                    try emitValue(field, info, segments, cutoff: cutoff)
                }
            } catch {
                throw error.inside(name(of: field))
            }
        }
    }

    /// `,` when needed, then field `i`'s `"name":`.
    @inline(__always)
    private mutating func writeKey(_ table: CodecTable, _ i: Int, _ needsComma: inout Bool) {
        if needsComma { out.append(UInt8(ascii: ",")) }
        needsComma = true
        out.append(table.key(i, protoNames: options.useProtoNames))
    }

    func name(of field: FieldDescriptor) -> String { options.useProtoNames ? field.name : field.jsonName }

    enum OneofState {
        /// Another member of the oneof came later and cleared this one.
        case cleared
        /// This member is the oneof's value; its occurrences before `cutoff` (the latest of any
        /// other member, nil when none) were cleared and do not count.
        case current(cutoff: FieldScan?)
    }

    /// Whether the oneof member `index`, which occurs, is its oneof's value.
    func oneofState(_ type: MessageDescriptor, _ scanBase: Int, _ index: Int, _ oneof: Int) -> OneofState {
        let mine = scans[scanBase + index]
        var cutoff: FieldScan?
        for j in 0..<type.fields.count where j != index && type.fields[j].oneofIndex == oneof {
            let other = scans[scanBase + j]
            guard other.count > 0 else { continue }
            if other.isLater(than: mine) { return .cleared }
            if cutoff == nil || other.isLater(than: cutoff!) { cutoff = other }
        }
        return .current(cutoff: cutoff)
    }

    /// The value of a field that occurs (its key is written).
    mutating func emitValue(_ field: FieldDescriptor, _ info: FieldScan, _ segments: Segments,
                            cutoff: FieldScan?) throws(CodecFailure) {
        if field.isMap {
            try emitMap(field, info, segments)
        } else if field.isRepeated {
            try emitRepeated(field, info, segments)
        } else if field.kind == .message {
            try emitMerged(field, info, segments, cutoff: cutoff)
        } else if field.kind == .group {
            throw .wire(offset(info.last!), .unsupported("group fields are not supported"))
        } else {
            try emitScalar(field, read(info, segments))
        }
    }

    /// A non-repeated message field: all its occurrences (after `cutoff`) merged.
    mutating func emitMerged(_ field: FieldDescriptor, _ info: FieldScan, _ segments: Segments,
                             cutoff: FieldScan?) throws(CodecFailure) {
        guard let found = field.messageType else {
            throw .wire(offset(info.last!), .unsupported("message field without its type"))
        }
        unowned(unsafe) let type = found
        if info.count == 1 {
            return try emitMessage(type, Segments(read(info, segments).bytes))
        }
        var parts: [UnsafeRawBufferPointer] = []
        var walk = OccurrenceWalk(info, number: field.number, wireType: 2, acceptsPacked: false, segments: segments, base: base)
        while let occurrence = try walk.next() {
            if let cutoff {
                let later = occurrence.segment != Int(cutoff.lastSegment)
                    ? occurrence.segment > Int(cutoff.lastSegment) : occurrence.tag > cutoff.last!
                if !later { continue }
            }
            var cursor = WireCursor(segments[occurrence.segment], base: base)
            cursor.p = occurrence.value
            parts.append(try cursor.lengthDelimited())
        }
        try emitMessage(type, Segments(parts))
    }

    /// The last occurrence's value (already checked by the scan).
    func read(_ info: FieldScan, _ segments: Segments) -> Raw {
        var cursor = WireCursor(segments[Int(info.lastSegment)], base: base)
        cursor.p = info.lastValue!
        var raw = Raw()
        // The scan read this value successfully, so none of these can fail.
        switch info.lastWireType {
        case 0: raw.bits = (try? cursor.varint()) ?? 0
        case 1: raw.bits = (try? cursor.fixed64()) ?? 0
        case 5: raw.bits = UInt64((try? cursor.fixed32()) ?? 0)
        default: raw.bytes = (try? cursor.lengthDelimited()) ?? UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return raw
    }

    func offset(_ p: UnsafeRawPointer) -> Int { UnsafeRawPointer(base).distance(to: p) }

    func offset(_ p: UnsafePointer<UInt8>?) -> Int { p.map { base.distance(to: $0) } ?? 0 }

    // MARK: Repeated fields and maps

    /// A repeated field as an array; returns the number of elements.
    @discardableResult
    mutating func emitRepeated(_ field: FieldDescriptor, _ info: FieldScan, _ segments: Segments) throws(CodecFailure) -> Int {
        let kind = field.kind
        out.append(UInt8(ascii: "["))
        var walk = OccurrenceWalk(info, number: field.number, wireType: kind.wireType.rawValue,
                                  acceptsPacked: kind.isPackable, segments: segments, base: base)
        var index = 0
        while let occurrence = try walk.next() {
            var cursor = WireCursor(segments[occurrence.segment], base: base)
            cursor.p = occurrence.value
            var packed = WireCursor(Segments.empty.first, base: base)
            let fixed = kind.wireType == .fixed32 ? 4 : kind.wireType == .fixed64 ? 8 : 0
            if occurrence.wireType == 2 && kind.isPackable {
                let payload = try cursor.lengthDelimited()
                if fixed > 0 && payload.count % fixed != 0 {
                    throw .wire(offset(occurrence.value), .wire("packed \(kindName(kind)) values of \(payload.count) bytes"))
                }
                packed = WireCursor(payload, base: base)
            }
            do throws(CodecFailure) {
                if kind == .message {
                    guard let type = field.messageType else { throw CodecFailure.wire(offset(occurrence.tag), .unsupported("message field without its type")) }
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    try emitMessage(type, Segments(try cursor.lengthDelimited()))
                    index += 1
                } else if occurrence.wireType == 2 && kind.isPackable {
                    while !packed.isAtEnd {
                        var raw = Raw()
                        switch fixed {
                        case 4: raw.bits = UInt64(try packed.fixed32())
                        case 8: raw.bits = try packed.fixed64()
                        default: raw.bits = try packed.varint()
                        }
                        if index > 0 { out.append(UInt8(ascii: ",")) }
                        try emitScalar(field, raw)
                        index += 1
                    }
                } else {
                    var raw = Raw()
                    switch occurrence.wireType {
                    case 0: raw.bits = try cursor.varint()
                    case 1: raw.bits = try cursor.fixed64()
                    case 5: raw.bits = UInt64(try cursor.fixed32())
                    default: raw.bytes = try cursor.lengthDelimited()
                    }
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    try emitScalar(field, raw)
                    index += 1
                }
            } catch {
                throw error.inside("[\(index)]")
            }
        }
        out.append(UInt8(ascii: "]"))
        return index
    }

    /// A map field as an object. Entries are written in wire order; of entries with the same key
    /// only the last is written (it replaces the others, as in protobuf's parsers).
    mutating func emitMap(_ field: FieldDescriptor, _ info: FieldScan, _ segments: Segments) throws(CodecFailure) {
        guard let entryType = field.messageType else {
            throw .wire(info.last.map { offset($0) } ?? 0, .unsupported("map field without its entry type"))
        }
        let keyIndex = entryType.fieldIndex(number: 1)
        let valueIndex = entryType.fieldIndex(number: 2)
        guard keyIndex >= 0, valueIndex >= 0 else {
            throw .wire(info.last.map { offset($0) } ?? 0, .unsupported("map entry without key or value"))
        }
        let keyField = entryType.fields[keyIndex]
        let valueField = entryType.fields[valueIndex]
        let entryBase = mapEntries.count
        defer { mapEntries.removeSubrange(entryBase...) }
        if info.count > 0 {
            var walk = OccurrenceWalk(info, number: field.number, wireType: 2, acceptsPacked: false, segments: segments, base: base)
            while let occurrence = try walk.next() {
                var cursor = WireCursor(segments[occurrence.segment], base: base)
                cursor.p = occurrence.value
                let bytes = try cursor.lengthDelimited()
                let entrySegments = Segments(bytes)
                depth += 1
                let scanBase = try scan(entryType, entrySegments)
                depth -= 1
                let keyScan = scans[scanBase + keyIndex]
                let valueScan = scans[scanBase + valueIndex]
                scans.pop(entryType.fields.count)
                var key = keyScan.count > 0 ? read(keyScan, entrySegments) : Raw()
                key.bits = Self.canonicalKey(keyField.kind, key.bits)
                mapEntries.append(MapEntry(key: key, value: valueScan, bytes: bytes))
            }
        }
        markSuperseded(from: entryBase, strings: keyField.kind == .string)
        out.append(UInt8(ascii: "{"))
        var needsComma = false
        for e in entryBase..<mapEntries.count {
            let entry = mapEntries[e]
            if entry.superseded { continue }
            if needsComma { out.append(UInt8(ascii: ",")) }
            needsComma = true
            try emitMapKey(keyField.kind, entry.key)
            out.append(UInt8(ascii: ":"))
            do throws(CodecFailure) {
                let entrySegments = Segments(entry.bytes)
                if entry.value.count == 0 {
                    if let type = valueField.messageType, valueField.kind == .message {
                        try emitMessage(type, .empty)
                    } else {
                        emitDefault(valueField)
                    }
                } else if valueField.kind == .message {
                    try emitMerged(valueField, entry.value, entrySegments, cutoff: nil)
                } else {
                    try emitScalar(valueField, read(entry.value, entrySegments))
                }
            } catch {
                throw error.inside("[\"" + keyText(keyField.kind, entry.key) + "\"]")
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Integer and bool keys by value (as their kind reads them), so that equal keys compare equal.
    static func canonicalKey(_ kind: FieldKind, _ bits: UInt64) -> UInt64 {
        switch kind {
        case .bool: bits != 0 ? 1 : 0
        case .int32, .uint32, .sint32, .fixed32, .sfixed32, .enumeration: bits & 0xFFFF_FFFF
        default: bits
        }
    }

    /// Marks every entry whose key occurs again later. Pairwise for small maps; a table above 32.
    private mutating func markSuperseded(from entryBase: Int, strings: Bool) {
        let n = mapEntries.count - entryBase
        if n < 2 { return }
        func same(_ a: Raw, _ b: Raw) -> Bool {
            strings ? a.bytes.elementsEqual(b.bytes) : a.bits == b.bits
        }
        if n <= 32 {
            for i in entryBase..<(mapEntries.count - 1) {
                let key = mapEntries[i].key
                for j in (i + 1)..<mapEntries.count where same(key, mapEntries[j].key) {
                    mapEntries[i].superseded = true
                    break
                }
            }
            return
        }
        var lastIndex: [MapKey: Int] = [:]
        for i in entryBase..<mapEntries.count { lastIndex[MapKey(raw: mapEntries[i].key, isString: strings)] = i }
        for i in entryBase..<mapEntries.count where lastIndex[MapKey(raw: mapEntries[i].key, isString: strings)] != i {
            mapEntries[i].superseded = true
        }
    }

    /// A map key by value, for the table of large maps.
    private struct MapKey: Hashable {
        let raw: Raw
        let isString: Bool

        static func == (a: MapKey, b: MapKey) -> Bool {
            a.isString ? a.raw.bytes.elementsEqual(b.raw.bytes) : a.raw.bits == b.raw.bits
        }

        func hash(into hasher: inout Hasher) {
            if isString { hasher.combine(bytes: raw.bytes) } else { hasher.combine(raw.bits) }
        }
    }

    /// A map key as a JSON string: the text, `"true"`, or the number in quotes.
    private mutating func emitMapKey(_ kind: FieldKind, _ key: Raw) throws(CodecFailure) {
        switch kind {
        case .string:
            if let bad = out.appendString(key.bytes) {
                throw .wire(offset(key.bytes.baseAddress! + bad), .wire("invalid UTF-8 in map key"))
            }
        case .bool:
            out.append(key.bits != 0 ? "\"true\"" : "\"false\"")
        default:
            out.append(UInt8(ascii: "\""))
            appendInteger(kind, key.bits)
            out.append(UInt8(ascii: "\""))
        }
    }

    /// A key for error messages.
    private func keyText(_ kind: FieldKind, _ key: Raw) -> String {
        switch kind {
        case .string: return printable(key.bytes)
        case .bool: return key.bits != 0 ? "true" : "false"
        default:
            var text = JSONOutput(capacity: 24)
            defer { text.free() }
            Self.appendInteger(kind, key.bits, to: &text)
            return String(decoding: text.bytes, as: UTF8.self)
        }
    }

    // MARK: Scalars

    /// Whether a scalar holds its kind's default (what implicit presence leaves out).
    static func isZero(_ kind: FieldKind, _ raw: Raw) -> Bool {
        switch kind {
        case .string, .bytes: raw.bytes.count == 0
        case .int32, .uint32, .sint32, .fixed32, .sfixed32, .enumeration, .float: raw.bits & 0xFFFF_FFFF == 0
        default: raw.bits == 0
        }
    }

    /// An integer of `kind` from its wire bits, unquoted.
    @inline(__always)
    private mutating func appendInteger(_ kind: FieldKind, _ bits: UInt64) { Self.appendInteger(kind, bits, to: &out) }

    static func appendInteger(_ kind: FieldKind, _ bits: UInt64, to out: inout JSONOutput) {
        switch kind {
        case .int32, .enumeration: out.appendDecimal(Int64(Int32(truncatingIfNeeded: bits)))
        case .sint32:
            let u = UInt32(truncatingIfNeeded: bits)
            out.appendDecimal(Int64(Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))))
        case .sfixed32: out.appendDecimal(Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: bits))))
        case .uint32, .fixed32: out.appendDecimal(bits & 0xFFFF_FFFF)
        case .int64, .sfixed64: out.appendDecimal(Int64(bitPattern: bits))
        case .sint64: out.appendDecimal(Int64(bitPattern: (bits >> 1) ^ (0 &- (bits & 1))))
        default: out.appendDecimal(bits)  // uint64, fixed64
        }
    }

    /// A scalar value of `field`'s kind.
    @inline(__always)
    mutating func emitScalar(_ field: FieldDescriptor, _ raw: Raw) throws(CodecFailure) {
        try emitScalar(field.kind, field.kind == .enumeration ? field.enumType : nil, raw)
    }

    /// A scalar value of `kind` (`enumType`: an enum's type, for its names).
    mutating func emitScalar(_ kind: FieldKind, _ enumType: EnumDescriptor?, _ raw: Raw) throws(CodecFailure) {
        switch kind {
        case .int32, .sint32, .sfixed32, .uint32, .fixed32:
            appendInteger(kind, raw.bits)
        case .int64, .sint64, .sfixed64, .uint64, .fixed64:
            out.append(UInt8(ascii: "\""))
            appendInteger(kind, raw.bits)
            out.append(UInt8(ascii: "\""))
        case .bool:
            out.append(raw.bits != 0 ? "true" : "false")
        case .float, .double:
            out.appendFloatingPoint(bits: raw.bits, isFloat: kind == .float)
        case .enumeration:
            emitEnum(enumType, Int32(truncatingIfNeeded: raw.bits))
        case .string:
            if let bad = out.appendString(raw.bytes) {
                throw .wire(offset(raw.bytes.baseAddress! + bad), .wire("invalid UTF-8"))
            }
        case .bytes:
            out.appendBase64String(raw.bytes)
        case .message, .group:
            throw .wire(0, .unsupported("not a scalar field"))
        }
    }

    /// An enum value: its name (the first declared for the number), or the number when
    /// `enumsAsNumbers` or when the enum does not declare it; `null` for `NullValue`.
    private mutating func emitEnum(_ type: EnumDescriptor?, _ number: Int32) {
        if options.enumsAsNumbers {
            out.appendDecimal(Int64(number))
        } else if let type, type.isNullValue {
            out.append("null")
        } else if let name = type?.quotedName(of: number) {
            out.append(name)
        } else {
            out.appendDecimal(Int64(number))
        }
    }

    /// The default value of a non-message field, as written with `emitDefaults`.
    @inline(__always)
    mutating func emitDefault(_ field: FieldDescriptor) {
        emitDefault(field.kind, field.kind == .enumeration ? field.enumType : nil)
    }

    mutating func emitDefault(_ kind: FieldKind, _ enumType: EnumDescriptor?) {
        switch kind {
        case .int64, .sint64, .sfixed64, .uint64, .fixed64: out.append("\"0\"")
        case .bool: out.append("false")
        case .string, .bytes: out.append("\"\"")
        case .enumeration: emitEnum(enumType, 0)
        case .float, .double: out.appendFloatingPoint(bits: 0, isFloat: kind == .float)  // 0.0, as a 0 read would print
        case .message, .group: out.append("null")
        default: out.append(UInt8(ascii: "0"))
        }
    }
}

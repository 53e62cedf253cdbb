/// Base64 (RFC 4648, standard alphabet; the URL-safe digits are accepted too) decoded as it
/// arrives, for gRPC-Web text bodies (PROTOCOL-WEB.md): the text may be cut anywhere between two
/// reads, and may be several padded runs one after another (a client or proxy that encodes each
/// message, or each chunk, on its own). A quartet is decoded once its four characters are in;
/// padding ends a quartet, and the next character starts a new one. Nothing but the at most three
/// characters of an unfinished quartet is kept between calls.
public struct Base64StreamDecoder: Sendable {
    private var accumulated: UInt32 = 0
    /// Digits of the current quartet (0...3) and `=` after them.
    private var digits = 0
    private var padding = 0
    /// Characters consumed so far (for the offset of an error).
    public private(set) var offset = 0

    public init() {}

    /// No quartet is half read: the text so far is complete base64.
    public var isAtBoundary: Bool { digits == 0 && padding == 0 }

    /// Decodes `input`, appending the bytes of every completed quartet to `output`. On a character
    /// that cannot be there, returns its offset in the whole text (and decodes nothing more).
    public mutating func decode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Base64Error? {
        output.reserveCapacity(output.count + (input.count / 4 + 1) * 3)
        return Base64.decodeTable.withUnsafeBufferPointer { table -> Base64Error? in
            for i in 0 ..< input.count {
                let c = input[i]
                if c == UInt8(ascii: "=") {
                    // `=` only after two or three digits, and only up to the quartet's end.
                    guard digits >= 2, digits + padding < 4 else { return Base64Error(offset: offset + i) }
                    padding += 1
                    if digits + padding == 4 { emitPadded(into: &output) }
                    continue
                }
                let d = table[Int(c)]
                guard d != 0xFF, padding == 0 else { return Base64Error(offset: offset + i) }
                accumulated = accumulated << 6 | UInt32(d)
                digits += 1
                if digits == 4 {
                    output.append(UInt8(truncatingIfNeeded: accumulated >> 16))
                    output.append(UInt8(truncatingIfNeeded: accumulated >> 8))
                    output.append(UInt8(truncatingIfNeeded: accumulated))
                    accumulated = 0
                    digits = 0
                }
            }
            offset += input.count
            return nil
        }
    }

    /// A quartet ended by padding: two digits give one byte, three give two.
    private mutating func emitPadded(into output: inout [UInt8]) {
        if digits == 2 {
            output.append(UInt8(truncatingIfNeeded: accumulated >> 4))
        } else {
            output.append(UInt8(truncatingIfNeeded: accumulated >> 10))
            output.append(UInt8(truncatingIfNeeded: accumulated >> 2))
        }
        accumulated = 0
        digits = 0
        padding = 0
    }

    /// The text is over: an unfinished quartet is an error (at its first character). Unpadded
    /// trailing digits are accepted as RFC 4648 §3.2 allows (two or three digits).
    public mutating func finish(into output: inout [UInt8]) -> Base64Error? {
        if padding > 0 || digits == 1 { return Base64Error(offset: offset - digits - padding) }
        if digits >= 2 { emitPadded(into: &output) }
        return nil
    }
}

/// Base64 (standard alphabet, padded) encoded as bytes arrive: whole groups of three are encoded
/// at once, up to two bytes wait for the next call, and `flush` pads them, so that a writer can
/// end a padded run wherever a reader must be able to decode everything so far (the end of a
/// gRPC message, the end of the body).
public struct Base64StreamEncoder: Sendable {
    private var carry0: UInt8 = 0
    private var carry1: UInt8 = 0
    private var carried = 0

    public init() {}

    /// Bytes waiting for a third (0...2).
    public var pending: Int { carried }

    /// Appends the encoding of the complete groups of `input` (after what was carried).
    public mutating func encode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        var start = 0
        if carried > 0 {
            // Fill the carried group first.
            var group: (UInt8, UInt8, UInt8) = (carry0, carry1, 0)
            while carried < 3 && start < input.count {
                if carried == 1 { group.1 = input[start] } else { group.2 = input[start] }
                carried += 1
                start += 1
            }
            if carried < 3 {
                carry1 = group.1
                return
            }
            withUnsafeBytes(of: group) { Base64.encode($0, into: &output) }
            carried = 0
        }
        let whole = (input.count - start) / 3 * 3
        if whole > 0 { Base64.encode(UnsafeRawBufferPointer(rebasing: input[start ..< start + whole]), into: &output) }
        let rest = input.count - start - whole
        if rest > 0 { carry0 = input[start + whole] }
        if rest > 1 { carry1 = input[start + whole + 1] }
        carried = rest
    }

    /// Appends the carried bytes, padded: everything given so far is then complete base64.
    public mutating func flush(into output: inout [UInt8]) {
        guard carried > 0 else { return }
        let group: (UInt8, UInt8) = (carry0, carry1)
        withUnsafeBytes(of: group) { Base64.encode(UnsafeRawBufferPointer(rebasing: $0[0 ..< carried]), into: &output) }
        carried = 0
    }
}

/// Base64 (RFC 4648) as the proto3 JSON mapping uses it for `bytes`: output in the standard
/// alphabet with padding; input in the standard or the URL-safe alphabet, padding optional.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0–63 for a digit of either alphabet, 0xFF otherwise.
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// Appends the standard, padded encoding of `input` to `output`.
    public static func encode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + (input.count + 2) / 3 * 4)
        alphabet.withUnsafeBufferPointer { table in
            var i = 0
            let n = input.count
            while i + 3 <= n {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                output.append(table[Int(v >> 18 & 63)])
                output.append(table[Int(v >> 12 & 63)])
                output.append(table[Int(v >> 6 & 63)])
                output.append(table[Int(v & 63)])
                i += 3
            }
            if n - i == 1 {
                let v = UInt32(input[i]) << 16
                output.append(table[Int(v >> 18 & 63)])
                output.append(table[Int(v >> 12 & 63)])
                output.append(UInt8(ascii: "="))
                output.append(UInt8(ascii: "="))
            } else if n - i == 2 {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                output.append(table[Int(v >> 18 & 63)])
                output.append(table[Int(v >> 12 & 63)])
                output.append(table[Int(v >> 6 & 63)])
                output.append(UInt8(ascii: "="))
            }
        }
    }

    /// Decodes `input` (either alphabet, padding optional but, if present, correct) and appends the
    /// bytes to `output`. Returns the offset in `input` of the first bad character on failure.
    public static func decode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Result<Void, Base64Error> {
        var end = input.count
        if end > 0 && input[end - 1] == UInt8(ascii: "=") {
            end -= 1
            if end > 0 && input[end - 1] == UInt8(ascii: "=") { end -= 1 }
            // Padding only completes a final group of 4.
            guard input.count % 4 == 0 else { return .failure(Base64Error(offset: end)) }
        }
        if end % 4 == 1 { return .failure(Base64Error(offset: end - 1)) }
        output.reserveCapacity(output.count + end / 4 * 3 + 2)
        return decodeTable.withUnsafeBufferPointer { table -> Result<Void, Base64Error> in
            var acc: UInt32 = 0
            var bits = 0
            for i in 0..<end {
                let d = table[Int(input[i])]
                if d == 0xFF { return .failure(Base64Error(offset: i)) }
                acc = acc << 6 | UInt32(d)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    output.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                }
            }
            return .success(())
        }
    }
}

/// A base64 text that could not be decoded; `offset` is where the bad character or length was.
public struct Base64Error: Error, Sendable, Equatable {
    public let offset: Int
}

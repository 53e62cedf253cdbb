#if canImport(Glibc)
import Glibc
#endif

/// Byte helpers for ASCII protocol text, shared by the pure parsers of this module.
///
/// The one set for every module that may import Channel (Transcoding, LoadGen, DemoService,
/// Gateway). HTTP1 keeps the few it needs beside its grammar in `HTTP1Syntax`: a transport codec
/// imports Channel only for vocabulary, and byte casing is not vocabulary.
public enum ASCII {
    /// Lower-cases one ASCII letter; every other byte is returned unchanged.
    @inlinable @inline(__always)
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// True when `bytes` equals `lowercaseName` ignoring ASCII case. `lowercaseName` must be
    /// lower case already.
    @inlinable
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercaseName: [UInt8]) -> Bool {
        guard bytes.count == lowercaseName.count else { return false }
        return hasPrefixIgnoringCase(bytes, lowercaseName)
    }

    /// True when `bytes` starts with `lowercasePrefix` ignoring ASCII case.
    @inlinable
    public static func hasPrefixIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercasePrefix: [UInt8]) -> Bool {
        guard bytes.count >= lowercasePrefix.count else { return false }
        for index in 0..<lowercasePrefix.count where lowercased(bytes[index]) != lowercasePrefix[index] {
            return false
        }
        return true
    }

    /// True when `bytes` ends with `lowercaseSuffix` ignoring ASCII case.
    static func hasSuffixIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercaseSuffix: [UInt8]) -> Bool {
        guard bytes.count >= lowercaseSuffix.count else { return false }
        let start = bytes.count - lowercaseSuffix.count
        for index in 0..<lowercaseSuffix.count where lowercased(bytes[start + index]) != lowercaseSuffix[index] {
            return false
        }
        return true
    }

    /// True when `bytes` equals `lowercaseName` ignoring ASCII case. `lowercaseName` must be
    /// lower case already.
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercaseName: StaticString) -> Bool {
        guard bytes.count == lowercaseName.utf8CodeUnitCount else { return false }
        let name = lowercaseName.utf8Start
        for index in 0..<bytes.count where lowercased(bytes[index]) != name[index] {
            return false
        }
        return true
    }

    /// The value of a hexadecimal digit, either case, or nil.
    @inline(__always)
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// `bytes` as a decimal number: 1 to 18 ASCII digits (so that it fits an Int), no sign, no
    /// space; nil for anything else.
    public static func decimalValue(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard (1...18).contains(bytes.count) else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte &- UInt8(ascii: "0"))
        }
        return value
    }

    /// Calls `body` with the UTF-8 bytes of `text`, without copying when the string is native.
    @inline(__always)
    static func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var text = text
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes of a static string (ASCII protocol text), without copying.
    @inlinable
    public init(staticString s: StaticString) {
        self.init(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }

    /// Exact byte equality with an ASCII literal, without generic iteration (per-header hot path).
    @inlinable @inline(__always)
    public func equals(_ s: StaticString) -> Bool {
        count == s.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, s.utf8Start, count) == 0)
    }

    /// Whether the bytes start with an ASCII literal (exact case).
    @inlinable @inline(__always)
    public func hasPrefix(_ s: StaticString) -> Bool {
        count >= s.utf8CodeUnitCount && memcmp(baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0
    }
}

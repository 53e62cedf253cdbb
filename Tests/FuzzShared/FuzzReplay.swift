// Shared by every fuzz target and its replay test (this file is symlinked into
// Tests/{ChannelTests,RouteConfigTests,HTTP1Tests} and Fuzz/Sources/Fuzz*): how broken
// properties are collected and shown, and, for `swift test`, where the kept inputs are.

/// The broken properties of one input, in words; empty when every property held.
struct FuzzFailures {
    private(set) var messages: [String] = []

    mutating func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { messages.append(message()) }
    }

    mutating func fail(_ message: String) {
        messages.append(message)
    }
}

/// `bytes` as a Swift string literal body: printable ASCII as is, everything else escaped.
func fuzzShow(_ bytes: some Sequence<UInt8>) -> String {
    var out = "\""
    for byte in bytes {
        switch byte {
        case UInt8(ascii: "\""): out += "\\\""
        case UInt8(ascii: "\\"): out += "\\\\"
        case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            out += "\\x" + (byte < 0x10 ? "0" : "") + hex
        }
    }
    return out + "\""
}

#if !FUZZING
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kept inputs of the fuzz targets, for the replay tests.
enum FuzzReplay {
    /// Each crasher runs in a child process (an exit test), so that one which still crashes its
    /// parser fails its test instead of ending the whole test run. The child writes the broken
    /// properties to its standard error (the exit test's result has no other channel back).
    static let brokenMarker = "fuzz property broken: "

    /// Fuzz/<kind>/<target>/ of this package (kind: "crashers" or "corpus"), from this file's
    /// path, which is Tests/<folder>/<file> whichever test target compiles it.
    static func folder(_ kind: String, _ target: String, filePath: String = #filePath) -> String {
        var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/Fuzz/\(kind)/\(target)"
    }

    /// The names and bytes of the files in Fuzz/<kind>/<target>/ (not dot files), by name; none
    /// when the folder does not exist.
    static func files(_ kind: String, _ target: String) -> [(name: String, bytes: [UInt8])] {
        let folder = folder(kind, target)
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted().compactMap { name in
            guard let file = fopen(folder + "/" + name, "rb") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count == 0 { break }
                bytes += chunk[0..<count]
            }
            return (name, bytes)
        }
    }

    /// In an exit test's child: reports each broken property on standard error.
    static func report(_ failures: [String]) {
        for failure in failures {
            var line = brokenMarker + failure + "\n"
            line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }
}
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Yams

/// Reads a routes file into a `GatewayConfig`, or every error in it.
///
/// Reads the routes file and the descriptor sets it names (compiled into the config's
/// `DescriptorRegistry`, so `trestle check` validates them too); no host name is resolved here.
/// Safe to call from any thread (a reload parses off the workers' loops, then hands the
/// immutable result over).
public enum ConfigLoader: Sendable {
    /// Reads and parses the file at `path`. A file that cannot be read gives one diagnostic at
    /// 1:1 saying why (`cannot read the file: No such file or directory`).
    public static func load(path: String) throws(ConfigErrors) -> GatewayConfig {
        let text: String
        switch readFile(path) {
        case .failure(let reason):
            throw ConfigErrors(diagnostics: [
                ConfigDiagnostic(file: path, line: 1, column: 1, message: "cannot read the file: \(reason.text)")
            ])
        case .success(let bytes):
            guard let decoded = String(validatingUTF8Bytes: bytes) else {
                throw ConfigErrors(diagnostics: [
                    ConfigDiagnostic(file: path, line: 1, column: 1, message: "the file is not valid UTF-8 text")
                ])
            }
            text = decoded
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses `yaml`; `file` names it in diagnostics and is the base of relative descriptor
    /// paths. Throws every error found, sorted by line and column.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> GatewayConfig {
        var parser = ConfigParser(file: file)
        if let tooDeep = nestingProblem(yaml, file: file) {
            throw ConfigErrors(diagnostics: [tooDeep])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigErrors(diagnostics: [syntaxDiagnostic(error, yaml: yaml, file: file)])
        }
        let config = parser.parseDocument(root)
        guard let config, parser.diagnostics.isEmpty else {
            let sorted = parser.diagnostics.enumerated().sorted { a, b in
                (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
            }
            throw ConfigErrors(diagnostics: sorted.map(\.element))
        }
        return config
    }

    /// The YAML composer recurses once per nesting level: a hostile file of thousands of nested
    /// `[` (a fuzzer found 16000) would overflow the stack. Routes files are a few levels deep,
    /// so flow nesting past `maxNesting` or indentation past `maxIndent` is refused up front.
    static let maxNesting = 64
    static let maxIndent = 512

    static func nestingProblem(_ yaml: String, file: String) -> ConfigDiagnostic? {
        var depth = 0, line = 1, column = 0, indent = 0, atLineStart = true
        var quote: UInt8? = nil
        for byte in yaml.utf8 {
            column += 1
            if byte == UInt8(ascii: "\n") {
                line += 1; column = 0; indent = 0; atLineStart = true
                continue
            }
            if atLineStart {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") {
                    indent += 1
                    if indent > maxIndent {
                        return ConfigDiagnostic(file: file, line: line, column: column,
                                                message: "nesting too deep: indented past column \(maxIndent)")
                    }
                    continue
                }
                atLineStart = false
            }
            if let q = quote {
                if byte == q { quote = nil }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = byte
            case UInt8(ascii: "#"): atLineStart = false; quote = UInt8(ascii: "\n")  // comment to end of line
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxNesting {
                    return ConfigDiagnostic(file: file, line: line, column: column,
                                            message: "nesting too deep: more than \(maxNesting) levels of [ or {")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        return nil
    }

    /// A YAML syntax error as a diagnostic at libyaml's problem mark:
    /// `invalid YAML: while scanning a simple key, could not find expected ':'`.
    static func syntaxDiagnostic(_ error: any Error, yaml: String, file: String) -> ConfigDiagnostic {
        func diagnostic(_ mark: Mark, _ context: YamlError.Context?, _ problem: String) -> ConfigDiagnostic {
            var what = context.map { "\($0.text), \(problem)" } ?? problem
            if context?.text == "while scanning an alias" {
                // The likely cause in a routes file: `service: *` for the catch-all route.
                what += " (a bare * starts a YAML alias: write \"*\" in quotes)"
            }
            return ConfigDiagnostic(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(what)")
        }
        guard let error = error as? YamlError else {
            return ConfigDiagnostic(file: file, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return diagnostic(mark, context, problem)
        case .reader(let problem, let offset, _, _):
            let (line, column) = offset.map { position(ofCharacter: $0, in: yaml) } ?? (1, 1)
            return ConfigDiagnostic(file: file, line: line, column: column, message: "invalid YAML: \(problem)")
        default:
            return ConfigDiagnostic(file: file, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
    }

    /// 1-based line and column (in Unicode scalars) of the `offset`-th Character of `text`.
    private static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }

    /// Why a file could not be read (`strerror`'s text).
    public struct ReadError: Error, Sendable {
        public var text: String
    }

    /// The bytes of the file at `path` (also used by `serve --watch` to see what changed).
    public static func readFile(_ path: String) -> Result<[UInt8], ReadError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadError(text: String(cString: strerror(errno)))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadError(text: String(cString: strerror(errno))))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }
}

extension String {
    /// The string of `bytes` when they are valid UTF-8, else nil.
    fileprivate init?(validatingUTF8Bytes bytes: [UInt8]) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
